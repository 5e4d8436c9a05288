"""The report's three plots: what they show, worked out from a run's arrays, and their drawing,
in this process or in a process of its own.

A plot needs only a few thousand values (the delay distribution on a grid, the backlog hour by
hour, the share on time day by day), all known once the registry has answered. ``cabine
simulate`` starts a :class:`PlotProcess` before the run: a second Python process that imports
matplotlib (about 0.45 s of mostly Python work) on the machine's other core, receives the
values as soon as the registry stage is done and draws while the run simulates the citizens
and the support desk. ``python -m simulation.plots`` is that process: it reads the output
folder and the :class:`PlotData` its parent pickles on its standard input, draws there and
prints the files it wrote as JSON.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import IO, Any

import numpy as np

from ephoto.texts import DEFAULT_LANGUAGE, format_number, texts
from simulation.figures import PROMISE_HOURS

PLOTS = {
    "activation_cdf": "activation-cdf.png",
    "backlog": "backlog.png",
    "share_by_day": "share-within-72h-by-day.png",
}

# Fixed margins (figure fractions) instead of tight_layout, which draws each figure twice.
_MARGINS = {"left": 0.09, "right": 0.98, "bottom": 0.12, "top": 0.92}
# zlib's fastest level: a third of the encoding time for plots of a few flat colours.
_PNG = {"compress_level": 1}


@dataclass(frozen=True)
class PlotData:
    """Everything the three plots show, a few thousand values."""

    cdf_hours: np.ndarray
    cdf_share: np.ndarray
    codes: int
    share_within: float
    longest: float
    first_day: date
    backlog_days: np.ndarray
    backlog: np.ndarray
    backlog_max: int
    share_by_day: np.ndarray
    # The plots' words in the report's language (``simulation.*.toml``, [plot]), and that
    # language for the numbers in them.
    labels: dict[str, str]
    lang: str


def cumulative_share(hours: np.ndarray, points: int = 4000) -> tuple[np.ndarray, np.ndarray]:
    """The share of ``hours`` at or below each point of a grid from 0 to the largest value:
    the exact empirical distribution at the grid's points, by counting rather than sorting
    millions of values."""
    if hours.size == 0:
        return np.zeros(1), np.zeros(1)
    top = max(float(hours.max()), 1e-9)
    step = top / points
    # A value in (k - 1, k] steps is counted at grid point k.
    index = np.clip(np.ceil(hours / step), 0, points).astype(np.int64)
    counts = np.bincount(index, minlength=points + 1)
    return np.arange(points + 1) * step, np.cumsum(counts) / hours.size


def plot_data(
    first_day: date,
    days: int,
    activation: np.ndarray,
    day: np.ndarray,
    backlog_times: np.ndarray,
    backlog: np.ndarray,
    backlog_max: int,
    lang: str = DEFAULT_LANGUAGE,
) -> PlotData:
    """The plots' values from a run's arrays (``activation``: hours from purchase to
    activation, ``day``: day of purchase, per code), with their words in ``lang``."""
    hours, share = cumulative_share(activation)
    on_time = activation <= PROMISE_HOURS
    sold = np.bincount(day, minlength=days)
    in_time = np.bincount(day, weights=on_time, minlength=days)
    return PlotData(
        cdf_hours=hours,
        cdf_share=share,
        codes=int(activation.size),
        share_within=float(on_time.mean()) if activation.size else 1.0,
        longest=float(activation.max()) if activation.size else 0.0,
        first_day=first_day,
        backlog_days=backlog_times / 24.0,
        backlog=np.asarray(backlog),
        backlog_max=int(backlog_max),
        share_by_day=np.divide(in_time, sold, out=np.full(days, np.nan), where=sold > 0),
        labels={
            key.removeprefix("plot."): value
            for key, value in texts("simulation", lang).entries.items()
            if key.startswith("plot.")
        },
        lang=lang,
    )


def import_pyplot():  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def draw(plt: Any, data: PlotData, out: Path) -> dict[str, Path]:
    """Draw the three PNGs into ``out``; their paths by key of :data:`PLOTS`."""
    paths = {key: out / name for key, name in PLOTS.items()}
    hours, cumulative = data.cdf_hours, data.cdf_share
    since = f"{data.first_day:%d/%m/%Y}"
    words = data.labels
    share = format_number(100 * data.share_within, 1, data.lang) + "\u00a0%"

    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
    ax.plot(hours, cumulative, color="#1f5fa8", lw=2)
    ax.axvline(PROMISE_HOURS, color="#c0392b", ls="--", lw=1.5, label=words["promise"])
    ax.axhline(data.share_within, color="#c0392b", lw=0.8, alpha=0.5)
    ax.annotate(
        words["within"].format(share=share),
        (PROMISE_HOURS, data.share_within),
        xytext=(8, -16),
        textcoords="offset points",
        color="#c0392b",
    )
    ax.set_xlabel(words["cdf_x"])
    ax.set_ylabel(words["cdf_y"])
    ax.set_title(words["cdf_title"])
    ax.set_ylim(0, 1.01)
    # The lognormal base delay has a long tail; stop at the 99.9th percentile so the body shows.
    shown = float(hours[np.searchsorted(cumulative, 0.999)]) if data.codes else 0.0
    ax.set_xlim(0, max(shown * 1.05, PROMISE_HOURS * 1.3))
    if data.codes and shown < data.longest:
        ax.set_xlabel(
            words["cdf_x_longest"].format(hours=format_number(data.longest, 0, data.lang))
        )
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.subplots_adjust(**_MARGINS)
    fig.savefig(paths["activation_cdf"], pil_kwargs=_PNG)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
    ax.plot(data.backlog_days, data.backlog, color="#6b3fa0", lw=1)
    ax.fill_between(data.backlog_days, data.backlog, color="#6b3fa0", alpha=0.15)
    ax.set_xlabel(words["backlog_x"].format(start=since))
    ax.set_ylabel(words["backlog_y"])
    ax.set_title(words["backlog_title"].format(max=format_number(data.backlog_max, 0, data.lang)))
    ax.grid(alpha=0.3)
    fig.subplots_adjust(**_MARGINS)
    fig.savefig(paths["backlog"], pil_kwargs=_PNG)
    plt.close(fig)

    days = data.share_by_day.size
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
    ax.plot(np.arange(days), data.share_by_day, color="#1e8449", lw=1.5, marker=".", ms=3)
    ax.set_xlabel(words["by_day_x"].format(start=since))
    ax.set_ylabel(words["by_day_y"])
    ax.set_title(words["by_day_title"])
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    fig.subplots_adjust(**_MARGINS)
    fig.savefig(paths["share_by_day"], pil_kwargs=_PNG)
    plt.close(fig)
    return paths


class PlotError(RuntimeError):
    """The plotting process failed; the message carries what it wrote on its error output."""


class PlotProcess:
    """``python -m simulation.plots``, started at once so that matplotlib's import runs on
    another core; :meth:`send` hands it the output folder and the values (on a thread: the
    pipe is read only once the import is done), :meth:`finish` waits for the files. Use as a
    context manager: a run that fails stops the process."""

    def __init__(self, timeout_seconds: float = 300.0) -> None:
        self.timeout_seconds = timeout_seconds
        self._errors: IO[bytes] = tempfile.TemporaryFile()
        # The process imports this package from where this process found it.
        root = str(Path(__file__).resolve().parent.parent)
        path = os.environ.get("PYTHONPATH")
        self._process = subprocess.Popen(
            [sys.executable, "-m", "simulation.plots"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._errors,
            env={**os.environ, "PYTHONPATH": root + (os.pathsep + path if path else "")},
        )
        self._sender: threading.Thread | None = None
        self._send_error: BaseException | None = None

    def send(self, out: Path, make: Callable[[], PlotData]) -> None:
        """Work out the values with ``make`` and send them with ``out``, the folder to draw
        into, to the process, on a thread."""

        def write() -> None:
            stdin = self._process.stdin
            assert stdin is not None
            try:
                data = make()
                with stdin:
                    pickle.dump((str(out), data), stdin, protocol=pickle.HIGHEST_PROTOCOL)
            except (BrokenPipeError, OSError):
                pass  # the process died: finish() reports its exit code and error output
            except BaseException as exc:  # re-raised by finish()
                self._send_error = exc
                stdin.close()

        self._sender = threading.Thread(target=write, name="send-plot-data", daemon=True)
        self._sender.start()

    def finish(self) -> dict[str, Path]:
        """The plots' paths once the process has drawn them; :class:`PlotError` otherwise."""
        if self._sender is None:
            raise PlotError("the plotting process was never sent the run's values")
        self._sender.join(self.timeout_seconds)
        if self._send_error is not None:
            self.close()
            raise self._send_error
        # The sender wrote and closed the process's input: communicate() must not touch it.
        self._process.stdin = None
        try:
            output, _ = self._process.communicate(timeout=self.timeout_seconds)
        except subprocess.TimeoutExpired:
            self.close()
            raise PlotError(
                f"the plotting process did not finish within {self.timeout_seconds:.0f} s"
            ) from None
        if self._process.returncode != 0:
            self._errors.seek(0)
            detail = self._errors.read().decode("utf-8", "replace").strip()[-2000:]
            raise PlotError(
                f"the plotting process failed (exit {self._process.returncode}): {detail}"
            )
        return {key: Path(path) for key, path in json.loads(output).items()}

    def close(self) -> None:
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        self._errors.close()

    def __enter__(self) -> PlotProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def main() -> int:
    # Run as __main__, this module is not the one pickle finds PlotData in: use that one.
    from simulation import plots

    plt = import_pyplot()
    message = pickle.load(sys.stdin.buffer)
    if not (
        isinstance(message, tuple)
        and len(message) == 2
        and isinstance(message[0], str)
        and isinstance(message[1], plots.PlotData)
    ):
        print("stdin did not hold an output folder and a run's plot values", file=sys.stderr)
        return 2
    out = Path(message[0])
    out.mkdir(parents=True, exist_ok=True)
    paths = plots.draw(plt, message[1], out)
    print(json.dumps({key: str(path) for key, path in paths.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
