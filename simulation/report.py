"""What a fleet run tells QA: ``metrics.json``, three PNG plots and ``report.html``."""

from __future__ import annotations

import json
import threading
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ephoto.assets import asset
from ephoto.texts import DEFAULT_LANGUAGE, format_number, texts
from simulation.figures import PROMISE_HOURS, delay_figures
from simulation.fleet import FleetRun, RegistryDone
from simulation.plots import PlotData, draw, plot_data


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
            run.stage_times(),
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
    knows it will write its report, while the run's numpy work leaves the interpreter free."""

    def __init__(self, plots: bool = True) -> None:
        self._plots = plots
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._load, name="import-report-libs", daemon=True)
        self._thread.start()

    def _load(self) -> None:
        try:
            import jinja2  # noqa: F401

            if self._plots:
                import simulation.plotting  # noqa: F401
        except BaseException as exc:  # re-raised in the caller's thread by ready()
            self._error = exc

    def ready(self) -> None:
        self._thread.join()
        if self._error is not None:
            raise self._error


def run_plot_data(run: FleetRun | RegistryDone, lang: str = DEFAULT_LANGUAGE) -> PlotData:
    """The plots' values of a run, or of a run whose registry has answered, in ``lang``."""
    scenario = run.scenario
    return plot_data(
        scenario.run.start,
        scenario.run.days,
        run.activation_hours,
        run.day,
        run.backlog_times,
        run.backlog,
        run.backlog_max,
        lang,
    )


def write_report(
    run: FleetRun,
    out: Path,
    plots: bool = True,
    library: ReportLibraries | None = None,
    drawn: Future[dict[str, Path]] | None = None,
    lang: str = DEFAULT_LANGUAGE,
    record: dict[str, Any] | None = None,
) -> ReportFiles:
    """Write metrics, plots (unless ``plots`` is false) and the HTML report of ``run`` into
    ``out`` (created if needed), their words in ``lang``. ``drawn``: the plots being drawn
    already (:func:`simulation.plots.draw_on_thread`); without it they are drawn here.
    ``library``: the libraries being imported already, when given. ``record``: what was
    run (:func:`simulation.run_record.run_record`), kept in metrics.json and the report."""
    words = texts("simulation", lang)
    if library is not None:
        library.ready()
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    out.mkdir(parents=True, exist_ok=True)
    figures = metrics(run)
    if record is not None:
        figures["record"] = record
    metrics_path = out / "metrics.json"
    metrics_path.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    plot_paths: dict[str, Path] = {}
    if plots and drawn is not None:
        plot_paths = drawn.result()
    elif plots:
        plot_paths = draw(run_plot_data(run, lang), out)
    env = Environment(
        loader=FileSystemLoader(asset("templates", "simulation")),
        autoescape=select_autoescape(["html", "j2"]),
    )
    html = env.get_template("report.html.j2").render(
        scenario=run.scenario,
        scenario_json=json.dumps(run.scenario.model_dump(mode="json"), indent=2),
        m=figures,
        record=record,
        plots={key: path.name for key, path in plot_paths.items()},
        promise_hours=PROMISE_HOURS,
        lang=lang,
        t=words,
        num=lambda value, digits=0: format_number(value, digits, lang),
        capacity_months=", ".join(
            f"{month}: {format_number(value, 0, lang)}"
            for month, value in run.scenario.registry.capacity_by_month.items()
        ),
    )
    html_path = out / "report.html"
    html_path.write_text(html, encoding="utf-8")
    return ReportFiles(metrics_path, plot_paths, html_path)
