"""`cabine fleet`: the live fleet (many real booths, the real collector, registry and support
desk on one session clock) and the reconciliation of its record."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from cabine.cli.shared import fail

fleet_app = typer.Typer(
    help="The live fleet: real booths and services on one clock, reconciled number by number.",
    no_args_is_help=True,
)


@fleet_app.command("run")
def fleet_run(
    scenario_file: Annotated[
        Path, typer.Argument(help="Scenario TOML file, or the name of a bundled scenario.")
    ],
    booths: Annotated[
        int | None, typer.Option("--booths", help="Real booths in the fleet [default: 3].")
    ] = None,
    days: Annotated[
        int | None,
        typer.Option("--days", help="Days of sales, from the scenario's start [default: 1]."),
    ] = None,
    out: Annotated[
        Path,
        typer.Option("--out", help="Folder for the run (new or empty, unless --resume)."),
    ] = Path("fleet-out"),
    resume: Annotated[
        bool,
        typer.Option(
            "--resume",
            help="Go on with the run stopped in --out (Ctrl-C), from where its clock stopped; "
            "its booths, days and seed are the run's.",
        ),
    ] = False,
    scale: Annotated[
        float | None,
        typer.Option(help="Domain seconds per real second; default: the fastest that keeps up."),
    ] = None,
    seed: Annotated[int | None, typer.Option(min=0, help="Seed instead of the scenario's.")] = None,
    booths_per_worker: Annotated[
        int | None, typer.Option(min=1, help="Booths per worker process (default: by cores).")
    ] = None,
    faults: Annotated[
        Path | None,
        typer.Option("--faults", help="TOML schedule of faults in simulated hours ([[fault]])."),
    ] = None,
    citizens_days: Annotated[
        float,
        typer.Option(
            "--citizens-days",
            help="Simulated days the buyers go on using their numbers and writing to the "
            "support desk after the last sale (0: the run ends once every number is at the "
            "state).",
        ),
    ] = 3.0,
    scheduler: Annotated[
        str | None,
        typer.Option(
            "--scheduler",
            help="A running Dask scheduler (tcp://HOST:8786): the booth groups run on its "
            "workers, as long-lived tasks.",
        ),
    ] = None,
) -> None:
    """Run the fleet: sales as the scenario's demand draws them, every number followed to the
    state; then the record (numbers.csv, money.csv) and its reconciliation (check.json)."""
    from rich.console import Console

    from cabine.processes import interrupted_by_signals
    from simulation.live import FleetError, FleetOptions, check_options
    from simulation.scenario import ScenarioError, load_scenario

    try:
        scenario = load_scenario(scenario_file)
    except ScenarioError as exc:
        raise fail(exc) from None
    if resume:
        try:
            run = json.loads((out / "run.json").read_text(encoding="utf-8"))
            booths = len(run["booths"]) if booths is None else booths
            days = int(run["days"]) if days is None else days
            seed = int(run["seed"]) if seed is None else seed
        except (OSError, ValueError, KeyError):
            pass  # check_options says what is wrong with the folder
    options = FleetOptions(
        scenario,
        3 if booths is None else booths,
        1 if days is None else days,
        out,
        scale=scale,
        seed=seed,
        booths_per_worker=booths_per_worker,
        faults=faults,
        scheduler=scheduler,
        citizens_days=citizens_days,
        resume=resume,
    )
    try:
        check_options(options)
    except FleetError as exc:
        raise fail(exc) from None
    console = Console(stderr=True)
    # Ctrl-C or SIGTERM stops every process the run started, however the run was started.
    with interrupted_by_signals():
        result = _run_live(options, console, out)
    _report(result, out)


def _run_live(options: Any, console: Any, out: Path) -> Any:
    """The run with its progress line; exit 1 when a process fails, 130 when stopped."""
    from rich.live import Live

    from cabine.processes import ProcessFailed
    from simulation.live import run_fleet

    with Live(console=console, refresh_per_second=2, transient=False) as live:

        def show(progress: dict[str, Any]) -> None:
            live.update(_progress_line(progress))

        try:
            result = run_fleet(options, console.print, show)
        except ProcessFailed as failure:
            live.stop()
            typer.echo(f"{failure}\n{failure.log_tail()}", err=True)
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            live.stop()
            typer.echo(
                f"stopped; every process ended. `cabine fleet check {out}` reconciles what was "
                "sold so far.",
                err=True,
            )
            raise typer.Exit(130) from None
    return result


def _progress_line(p: dict[str, Any]) -> str:
    now = p.get("now")
    when = now.strftime("%Y-%m-%d %H:%M") if now is not None else "-"
    return (
        f"{when}  sales {p['sales_done']}/{p['sales_planned']}  issued {p.get('issued', 0)}  "
        f"collector {p.get('at_collector', 0)}  state {p.get('at_state', 0)}  "
        f"active {p.get('active', 0)}  used {p.get('used', 0)}  "
        f"faults {p.get('faults_started', 0)}/{p.get('faults_total', 0)}  "
        f"lag p99 {p['lag_p99_seconds'] / 60:.1f} min (worst worker)"
    )


def _report(result: Any, out: Path) -> None:
    for breach in result.breaches:
        typer.echo(breach.line())
    verdict = "reconciled" if result.ok else f"{len(result.breaches)} breaches"
    transit = f" ({result.in_transit} still on their way)" if result.in_transit else ""
    typer.echo(
        f"{result.numbers} numbers from {result.booths} booths{transit}: {verdict}; record in "
        f"{out / 'numbers.csv'}, {out / 'money.csv'}, {out / 'check.json'}"
    )
    if not result.ok:
        raise typer.Exit(1)


@fleet_app.command("check")
def fleet_check(
    run_dir: Annotated[Path, typer.Argument(help="A fleet run's folder (its --out).")],
) -> None:
    """Reconcile a fleet run again from the components' own records: the collector and the
    registry are started from the run's configuration to be asked."""
    from cabine.processes import ProcessFailed
    from simulation.live_record import RUN_FILE, reconcile, services_of

    if not (run_dir / RUN_FILE).is_file():
        raise fail(f"{run_dir} is not a fleet run's folder (no {RUN_FILE})")
    try:
        with services_of(run_dir) as services:
            result = reconcile(run_dir, services)
    except ProcessFailed as failure:
        typer.echo(f"{failure}\n{failure.log_tail()}", err=True)
        raise typer.Exit(1) from None
    _report(result, run_dir)


