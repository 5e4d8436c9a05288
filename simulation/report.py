"""What a fleet run tells QA: ``metrics.json``, three PNG plots and ``report.html``."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ephoto.assets import asset
from ephoto.clock import PARIS
from simulation.figures import PROMISE_HOURS, delay_figures
from simulation.fleet import FleetRun

PLOTS = {
    "activation_cdf": "activation-cdf.png",
    "backlog": "backlog.png",
    "share_by_day": "share-within-72h-by-day.png",
}


def metrics(run: FleetRun) -> dict[str, Any]:
    """The figures of a run, every key of the issue's list and a few more. The delay figures
    come from the run when it worked them out while simulating (``simulate(...,
    figures=True)``), else are worked out here, two selections at a time."""
    scenario = run.scenario
    if run.delay_figures is not None:
        delays = run.delay_figures.result()
    else:
        delays = delay_figures(
            scenario.run.start,
            scenario.run.days,
            run.activation_hours,
            run.registry_wait_hours,
            run.stage_hours() if run.uploaded_hours is not None else None,
            run.day,
            threads=2,
        )
    return {
        "scenario": scenario.name,
        "seed": scenario.run.seed,
        "codes_issued": int(run.issued_hours.size),
        "other_sales": run.other_sales,
        "wrong_product_sales": run.wrong_product_sales,
        "activation_hours": delays["activation_hours"],
        "share_active_within_72h": delays["share_active_within_72h"],
        "registry_wait_hours_mean": delays["registry_wait_hours_mean"],
        "registry_wait_hours": delays["registry_wait_hours"],
        "activation_by_stage": delays["activation_by_stage"],
        "backlog_max": run.backlog_max,
        "registry_pending_mean": round(run.extras.get("pending_time_average", 0.0), 2),
        "by_month": delays["by_month"],
        "citizen_attempts": run.attempts,
        "reports": run.reports,
        "claims": run.claims,
        "claim_reasons": run.claim_reasons,
        "wall_seconds": round(run.wall_seconds, 3),
    }


@dataclass(frozen=True)
class ReportFiles:
    metrics: Path
    plots: dict[str, Path]
    html: Path


class ReportLibraries:
    """Jinja2 and, for a run that plots, matplotlib, imported on a thread as soon as a run
    knows it will write its report.

    Their imports are mostly Python work (matplotlib's about 0.4 s, Jinja2's 0.04 s); the
    simulation's numpy work releases the interpreter for most of its time, so the imports and
    the run share the machine's cores."""

    def __init__(self, plots: bool = True) -> None:
        self._plots = plots
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._load, name="import-report-libs", daemon=True)
        self._thread.start()

    def _load(self) -> None:
        try:
            import jinja2  # noqa: F401

            if self._plots:
                _import_pyplot()
        except BaseException as exc:  # re-raised in the caller's thread by pyplot()
            self._error = exc

    def pyplot(self):  # type: ignore[no-untyped-def]
        self._thread.join()
        if self._error is not None:
            raise self._error
        return _import_pyplot()


def _import_pyplot():  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


# Fixed margins (figure fractions) instead of tight_layout, which draws each figure twice.
_MARGINS = {"left": 0.09, "right": 0.98, "bottom": 0.12, "top": 0.92}
# zlib's fastest level: a third of the encoding time for plots of a few flat colours.
_PNG = {"compress_level": 1}


