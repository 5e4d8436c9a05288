"""``cabine simulate --list``: the bundled scenarios, what each one sets up, in a table or JSON."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.table import Table

from ephoto.texts import Texts, format_number
from simulation.scenario import SCENARIO_DIR, bundled_scenarios, load_scenario


def bundled_rows() -> list[dict[str, Any]]:
    rows = []
    for path in bundled_scenarios():
        scenario = load_scenario(path)
        rows.append(
            {
                "name": path.stem,
                "file": str(path.relative_to(SCENARIO_DIR.parent.parent)),
                "booths": scenario.fleet.booths,
                "days": scenario.run.days,
                "start": scenario.run.start.isoformat(),
                "seed": scenario.run.seed,
                "description": scenario.description,
            }
        )
    return rows


def print_bundled(console: Console, words: Texts, lang: str, json_out: bool) -> None:
    rows = bundled_rows()
    if json_out:
        console.file.write(json.dumps(rows, ensure_ascii=False, indent=2) + "\n")
        return
    table = Table(title=words("list.title"))
    table.add_column(words("list.name"), no_wrap=True)
    table.add_column(words("list.booths"), justify="right", no_wrap=True)
    table.add_column(words("list.days"), justify="right", no_wrap=True)
    table.add_column(words("list.start"), no_wrap=True)
    table.add_column(words("list.description"), ratio=1)
    for row in rows:
        first_day = row["start"]
        if lang == "fr":
            year, month, day = first_day.split("-")
            first_day = f"{day}/{month}/{year}"
        table.add_row(
            row["name"],
            format_number(row["booths"], 0, lang),
            str(row["days"]),
            first_day,
            row["description"],
        )
    console.print(table)