@fleet_app.command("compare")
def fleet_compare(
    run_dir: Annotated[Path, typer.Argument(help="A fleet run's folder (its --out).")],
    model_set: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="Change the model, SECTION.KEY=VALUE of the scenario "
            "(e.g. booth.batch_window_minutes=30), to see a wrong model flagged.",
        ),
    ] = None,
    lang: Annotated[str, typer.Option(help="Language of compare.html: fr or en.")] = "fr",
    json_out: Annotated[bool, typer.Option("--json", help="Print compare.json.")] = False,
) -> None:
    """Set the simulator, replayed on the run's own sales, beside the live run: each stage's
    mean, p50, p95, p99 and two-sample KS test, the state's queue number by number, a QQ plot
    per stage; compare.html and compare.json in the run's folder. Exit 1 when a stage
    differs."""
    from simulation.compare import compare_run
    from simulation.live_record import RECORD_FILE
    from simulation.scenario import ScenarioError

    if lang not in ("fr", "en"):
        raise fail(f"--lang {lang!r}: fr or en")
    if not (run_dir / RECORD_FILE).is_file():
        raise fail(f"{run_dir} holds no {RECORD_FILE}: run `cabine fleet run` first")
    overrides: dict[str, dict[str, Any]] = {}
    for item in model_set or []:
        key, sep, value = item.partition("=")
        section, dot, name = key.partition(".")
        if not (sep and dot and section and name):
            raise fail(f"--set {item!r}: write SECTION.KEY=VALUE")
        try:
            parsed: Any = json.loads(value)
        except ValueError:
            parsed = value
        overrides.setdefault(section, {})[name] = parsed
    try:
        stages, queue = compare_run(run_dir, overrides, lang)
    except ScenarioError as exc:
        raise fail(exc) from None
    if json_out:
        typer.echo((run_dir / "compare.json").read_text(encoding="utf-8"), nl=False)
    else:
        for s in stages:
            verdict = "agrees" if s.agrees else "DIFFERS"
            typer.echo(
                f"{s.stage:<11} live mean {s.live.mean:8.2f} h  model {s.model.mean:8.2f} h  "
                f"KS {s.ks:.3f} (limit {s.ks_limit:.3f})  {verdict}"
            )
        typer.echo(
            f"state's queue, live minus model: p95 {queue['p95']:.3f} h, "
            f"largest {queue['worst']:.3f} h  {'agrees' if queue['agrees'] else 'DIFFERS'}"
        )
        typer.echo(f"report: {run_dir / 'compare.html'}")
    if not (all(s.agrees for s in stages) and queue["agrees"]):
        raise typer.Exit(1)


def simulate_replay(
    source: Path, out: Path | None, seed: int | None, json_out: bool, lang: str
) -> None:
    """``cabine simulate --replay``: the model on a live run's own sales (trace-driven)."""
    from rich.console import Console
    from rich.table import Table

    from ephoto.texts import format_number, texts
    from simulation.replay import ReplayError, replay, run_folder
    from simulation.scenario import ScenarioError

    try:
        folder = run_folder(source)
        run = json.loads((folder / "run.json").read_text(encoding="utf-8"))
        result = replay(source, out or folder / "model", seed or 0)
    except (ReplayError, ScenarioError) as exc:
        raise fail(exc) from None
    if json_out:
        typer.echo(json.dumps(result, indent=2))
        return
    words = texts("fleet", lang)
    table = Table(
        title=words(
            "replay.title",
            numbers=format_number(result["numbers"], 0, lang),
            name=run["scenario"],
            seed=seed or 0,
        )
    )
    table.add_column(words("replay.stage"))
    for column in ("mean", "p50", "p95", "p99"):
        table.add_column(words(f"compare.{column}"), justify="right", no_wrap=True)
    for stage, figures in result["stages_hours"].items():
        table.add_row(
            words(f"compare.stage_{stage}"),
            *(format_number(figures[c], 2, lang) for c in ("mean", "p50", "p95", "p99")),
        )
    console = Console()
    console.print(table)
    console.print(words("replay.file", path=result["file"]), soft_wrap=True)
