"""What a simulation's plots cost beyond the run: the plotting library, side by side with the
other one considered.

Each library in fresh processes, taking turns, ``--repeat`` times each, on the three plots of
the scenario's run (PNG files of the report's sizes, French labels):
- import: the library's import, and for vl-convert its first conversion (a tiny chart), where
  it starts its JavaScript engine;
- render: the three plots drawn and written;
- beyond the run: ``simulate`` with the library imported on a thread from the start and the
  plots drawn on a thread as soon as the registry has answered, as ``cabine simulate`` does,
  less the same run without plots (the plots' budget: 0.5 s);
each the median of its turns, wall and CPU time (the CPU time is the steadier figure on a
shared machine). matplotlib draws with ``simulation.plots.draw``, the report's own code.
vl-convert-python is not a dependency: it is measured when it is installed, on Vega-Lite specs
of the same three plots (same series, colours, labels, French number format).

(The delay figures' percentiles were measured here against numpy's until numpy's replaced them:
``simulation/figures.py`` gives the figures.)

Run: .venv/bin/python bench/report.py [SCENARIO] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

# Scripts here are named after what they measure: drop this folder from the import path so
# they do not shadow the packages of the same name.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import numpy as np  # noqa: E402

LIBRARIES = ("matplotlib", "vl-convert")


def _times() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def _since(start: tuple[float, float]) -> dict[str, float]:
    wall, cpu = _times()
    return {"wall": wall - start[0], "cpu": cpu - start[1]}


# --- vl-convert: the same three plots as Vega-Lite specs ----------------------------------


def _values(x: np.ndarray, y: np.ndarray) -> list[dict[str, float | None]]:
    return [
        {"x": a, "y": None if b != b else b}
        for a, b in zip(np.asarray(x, float).tolist(), np.asarray(y, float).tolist(), strict=True)
    ]


def _spec(
    title: str, xlabel: str, ylabel: str, layers: list[dict[str, Any]], **scales: Any
) -> dict[str, Any]:
    def scale(axis: str) -> dict[str, Any]:
        domain = scales.get(axis)
        return {"domain": list(domain), "nice": False} if domain else {"zero": False}

    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "width": 770,
        "height": 395,
        "title": title,
        "config": {"font": "DejaVu Sans"},
        "encoding": {
            "x": {"field": "x", "type": "quantitative", "title": xlabel, "scale": scale("x")},
            "y": {"field": "y", "type": "quantitative", "title": ylabel, "scale": scale("y")},
        },
        "layer": layers,
    }


def vega_specs(data: Any) -> dict[str, dict[str, Any]]:
    """The three plots of ``simulation.plots.draw`` as Vega-Lite specs, by key of PLOTS."""
    from simulation.figures import PROMISE_HOURS
    from simulation.plots import BACKLOG_COLOUR, BY_DAY_COLOUR, CDF_COLOUR, PROMISE_COLOUR

    words = data.labels
    shown = float(data.cdf_hours[np.searchsorted(data.cdf_share, 0.999)])
    rule = {"type": "rule", "color": PROMISE_COLOUR, "strokeWidth": 2.3, "strokeDash": [8, 4]}
    backlog = {"values": _values(data.backlog_days, data.backlog)}
    return {
        "activation_cdf": _spec(
            words["cdf_title"],
            words["cdf_x"],
            words["cdf_y"],
            [
                {
                    "data": {"values": _values(data.cdf_hours, data.cdf_share)},
                    "mark": {"type": "line", "color": CDF_COLOUR, "strokeWidth": 3, "clip": True},
                },
                {
                    "data": {"values": [{"x": PROMISE_HOURS}]},
                    "mark": rule,
                    "encoding": {"y": None},
                },
            ],
            x=(0.0, max(shown * 1.05, PROMISE_HOURS * 1.3)),
            y=(0.0, 1.01),
        ),
        "backlog": _spec(
            words["backlog_title"],
            words["backlog_x"],
            words["backlog_y"],
            [
                {
                    "data": backlog,
                    "mark": {"type": "area", "color": BACKLOG_COLOUR, "opacity": 0.15},
                },
                {"data": backlog, "mark": {"type": "line", "color": BACKLOG_COLOUR}},
            ],
        ),
        "share_by_day": _spec(
            words["by_day_title"],
            words["by_day_x"],
            words["by_day_y"],
            [
                {
                    "data": {
                        "values": _values(np.arange(data.share_by_day.size), data.share_by_day)
                    },
                    "mark": {
                        "type": "line",
                        "color": BY_DAY_COLOUR,
                        "strokeWidth": 2.3,
                        "point": True,
                    },
                }
            ],
            y=(-0.02, 1.02),
        ),
    }


def _vega_import() -> None:
    import vl_convert

    tiny = _spec("", "", "", [{"data": {"values": [{"x": 0, "y": 0}]}, "mark": "point"}])
    vl_convert.vegalite_to_png(tiny)


def _vega_draw(data: Any, out: Path) -> dict[str, Path]:
    import vl_convert

    from simulation.plots import PLOTS

    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for key, spec in vega_specs(data).items():
        paths[key] = out / PLOTS[key]
        paths[key].write_bytes(vl_convert.vegalite_to_png(spec, format_locale="fr-FR"))
    return paths


def _matplotlib_import() -> None:
    import simulation.plotting  # noqa: F401


def _matplotlib_draw(data: Any, out: Path) -> dict[str, Path]:
    from simulation.plots import draw

    return draw(data, out)


LIBRARY = {
    "matplotlib": (_matplotlib_import, _matplotlib_draw),
    "vl-convert": (_vega_import, _vega_draw),
}


# --- the child processes ----------------------------------------------------------------


def child_render(library: str, data_file: Path, out: Path) -> dict[str, Any]:
    """Import ``library``, then draw the three plots of the data in ``data_file``."""
    load, draw = LIBRARY[library]
    data = pickle.loads(data_file.read_bytes())
    start = _times()
    load()
    imported = _since(start)
    start = _times()
    paths = draw(data, out)
    rendered = _since(start)
    from PIL import Image

    sizes = {}
    for key, path in paths.items():
        with Image.open(path) as image:
            sizes[key] = image.size
    return {"import": imported, "render": rendered, "sizes": sizes}


def child_run(library: str, scenario_name: str, out: Path) -> dict[str, Any]:
    """``simulate`` as ``cabine simulate`` runs it, with the plots drawn by ``library`` (or
    none: library ``none``), until the plots are written."""
    from simulation.fleet import simulate
    from simulation.report import run_plot_data
    from simulation.scenario import load_scenario

    scenario = load_scenario(scenario_name)
    start = _times()
    drawn: list[threading.Thread] = []
    if library != "none":
        load, draw = LIBRARY[library]
        loader = threading.Thread(target=load)
        loader.start()

        def plot(done: Any) -> None:
            def work() -> None:
                data = run_plot_data(done)
                loader.join()
                draw(data, out)

            drawn.append(threading.Thread(target=work))
            drawn[-1].start()

        run = simulate(scenario, figures=True, on_registry=plot)
    else:
        run = simulate(scenario, figures=True)
    assert run.delay_figures is not None
    run.delay_figures.result()
    ran = _since(start)
    for thread in drawn:
        thread.join()
    return {"run": ran, "total": _since(start)}


def _child(args: list[str]) -> None:
    mode, library, where, out = args
    if mode == "render":
        result = child_render(library, Path(where), Path(out))
    else:
        result = child_run(library, where, Path(out))
    print(json.dumps(result))


def _spawn(*args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", *args], check=True, capture_output=True, text=True
    )
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return result


# --- the comparisons ----------------------------------------------------------------------


def _available(library: str) -> bool:
    module = "matplotlib" if library == "matplotlib" else "vl_convert"
    found = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True)
    return found.returncode == 0


def _median(results: list[dict[str, Any]], *keys: str) -> str:
    def pick(result: dict[str, Any]) -> dict[str, float]:
        for key in keys:
            result = result[key]
        return result

    wall = statistics.median(pick(r)["wall"] for r in results)
    cpu = statistics.median(pick(r)["cpu"] for r in results)
    return f"{wall:.3f} s wall, {cpu:.3f} s CPU"


def compare_plots(scenario_name: str, repeat: int) -> None:
    from simulation.fleet import simulate
    from simulation.report import run_plot_data
    from simulation.scenario import load_scenario

    libraries = [name for name in LIBRARIES if _available(name)]
    missing = sorted(set(LIBRARIES) - set(libraries))
    run = simulate(load_scenario(scenario_name))
    with tempfile.TemporaryDirectory() as folder:
        data_file = Path(folder) / "plots.pickle"
        data_file.write_bytes(pickle.dumps(run_plot_data(run)))
        renders: dict[str, list[dict[str, Any]]] = {name: [] for name in libraries}
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in ["none", *libraries]}
        for turn in range(repeat):
            for name in libraries:
                out = str(Path(folder) / f"{name}-{turn}")
                renders[name].append(_spawn("render", name, str(data_file), out))
            for name in runs:
                out = str(Path(folder) / f"run-{name}-{turn}")
                runs[name].append(_spawn("run", name, scenario_name, out))
    print(
        f"plots of {scenario_name} ({run.issued_hours.size:,} codes), median of {repeat}"
        f" (load average {os.getloadavg()[0]:.1f}):"
    )
    for name in libraries:
        sizes = renders[name][0]["sizes"]
        print(f"  {name}: import {_median(renders[name], 'import')};")
        print(f"    the three plots {_median(renders[name], 'render')}; sizes {sizes}")
    alone = statistics.median(r["total"]["wall"] for r in runs["none"])
    alone_cpu = statistics.median(r["total"]["cpu"] for r in runs["none"])
    print(f"  run without plots: {alone:.3f} s wall, {alone_cpu:.3f} s CPU")
    for name in libraries:
        total = statistics.median(r["total"]["wall"] for r in runs[name])
        cpu = statistics.median(r["total"]["cpu"] for r in runs[name])
        print(
            f"  run with {name}'s plots: {total:.3f} s wall ({total - alone:+.3f} s beyond the"
            f" run, goal <= 0.5 s), {cpu:.3f} s CPU ({cpu - alone_cpu:+.3f} s)"
        )
    if missing:
        print(f"  not installed, not measured: {', '.join(missing)}")


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        _child(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", nargs="?", default="national-summer")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    compare_plots(args.scenario, args.repeat)


if __name__ == "__main__":
    main()
