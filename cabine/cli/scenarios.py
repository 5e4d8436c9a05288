"""``cabine scenarios``: each case of the operator's FAQ replayed with the real
components."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from cabine.cli.shared import check_writable, console, fail

scenarios_app = typer.Typer(
    help="Replay each case of the operator's FAQ with the real components.", no_args_is_help=True
)


@scenarios_app.command("list")
def scenarios_list(
    json_out: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """List the FAQ scenarios and the customer question each one answers."""
    from simulation.faq import SCENARIOS

    if json_out:
        rows = [{"name": name, "question": q} for name, (q, _) in SCENARIOS.items()]
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    table = Table(title="FAQ scenarios")
    table.add_column("name", no_wrap=True)
    table.add_column("customer question", ratio=1)
    for name, (question, _) in SCENARIOS.items():
        table.add_row(name, question)
    console.print(table)


@scenarios_app.command("run")
def scenarios_run(
    name: Annotated[str | None, typer.Argument(help="Scenario name (see `list`).")] = None,
    run_all: Annotated[bool, typer.Option("--all", help="Run every scenario.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    junit: Annotated[
        Path | None,
        typer.Option("--junit", help="Also write the verdicts to FILE as JUnit XML, for CI."),
    ] = None,
) -> None:
    """Replay scenarios; one verdict line each. Exit 1 if any did not pass."""
    import time

    from ephoto.clock import SystemClock
    from simulation.faq import PASSED, SCENARIOS, run_scenario
    from simulation.junit import TimedOutcome, write_junit

    if run_all == (name is not None):
        raise fail("give one scenario name or --all")
    if name is not None and name not in SCENARIOS:
        raise fail(f"no FAQ scenario {name!r}; choose one of: {', '.join(SCENARIOS)}")
    if junit is not None:  # refused before a scenario runs, not after all of them
        if junit.is_dir():
            raise fail(f"--junit {junit} is a folder, not a file")
        if not junit.parent.is_dir():
            raise fail(f"--junit {junit}: folder {junit.parent} does not exist")
        check_writable(junit, "--junit")
    names = [name] if name is not None else list(SCENARIOS)
    started = SystemClock().now()
    results = []
    for each in names:
        began = time.perf_counter()
        outcome = run_scenario(each)
        results.append(TimedOutcome(outcome, time.perf_counter() - began))
        if not json_out:
            mark = {"passed": "PASS", "failed": "FAIL"}
            line = f"{mark[outcome.status]:<4} {each}: {outcome.summary}"
            typer.echo(line + (f" ({outcome.detail})" if outcome.detail else ""))
    outcomes = [result.outcome for result in results]
    if json_out:
        typer.echo(json.dumps([o.to_json() for o in outcomes], default=str, indent=2))
    if junit is not None:
        write_junit(junit, results, started)
    raise typer.Exit(0 if all(o.status == PASSED for o in outcomes) else 1)
