"""What ``cabine sweep`` prints when it is done: the summary table in the terminal's width, the
same as JSON, and the sweep's run record (``record.json``) kept beside its results."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.cells import cell_len
from rich.console import Group
from rich.table import Table

from ephoto import __version__
from ephoto.texts import Texts
from simulation.run_record import read_record, run_record, write_record
from simulation.sweep import Estimate, Sweep
from simulation.sweep_report import REPORT_FIGURES, format_estimate

Groups = Sequence[tuple[dict[str, Any], dict[str, Estimate]]]


def record_sweep(sweep: Sweep, out: Path, command_line: str) -> dict[str, Any]:
    """Write ``record.json`` in ``out``: the base scenario resolved, what varies, the seeds,
    and every command line that has added rows to this table (a sweep can be resumed)."""
    values: dict[str, list[Any]] = {name: [] for name in sweep.parameters}
    for run in sweep.runs:
        for name, value in run.params.items():
            if value not in values[name]:
                values[name].append(value)
    record = run_record(sweep.base, sweep.seeds, command_line, values)
    previous = read_record(out) or {}
    invocations = list(previous.get("invocations", []))
    invocations.append({"cabine_version": __version__, "command_line": command_line})
    record["invocations"] = invocations
    out.mkdir(parents=True, exist_ok=True)
    write_record(record, out)
    return record


def _number(value: float) -> float | None:
    return None if math.isnan(value) else value


def summary_json(
    sweep: Sweep, groups: Groups, table: Path, report: Path, failed: dict[str, str]
) -> dict[str, Any]:
    """The summary as a program reads it: each combination's mean and 95 % half-width of every
    figure across seeds (``null`` half-width with one seed)."""
    return {
        "name": sweep.name,
        "scenario": sweep.base.name,
        "parameters": sweep.parameters,
        "seeds": sweep.seeds,
        "combinations": [
            {
                "parameters": params,
                "seeds": next(iter(estimates.values())).seeds,
                "figures": {
                    name: {"mean": _number(e.mean), "half_width": _number(e.half_width)}
                    for name, e in estimates.items()
                },
            }
            for params, estimates in groups
        ],
        "failed": failed,
        "files": {"table": str(table), "report": str(report)},
    }


def _table_width(columns: Sequence[int]) -> int:
    # A box table: one border before each column and one at the end, one space each side.
    return 1 + sum(width + 3 for width in columns)


def summary_table(sweep: Sweep, groups: Groups, words: Texts, lang: str, width: int = 80) -> Group:
    """One column per combination of parameters, one row per parameter and figure, as many
    combinations side by side as ``width`` holds and the rest in the tables below: no value
    or parameter name is ever cut or split over lines."""
    labels = [
        *sweep.parameters,
        words("sweep.seeds"),
        *(words(f"figure.{f}") for f in REPORT_FIGURES),
    ]
    columns: list[list[str]] = []
    for params, estimates in groups:
        cells = [str(params[p]) for p in sweep.parameters]
        cells.append(str(next(iter(estimates.values())).seeds))
        cells += [format_estimate(estimates[f], f, lang) for f in REPORT_FIGURES]
        columns.append(cells)
    label_width = max(cell_len(label) for label in labels)
    blocks: list[list[int]] = []
    for index, cells in enumerate(columns):
        cell_width = max(cell_len(cell) for cell in cells)
        widths = (
            [label_width, *(max(cell_len(c) for c in columns[i]) for i in blocks[-1])]
            if blocks
            else []
        )
        if blocks and _table_width([*widths, cell_width]) <= width:
            blocks[-1].append(index)
        else:
            blocks.append([index])
    tables = []
    for number, block in enumerate(blocks):
        title = words("sweep.title", name=sweep.name) if number == 0 else None
        table = Table(title=title, show_header=False)
        table.add_column(no_wrap=True)
        for _ in block:
            table.add_column(justify="right", no_wrap=True)
        for row, label in enumerate(labels):
            table.add_row(label, *(columns[i][row] for i in block))
            if row == len(sweep.parameters) - 1 or row == len(sweep.parameters):
                table.add_section()
        tables.append(table)
    return Group(*tables)
