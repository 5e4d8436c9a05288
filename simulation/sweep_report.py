"""What a sweep tells QA: each figure against each parameter, mean and 95 % band across seeds."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ephoto.assets import asset
from ephoto.texts import DEFAULT_LANGUAGE, Texts, format_number, texts
from simulation.sweep import FIGURES, Estimate, Sweep, group_estimates

# Every figure of the table (``simulation.sweep.FIGURES``) is drawn against each parameter;
# their labels are in assets/text/sweep.*.toml ([figure_long] in the report, [figure] in the
# summary tables).
# The figures of the summary table (terminal and report).
REPORT_FIGURES = (
    "share_active_within_72h",
    "activation_p50_hours",
    "activation_p95_hours",
    "registry_wait_mean_hours",
    "backlog_max",
    "refunds",
)


@dataclass(frozen=True)
class SweepReport:
    html: Path
    plots: list[Path]


def format_estimate(value: Estimate, figure: str, lang: str = DEFAULT_LANGUAGE) -> str:
    """``mean ± half-width`` (just the mean with one seed), written as ``lang`` writes numbers."""
    share = figure.startswith("share")
    scale, digits, unit = (
        (100.0, 1, " %") if share else (1.0, 2 if abs(value.mean) < 100 else 0, "")
    )
    mean = format_number(value.mean * scale, digits, lang)
    if math.isnan(value.half_width):
        return f"{mean}{unit}"
    return f"{mean} ± {format_number(value.half_width * scale, digits, lang)}{unit}"


def parameter_label(name: str, words: Texts) -> str:
    """A scenario key as the report names it in its language (``[parameter]`` of
    assets/text/sweep.*.toml); an entry of a table key is the table's name and the entry
    (``demand.season.09``); a key without words stays as it is written."""
    if f"parameter.{name}" in words.keys():
        return words(f"parameter.{name}")
    table, _, entry = name.rpartition(".")
    if f"parameter.{table}" in words.keys():
        return f"{words(f'parameter.{table}')} {entry}"
    return name


# Each line of a chart has its own marker and dash, and the lines drawn later are thinner
# with hollow markers: where two lines coincide (a parameter without effect on a figure),
# the thick one shows around the thin one on top of it.
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
DASHES = ("-", "--", "-.", ":")


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text).strip("-")


# One colour per line (matplotlib's ten, which readers of plots know).
COLOURS = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)


def _plot(
    sweep: Sweep,
    rows: list[dict[str, Any]],
    parameter: str,
    figure: str,
    path: Path,
    words: Texts,
    lang: str,
) -> None:
    from simulation.plotting import line_axes, save_png

    others = [p for p in sweep.parameters if p != parameter]
    groups = group_estimates(rows, sweep.parameters, [figure])
    lines: dict[str, list[tuple[Any, Estimate]]] = {}
    for params, estimates in groups:
        label = ", ".join(f"{parameter_label(p, words)} = {params[p]}" for p in others)
        label = label or words("report.all_runs")
        lines.setdefault(label, []).append((params[parameter], estimates[figure]))
    values = sorted({params[parameter] for params, _ in groups}, key=json.dumps)
    numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
    label = words(f"figure_long.{figure}")
    name = parameter_label(parameter, words)
    axes = line_axes(
        words("report.plot_title", figure=label, parameter=name),
        name,
        label,
        lang,
        size=(700, 400),
    )
    if not numeric:
        axes.set_xticks(range(len(values)), [str(v) for v in values])
    for index, (series, points) in enumerate(lines.items()):
        points.sort(key=lambda item: item[0] if numeric else values.index(item[0]))
        x = np.array([p if numeric else values.index(p) for p, _ in points], dtype=float)
        mean = np.array([e.mean for _, e in points])
        half = np.array([0.0 if math.isnan(e.half_width) else e.half_width for _, e in points])
        colour = COLOURS[index % len(COLOURS)]
        axes.fill_between(x, mean - half, mean + half, color=colour, alpha=0.2, linewidth=0)
        axes.plot(
            x,
            mean,
            color=colour,
            linewidth=max(1.2, 4.0 - 1.2 * index),
            linestyle=DASHES[index % len(DASHES)],
            marker=MARKERS[index % len(MARKERS)],
            markersize=max(5.0, 11.0 - 2.0 * index),
            markerfacecolor=colour if index == 0 else "none",
            markeredgewidth=2,
            zorder=3 + index,
            label=series if len(lines) > 1 else None,
        )
    if len(lines) > 1:
        axes.legend(loc="best")
    save_png(axes, path)


def write_sweep_report(
    sweep: Sweep,
    rows: list[dict[str, Any]],
    out: Path,
    lang: str = DEFAULT_LANGUAGE,
    record: dict[str, Any] | None = None,
) -> SweepReport:
    """``report.html`` and its plots in ``out``: each figure against each parameter, the mean
    across seeds with its 95 % confidence band, and the table of every combination; their
    words in ``lang``. ``record``: what was run (:mod:`simulation.run_record`), shown at the
    end."""
    from simulation.run_record import MIN_SEEDS

    words = texts("sweep", lang)
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    plots_dir = out / "plots"
    plots_dir.mkdir(parents=True, exist_ok=True)
    sections = []
    paths = []
    for parameter in sweep.parameters:
        figures = []
        for figure in FIGURES:
            path = plots_dir / f"{_slug(figure)}-by-{_slug(parameter)}.png"
            _plot(sweep, rows, parameter, figure, path, words, lang)
            paths.append(path)
            figures.append({"label": words(f"figure_long.{figure}"), "src": f"plots/{path.name}"})
        sections.append(
            {
                "parameter": parameter,
                "label": parameter_label(parameter, words),
                "figures": figures,
            }
        )
    groups = [
        {
            "params": params,
            "seeds": next(iter(estimates.values())).seeds,
            "cells": [format_estimate(estimates[f], f, lang) for f in REPORT_FIGURES],
        }
        for params, estimates in group_estimates(rows, sweep.parameters)
    ]
    env = Environment(
        loader=FileSystemLoader(asset("templates", "sweep")),
        autoescape=select_autoescape(["html", "j2"]),
    )
    html = env.get_template("report.html.j2").render(
        sweep=sweep,
        runs=len(rows),
        figure_labels=[words(f"figure_long.{f}") for f in REPORT_FIGURES],
        parameter_labels={p: parameter_label(p, words) for p in sweep.parameters},
        groups=groups,
        sections=sections,
        lang=lang,
        t=words,
        num=lambda value, digits=0: format_number(value, digits, lang),
        record=record,
        record_scenario=json.dumps(record["scenario"], indent=2) if record else "",
        min_seeds=MIN_SEEDS,
    )
    html_path = out / "report.html"
    html_path.write_text(html, encoding="utf-8")
    return SweepReport(html_path, paths)
