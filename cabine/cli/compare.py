"""``cabine compare RUN_A RUN_B``: two simulation runs (``cabine simulate`` or ``cabine sweep``
output folders) figure by figure, in the terminal, as JSON or as an HTML page."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from cabine.cli.shared import check_lang, check_writable, console, err_console, fail


def compare_command(
    run_a: Annotated[
        Path, typer.Argument(help="Output folder of cabine simulate or cabine sweep (A).")
    ],
    run_b: Annotated[Path, typer.Argument(help="Output folder to set beside it (B).")],
    html: Annotated[
        Path | None, typer.Option("--html", help="Also write the comparison as an HTML page.")
    ] = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="The comparison as JSON on stdout.")
    ] = False,
    lang: Annotated[str, typer.Option("--lang", help="Language of the output: fr or en.")] = "fr",
) -> None:
    """Compare two simulation runs (cabine simulate or cabine sweep folders): each figure for
    A and B, the difference and whether it is beyond the seeds' noise. For the live fleet
    against the model, see cabine fleet compare."""
    from rich.table import Table

    from ephoto.texts import texts
    from simulation.compare_runs import (
        CompareError,
        changes_text,
        compare_runs,
        few_seed_warnings,
        group_title,
        load_run,
        run_line,
        value_text,
        write_compare_html,
    )
    from simulation.run_record import MIN_SEEDS

    check_lang(lang)
    words = texts("compare", lang)
    if html is not None:
        if not html.parent.is_dir():
            raise fail(words("error.html", path=html, folder=html.parent))
        check_writable(html, "--html")
    try:
        a, b = load_run(run_a), load_run(run_b)
        comparison = compare_runs(a, b)
    except CompareError as exc:
        raise fail(exc.text(lang)) from None
    for warning in few_seed_warnings(a, b, words):
        err_console.print(warning, markup=False, soft_wrap=True)
    if html is not None:
        write_compare_html(comparison, html, lang)
    if json_out:
        typer.echo(json.dumps(comparison, ensure_ascii=False, indent=2))
        return
    console.print(run_line("A", comparison["a"], words), markup=False, highlight=False)
    console.print(run_line("B", comparison["b"], words), markup=False, highlight=False)
    console.print(changes_text(comparison["changes"], words), markup=False, highlight=False)
    for group in comparison["groups"]:
        table = Table(title=group_title(group, words))
        table.add_column(words("compare.figure"), ratio=1)
        for header in ("A", "B", words("compare.difference")):
            table.add_column(header, justify="right", no_wrap=True)
        table.add_column(words("compare.noise"), no_wrap=True)
        for f in group["figures"]:
            verdict = words(f"compare.{f['verdict']}")
            style = {"beyond": "bold red", "within": "green"}.get(f["verdict"], "dim")
            row = (f["a"], f["b"], f["difference"])
            table.add_row(
                words(f"figure.{f['figure']}"),
                value_text(f["figure"], f["a"], lang, row=row),
                value_text(f["figure"], f["b"], lang, row=row),
                value_text(f["figure"], f["difference"], lang, signed=True, row=row),
                f"[{style}]{verdict}[/{style}]",
            )
        console.print(table)
    console.print(words("compare.method", minimum=MIN_SEEDS), markup=False, highlight=False)
    if html is not None:
        console.print(words("compare.report", path=html), markup=False, soft_wrap=True)
