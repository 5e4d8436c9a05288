"""``cabine sweep`` and ``cabine plan capacity``: the model over parameters and seeds on
Dask."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from cabine.cli.shared import (
    LangOption,
    command_line,
    console,
    err_console,
    fail,
    folder_problem,
    writable_problem,
)

SchedulerOption = Annotated[
    str | None,
    typer.Option(help="Dask scheduler to run on (tcp://HOST:8786) instead of a local cluster."),
]
WorkersOption = Annotated[
    int | None,
    typer.Option(min=1, max=512, help="Worker processes of the local cluster [default: cores]."),
]


def largest_run_memory_problem(runs, source: str) -> str | None:  # type: ignore[no-untyped-def]
    """The memory check of ``cabine simulate`` for a sweep's largest run (each run is one
    task, on one worker), before any cluster starts."""
    from simulation.budget import estimated_bytes, memory_problem
    from simulation.scenario import parse_scenario

    scenarios = [parse_scenario(run.scenario, source) for run in runs]
    if not scenarios:
        return None
    try:
        return memory_problem(max(scenarios, key=estimated_bytes), source)
    except ValueError as exc:
        return str(exc)


def _quant_texts(lang: str):  # type: ignore[no-untyped-def]
    from ephoto.texts import check_language, texts

    try:
        return texts("sweep", check_language(lang))
    except ValueError as exc:
        raise fail(f"--lang: {exc}") from None


def sweep(
    ctx: typer.Context,
    sweep_file: Annotated[
        Path | None,
        typer.Argument(
            help="Sweep TOML file (scenario, seeds, [vary]), or the name of a bundled example."
        ),
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Folder for results.csv, record.json, report.html, plots.")
    ] = None,
    scheduler: SchedulerOption = None,
    workers: WorkersOption = None,
    example: Annotated[
        bool,
        typer.Option(
            "--example",
            help="Print a bundled example sweep (SWEEP_FILE names which) to start from, and exit.",
        ),
    ] = False,
    json_out: Annotated[
        bool, typer.Option("--json", help="The summary as JSON on stdout (progress on stderr).")
    ] = False,
    lang: LangOption = "fr",
) -> None:
    """Run a scenario over parameters and seeds on Dask; a table, a report and a summary."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from simulation.cluster import ClusterError, dask_client, worker_count
    from simulation.run_record import MIN_SEEDS
    from simulation.sweep import (
        RESULTS,
        ResultTable,
        SweepError,
        bundled_sweeps,
        group_estimates,
        load_sweep,
        read_results,
        run_sweep,
    )
    from simulation.sweep_report import write_sweep_report
    from simulation.sweep_summary import record_sweep, summary_json, summary_table

    t = _quant_texts(lang)
    if example:
        from simulation.sweep import DEFAULT_EXAMPLE, bundled_sweep_path

        name = sweep_file.name if sweep_file is not None else DEFAULT_EXAMPLE
        path = bundled_sweep_path(name)
        names = ", ".join(bundled_sweeps())
        if path is None:
            raise fail(t.get("sweep.example_unknown", name=name, names=names))
        typer.echo(path.read_text(encoding="utf-8"), nl=False)
        others = ", ".join(n for n in bundled_sweeps() if n != name)
        err_console.print(t.get("sweep.example_others", names=others, name=name), soft_wrap=True)
        return
    if sweep_file is None:
        raise fail(t.get("sweep.no_file", names=", ".join(bundled_sweeps())))
    if out is None:
        raise fail(t.get("sweep.no_out"))
    if scheduler is not None and workers is not None:
        raise fail("--workers: only for the local cluster; not with --scheduler") from None
    try:
        plan = load_sweep(sweep_file)
        problem = folder_problem(out, "--out") or writable_problem(out, "--out")
        if problem is not None:
            raise SweepError(problem)
        problem = largest_run_memory_problem(plan.runs, str(sweep_file))
        if problem is not None:
            raise SweepError(problem)
        # An existing table is checked (and a row cut short dropped) before any run; a new one
        # is written only once the cluster is there.
        done_keys = (
            set(ResultTable(out / RESULTS, plan.columns).rows)
            if (out / RESULTS).exists()
            else set()
        )
    except (SweepError, OSError) as exc:
        raise fail(str(exc)) from None
    if len(plan.seeds) < MIN_SEEDS:
        err_console.print(
            t.get("sweep.few_seeds", seeds=len(plan.seeds), minimum=MIN_SEEDS), soft_wrap=True
        )
    done = sum(1 for run in plan.runs if run.key in done_keys)
    if done:
        err_console.print(
            t.get("sweep.resumed", done=done, total=len(plan.runs), table=out / RESULTS)
        )
    outcome = None
    if done < len(plan.runs):
        try:
            with dask_client(scheduler, workers) as client:
                if scheduler is None:
                    err_console.print(t.get("sweep.cluster_local", workers=worker_count(client)))
                else:
                    message = t.get(
                        "sweep.cluster_remote", address=scheduler, workers=worker_count(client)
                    )
                    err_console.print(message)
                columns = (
                    TextColumn("{task.description}"),
                    BarColumn(),
                    MofNCompleteColumn(),
                    TimeElapsedColumn(),
                )
                record = record_sweep(plan, out, command_line(ctx))
                with Progress(*columns, console=err_console) as progress:
                    task = progress.add_task(
                        t.get("sweep.progress", name=plan.name),
                        total=len(plan.runs),
                        completed=done,
                    )
                    outcome = run_sweep(
                        plan, out, client, on_row=lambda row: progress.advance(task)
                    )
        except (ClusterError, OSError) as exc:
            raise fail(str(exc)) from None
    else:
        record = record_sweep(plan, out, command_line(ctx))
    keys = {run.key for run in plan.runs}
    rows = [row for row in read_results(out) if row["run"] in keys]
    report = write_sweep_report(plan, rows, out, lang, record=record)
    groups = group_estimates(rows, plan.parameters)
    failed = outcome.failed if outcome is not None else {}
    if json_out:
        summary = summary_json(plan, groups, out / RESULTS, report.html, failed)
        typer.echo(json.dumps(summary, ensure_ascii=False, indent=2))
    else:
        console.print(summary_table(plan, groups, t, lang, console.width))
        console.print(t.get("sweep.table", path=out / RESULTS), soft_wrap=True)
        console.print(t.get("sweep.report", path=report.html), soft_wrap=True)
    if failed:
        err_console.print(t.get("sweep.failed", count=len(failed)))
        for key, error in failed.items():
            err_console.print(f"  {key}: {error}")
        raise typer.Exit(1)