def _plots(run: FleetRun, out: Path, library: ReportLibraries | None = None) -> dict[str, Path]:
    plt = (library or ReportLibraries()).pyplot()

    paths = {key: out / name for key, name in PLOTS.items()}
    activation = run.activation_hours
    hours, cumulative = _cumulative_share(activation)
    longest = float(activation.max()) if activation.size else 0.0

    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
    ax.plot(hours, cumulative, color="#1f5fa8", lw=2)
    ax.axvline(PROMISE_HOURS, color="#c0392b", ls="--", lw=1.5, label="72 h promise")
    share = float((activation <= PROMISE_HOURS).mean()) if activation.size else 1.0
    ax.axhline(share, color="#c0392b", lw=0.8, alpha=0.5)
    ax.annotate(
        f"{share:.1%} active within 72 h",
        (PROMISE_HOURS, share),
        xytext=(8, -16),
        textcoords="offset points",
        color="#c0392b",
    )
    ax.set_xlabel("hours from purchase to activation")
    ax.set_ylabel("share of codes active")
    ax.set_title("Activation delay (cumulative)")
    ax.set_ylim(0, 1.01)
    # The lognormal base delay has a long tail; stop at the 99.9th percentile so the body shows.
    shown = float(hours[np.searchsorted(cumulative, 0.999)]) if activation.size else 0.0
    ax.set_xlim(0, max(shown * 1.05, PROMISE_HOURS * 1.3))
    if activation.size and shown < longest:
        ax.set_xlabel(f"hours from purchase to activation (longest {longest:.0f} h, off the chart)")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.subplots_adjust(**_MARGINS)
    fig.savefig(paths["activation_cdf"], pil_kwargs=_PNG)
    plt.close(fig)

    origin = run.scenario.origin
    days = run.backlog_times / 24.0
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
    ax.plot(days, run.backlog, color="#6b3fa0", lw=1)
    ax.fill_between(days, run.backlog, color="#6b3fa0", alpha=0.15)
    ax.set_xlabel(f"days since {origin.astimezone(PARIS):%d/%m/%Y}")
    ax.set_ylabel("codes waiting in the registry's queue")
    ax.set_title(f"Registry backlog (max {run.backlog_max:,})")
    ax.grid(alpha=0.3)
    fig.subplots_adjust(**_MARGINS)
    fig.savefig(paths["backlog"], pil_kwargs=_PNG)
    plt.close(fig)

    n_days = run.scenario.run.days
    sold = np.bincount(run.day, minlength=n_days)
    on_time = np.bincount(run.day, weights=activation <= PROMISE_HOURS, minlength=n_days)
    share_by_day = np.divide(on_time, sold, out=np.full(n_days, np.nan), where=sold > 0)
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
    ax.plot(np.arange(n_days), share_by_day, color="#1e8449", lw=1.5, marker=".", ms=3)
    ax.set_xlabel(f"day of purchase since {origin.astimezone(PARIS):%d/%m/%Y}")
    ax.set_ylabel("share active within 72 h")
    ax.set_title("Codes active within 72 h, by day of purchase")
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    fig.subplots_adjust(**_MARGINS)
    fig.savefig(paths["share_by_day"], pil_kwargs=_PNG)
    plt.close(fig)
    return paths


def _cumulative_share(hours: np.ndarray, points: int = 4000) -> tuple[np.ndarray, np.ndarray]:
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


def write_report(
    run: FleetRun, out: Path, plots: bool = True, library: ReportLibraries | None = None
) -> ReportFiles:
    """Write metrics, plots (unless ``plots`` is false) and the HTML report of ``run`` into
    ``out`` (created if needed); ``library``: the libraries being imported already."""
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    out.mkdir(parents=True, exist_ok=True)
    figures = metrics(run)
    metrics_path = out / "metrics.json"
    metrics_path.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    plot_paths = _plots(run, out, library) if plots else {}
    env = Environment(
        loader=FileSystemLoader(asset("templates", "simulation")),
        autoescape=select_autoescape(["html", "j2"]),
    )
    html = env.get_template("report.html.j2").render(
        scenario=run.scenario,
        scenario_json=json.dumps(run.scenario.model_dump(mode="json"), indent=2),
        m=figures,
        plots={key: path.name for key, path in plot_paths.items()},
        promise_hours=PROMISE_HOURS,
    )
    html_path = out / "report.html"
    html_path.write_text(html, encoding="utf-8")
    return ReportFiles(metrics_path, plot_paths, html_path)
