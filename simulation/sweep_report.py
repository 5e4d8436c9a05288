"""What a sweep tells QA: each figure against each parameter, mean and 95 % band across seeds."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ephoto.assets import asset
from simulation.sweep import Estimate, Sweep, group_estimates

# Every figure of the table, with its label: each is drawn against each parameter.
FIGURE_LABELS = {
    "codes_issued": "ePhoto numbers issued",
    "share_active_within_72h": "share active within 72 h",
    "activation_mean_hours": "mean activation (h)",
    "activation_p50_hours": "median activation (h)",
    "activation_p95_hours": "95th percentile of activation (h)",
    "activation_p99_hours": "99th percentile of activation (h)",
    "activation_max_hours": "longest activation (h)",
    "registry_wait_mean_hours": "mean wait in the registry's queue (h)",
    "backlog_max": "largest registry backlog (codes)",
    "reports": "problem reports to support",
    "refunds": "refunds",
}
# The figures of the summary table (terminal and report).
REPORT_FIGURES = {
    name: FIGURE_LABELS[name]
    for name in (
        "share_active_within_72h",
        "activation_p50_hours",
        "activation_p95_hours",
        "registry_wait_mean_hours",
        "backlog_max",
        "refunds",
    )
}


@dataclass(frozen=True)
class SweepReport:
    html: Path
    plots: list[Path]


def format_estimate(value: Estimate, figure: str) -> str:
    """``mean ± half-width`` (just the mean with one seed)."""
    share = figure.startswith("share")
    scale, digits, unit = (
        (100.0, 1, " %") if share else (1.0, 2 if abs(value.mean) < 100 else 0, "")
    )
    mean = f"{value.mean * scale:,.{digits}f}"
    if math.isnan(value.half_width):
        return f"{mean}{unit}"
    return f"{mean} ± {value.half_width * scale:,.{digits}f}{unit}"


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text).strip("-")


def _plot(sweep: Sweep, rows: list[dict[str, Any]], parameter: str, figure: str, path: Path):  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    others = [p for p in sweep.parameters if p != parameter]
    groups = group_estimates(rows, sweep.parameters, [figure])
    lines: dict[str, list[tuple[Any, Estimate]]] = {}
    for params, estimates in groups:
        label = ", ".join(f"{p} = {params[p]}" for p in others) or "all runs"
        lines.setdefault(label, []).append((params[parameter], estimates[figure]))
    values = sorted({params[parameter] for params, _ in groups}, key=json.dumps)
    numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    for label, points in lines.items():
        points.sort(key=lambda item: item[0] if numeric else values.index(item[0]))
        x = np.array([p if numeric else values.index(p) for p, _ in points], dtype=float)
        mean = np.array([e.mean for _, e in points])
        half = np.array([0.0 if math.isnan(e.half_width) else e.half_width for _, e in points])
        (line,) = ax.plot(x, mean, marker="o", lw=1.8, label=label)
        ax.fill_between(x, mean - half, mean + half, color=line.get_color(), alpha=0.2)
    if not numeric:
        ax.set_xticks(range(len(values)), [str(v) for v in values])
    ax.set_xlabel(parameter)
    ax.set_ylabel(FIGURE_LABELS[figure])
    ax.set_title(f"{FIGURE_LABELS[figure]} against {parameter}")
    ax.grid(alpha=0.3)
    if len(lines) > 1:
        ax.legend(fontsize=8)
    fig.subplots_adjust(left=0.13, right=0.97, bottom=0.14, top=0.9)
    fig.savefig(path)
    plt.close(fig)


def write_sweep_report(sweep: Sweep, rows: list[dict[str, Any]], out: Path) -> SweepReport:
    """``report.html`` and its plots in ``out``: each figure against each parameter, the mean
    across seeds with its 95 % confidence band, and the table of every combination."""
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    plots_dir = out / "plots"
    plots_dir.mkdir(parents=True, exist_ok=True)
    sections = []
    paths = []
    for parameter in sweep.parameters:
        figures = []
        for figure in FIGURE_LABELS:
            path = plots_dir / f"{_slug(figure)}-by-{_slug(parameter)}.png"
            _plot(sweep, rows, parameter, figure, path)
            paths.append(path)
            figures.append({"label": FIGURE_LABELS[figure], "src": f"plots/{path.name}"})
        sections.append({"parameter": parameter, "figures": figures})
    groups = [
        {
            "params": params,
            "seeds": next(iter(estimates.values())).seeds,
            "cells": [format_estimate(estimates[f], f) for f in REPORT_FIGURES],
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
        figure_labels=list(REPORT_FIGURES.values()),
        groups=groups,
        sections=sections,
    )
    html_path = out / "report.html"
    html_path.write_text(html, encoding="utf-8")
    return SweepReport(html_path, paths)