plan_app = typer.Typer(help="Capacity planning on the fleet simulator.", no_args_is_help=True)


@plan_app.command("capacity")
def plan_capacity_command(
    scenario_file: Annotated[
        Path, typer.Argument(help="Scenario TOML file, or the name of a bundled scenario.")
    ],
    target: Annotated[
        str,
        typer.Option(help='What every month must meet, e.g. "p95<=72" or "share72>=0.95".'),
    ],
    per_month: Annotated[
        bool, typer.Option("--per-month", help="Also the smallest capacity month by month.")
    ] = False,
    seeds: Annotated[int, typer.Option(min=1, max=1000, help="Seeds per capacity tried.")] = 2,
    scheduler: SchedulerOption = None,
    workers: WorkersOption = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="The answer as JSON on stdout (steps on stderr).")
    ] = False,
    lang: LangOption = "fr",
) -> None:
    """The smallest registry capacity meeting a target in every month across seeds."""
    from simulation.cluster import ClusterError, dask_client, worker_count
    from simulation.plan import PlanError, figure_text, parse_target, plan_capacity
    from simulation.scenario import ScenarioError, load_scenario

    t = _quant_texts(lang)
    if scheduler is not None and workers is not None:
        raise fail("--workers: only for the local cluster; not with --scheduler") from None
    try:
        goal = parse_target(target)
        scenario = load_scenario(scenario_file)
    except PlanError as exc:
        raise fail(str(exc)) from None
    except ScenarioError as exc:
        raise fail("; ".join(str(exc).splitlines())) from None
    seed_list = [scenario.run.seed + i for i in range(seeds)]

    def shown(value: float) -> str:
        return figure_text(goal, value)

    def on_step(verdict) -> None:  # type: ignore[no-untyped-def]
        verdict_text = t.get("plan.meets" if verdict.meets else "plan.misses")
        worst = f"{shown(verdict.worst)}, {verdict.worst_month}"
        if "all" in verdict.capacities:
            line = t.get(
                "plan.step",
                capacity=f"{verdict.capacities['all']:,.0f}",
                verdict=verdict_text,
                figure=goal.name,
                worst=worst,
            )
        else:
            line = t.get(
                "plan.step_month",
                plan=", ".join(f"{m}: {c:,.0f}" for m, c in sorted(verdict.capacities.items())),
                verdict=verdict_text,
                figure=goal.name,
                worst=worst,
            )
        err_console.print(line)

    try:
        with dask_client(scheduler, workers) as client:
            width = max(1, worker_count(client) // len(seed_list))
            err_console.print(t.get("plan.progress", name=scenario.name))
            result = plan_capacity(
                client, scenario, goal, seed_list, per_month=per_month, width=width, on_step=on_step
            )
    except ClusterError as exc:
        raise fail(str(exc)) from None
    verdict = result.verdict
    assert verdict is not None
    if json_out:
        typer.echo(json.dumps(result.to_json(scenario.name), indent=2))
        raise typer.Exit(0 if result.capacity is not None else 1)
    if result.capacity is None:
        console.print(
            t.get(
                "plan.unreachable",
                capacity=f"{verdict.capacities['all']:,.0f}",
                target=goal.text,
                figure=goal.name,
                worst=shown(verdict.worst),
                month=verdict.worst_month,
            )
        )
        raise typer.Exit(1)
    limit = shown(goal.limit)
    if result.by_month:
        console.print(t.get("plan.answer_month", target=goal.text, seeds=len(seed_list)))
        for month, capacity in sorted(result.by_month.items()):
            console.print(t.get("plan.month_line", month=month, capacity=f"{capacity:,.0f}"))
        console.print(
            t.get(
                "plan.margin_month",
                figure=goal.name,
                worst=shown(verdict.worst),
                limit=limit,
                month=verdict.worst_month,
            )
        )
    else:
        console.print(
            t.get(
                "plan.answer",
                target=goal.text,
                seeds=len(seed_list),
                capacity=f"{result.capacity:,.0f}",
            )
        )
        console.print(
            t.get(
                "plan.margin",
                figure=goal.name,
                worst=shown(verdict.worst),
                limit=limit,
                month=verdict.worst_month,
                below=f"{result.below:,.0f}",
            )
        )
    console.print(t.get("plan.paste"))
    typer.echo("\n".join(result.toml_lines()))
