"""``cabine simulate``: a fleet over a season on the model, its figures, plots and
report."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from cabine.cli.shared import (
    LangOption,
    command_line,
    console,
    err_console,
    fail,
    folder_problem,
    writable_problem,
)

if TYPE_CHECKING:
    from concurrent.futures import Future

    from simulation.report import ReportFiles
    from simulation.scenario import Scenario


def _scenario_problem(exc: Exception, words) -> str:  # type: ignore[no-untyped-def]
    """A scenario refusal in the command's language where the catalogue has its words."""
    from simulation.scenario import ScenarioNotFound, SweepFileGiven

    if isinstance(exc, ScenarioNotFound):
        return words("error.not_found", path=exc.path, names=", ".join(exc.bundled))
    if isinstance(exc, SweepFileGiven):
        return words("error.sweep_file", path=exc.path)
    return str(exc)


def simulate(
    ctx: typer.Context,
    scenario_file: Annotated[
        Path | None,
        typer.Argument(help="Scenario TOML file, or the name of a bundled scenario (--list)."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Folder for metrics.json, plots, report.html [default: simulation-out/NAME]; "
            "new or empty unless --force."
        ),
    ] = None,
    seed: Annotated[
        int | None, typer.Option(min=0, help="Seed instead of the scenario's [run] seed.")
    ] = None,
    plots: Annotated[bool, typer.Option("--plots/--no-plots", help="Draw the PNG plots.")] = True,
    list_bundled: Annotated[
        bool, typer.Option("--list", help="List the bundled scenarios and exit.")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Write into a --out folder that is not empty.")
    ] = False,
    json_out: Annotated[
        bool, typer.Option("--json", help="The summary as JSON on stdout (progress on stderr).")
    ] = False,
    replay: Annotated[
        Path | None,
        typer.Option(
            "--replay",
            help="A live fleet's record (its folder or numbers.csv): the model on its sales "
            "(trace-driven), each number's times in replay.csv [default --out: the run's "
            "model/ folder].",
        ),
    ] = None,
    lang: LangOption = "fr",
) -> None:
    """Simulate a fleet over a season on a virtual clock; write metrics, plots and a report."""
    from ephoto.texts import check_language, format_number, texts

    try:
        words = texts("simulation", check_language(lang))
    except ValueError as exc:
        raise fail(f"--lang {lang}: {exc}") from None
    if replay is not None:
        from cabine.cli.fleet import simulate_replay

        if scenario_file is not None:
            raise fail("--replay takes the scenario from the live run: give no scenario file")
        simulate_replay(replay, out, seed, json_out, lang)
        return
    if list_bundled:
        from simulation.scenario_list import print_bundled

        print_bundled(console, words, lang, json_out)
        return
    if scenario_file is None:
        raise fail(words("error.no_scenario"))
    with contextlib.ExitStack() as stack:
        files, scenario = _simulate_and_report(
            scenario_file, out, seed, plots, stack, lang, force, command_line(ctx)
        )
    m = json.loads(files.metrics.read_text())
    if json_out:
        summary = {**m, "files": {"metrics": str(files.metrics), "report": str(files.html)}}
        typer.echo(json.dumps(summary, ensure_ascii=False, indent=2))
        return

    def number(value: float, digits: int = 0) -> str:
        return format_number(value, digits, lang)

    table = Table(title=words("table.title", name=scenario.name, seed=scenario.run.seed))
    table.add_column(words("table.figure"))
    table.add_column(words("table.value"), justify="right", no_wrap=True)
    table.add_row(words("table.issued"), number(m["codes_issued"]))
    table.add_row(words("table.within"), number(100 * m["share_active_within_72h"], 1) + " %")
    for key in ("p50", "p95", "p99", "max"):
        table.add_row(words("table.activation", which=key), number(m["activation_hours"][key], 1))
    table.add_row(words("table.wait"), number(m["registry_wait_hours_mean"], 2))
    table.add_row(words("table.backlog"), number(m["backlog_max"]))
    table.add_row(words("table.reports"), number(m["reports"]))
    table.add_row(words("table.seconds"), number(m["wall_seconds"], 1))
    console.print(table)
    console.print(words("table.report", path=files.html), soft_wrap=True)


def _simulate_and_report(
    scenario_file: Path,
    out: Path | None,
    seed: int | None,
    plots: bool,
    stack: contextlib.ExitStack,
    lang: str,
    force: bool = False,
    command: str = "",
) -> tuple[ReportFiles, Scenario]:
    """The simulate command's work: the scenario, the run and its report; raises
    :func:`fail` for a scenario or an output folder it refuses."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from ephoto.texts import texts
    from simulation.budget import memory_problem
    from simulation.fleet import STAGES, RegistryDone
    from simulation.fleet import simulate as run_fleet
    from simulation.plots import draw_on_thread
    from simulation.report import ReportLibraries, run_plot_data, write_report
    from simulation.run_record import run_record
    from simulation.scenario import ScenarioError, load_scenario

    words = texts("simulation", lang)
    try:
        scenario = load_scenario(scenario_file).with_seed(seed)
    except ScenarioError as exc:
        raise fail(_scenario_problem(exc, words)) from None
    except UnicodeDecodeError:
        raise fail(f"scenario {scenario_file} is not UTF-8 text") from None
    out = out if out is not None else Path("simulation-out") / scenario.name
    problem = folder_problem(out, "output folder") or writable_problem(out, "output folder")
    if problem is not None:  # refused before the run, not when its report is written
        raise fail(problem)
    if not force and out.is_dir() and any(out.iterdir()):
        raise fail(words("error.out_not_empty", path=out))
    try:
        problem = memory_problem(scenario, str(scenario_file))
    except ValueError as exc:
        raise fail(exc) from None
    if problem is not None:  # refused before the arrays are allocated
        raise fail(problem)
    # Jinja2 and Pillow are imported beside the simulation rather than after it.
    library = ReportLibraries(plots=plots)
    columns = (TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn())
    progress = stack.enter_context(Progress(*columns, console=err_console, transient=False))
    task = progress.add_task(f"{scenario.name}: demand", total=len(STAGES) + 1)

    def advance(stage: str) -> None:
        following = STAGES[STAGES.index(stage) + 1] if stage != STAGES[-1] else "report"
        progress.update(task, advance=1, description=f"{scenario.name}: {following}")

    # The plots need only what the registry stage gives: they are drawn on a thread while
    # the citizens and the support desk are simulated.
    drawn: list[Future[dict[str, Path]]] = []

    def plot(done: RegistryDone) -> None:
        if plots:
            drawn.append(draw_on_thread(out, lambda: run_plot_data(done, lang)))

    run = run_fleet(scenario, on_stage=advance, figures=True, on_registry=plot)
    record = run_record(scenario, [scenario.run.seed], command)
    files = write_report(
        run,
        out,
        plots=plots,
        library=library,
        drawn=drawn[0] if drawn else None,
        lang=lang,
        record=record,
    )
    progress.update(task, advance=1, description=f"{scenario.name}: done")
    return files, scenario
