"""``cabine support``: the support desk's reports, log and web form, on this machine's
booth file or the fleet's."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from cabine.cli.shared import (
    ConfigOption,
    DataOption,
    check_base_url,
    check_data_folder,
    check_lang,
    check_sqlite_file,
    console,
    fail,
)

support_app = typer.Typer(
    help="The support desk: problem reports about ePhoto numbers, refunds.", no_args_is_help=True
)


def _support_desk(config: Path | None, data: Path | None, registry: str | None):  # type: ignore[no-untyped-def]
    """The support desk of this machine's booth file, from the configuration."""
    from cabine.config import load_settings
    from kiosk.catalog import load_catalog
    from support.desk import open_desk, open_fleet_desk
    from transmitter.outbox import booth_db_path

    if data is not None:
        check_data_folder(data)
    if registry is not None:
        check_base_url(registry, "--registry")
    overrides = {"data_dir": data} if data is not None else {}
    settings = load_settings(config, **overrides)
    section = settings.support
    if section.booths:
        for booth, path in section.booths.items():
            check_sqlite_file(path, f"booth database of {booth}")
        return open_fleet_desk(
            section.booths,
            registry or section.registry_url,
            section.registry_admin_token,
            settings.clock.make(),
            load_catalog(),
            prefixes=(settings.operator.prefix,),
            timeout=section.registry_timeout_seconds,
            collector_url=section.collector_url,
            collector_token=section.collector_admin_token,
        )
    booth_db = section.booth_db or booth_db_path(settings.data_dir)
    check_sqlite_file(booth_db, "booth database")
    return open_desk(
        booth_db,
        registry or section.registry_url,
        section.registry_admin_token,
        settings.clock.make(),
        load_catalog(),
        booth_id=settings.kiosk.booth_id,
        prefixes=(settings.operator.prefix,),
        timeout=section.registry_timeout_seconds,
        collector_url=section.collector_url,
        collector_token=section.collector_admin_token,
    )


@support_app.command("report")
def support_report(
    code: Annotated[
        str | None, typer.Option("--code", help="The ePhoto number as the customer typed it.")
    ] = None,
    sale: Annotated[
        str | None, typer.Option("--sale", help="The sale number printed on the sheet.")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    lang: Annotated[str, typer.Option(help="Language of the answer: fr or en.")] = "fr",
    registry: Annotated[
        str | None, typer.Option("--registry", help="Registry base URL (default: from config).")
    ] = None,
    config: ConfigOption = None,
    data: DataOption = None,
) -> None:
    """Decide on a customer's problem report, record it, and refund if the fault is ours."""
    from support.desk import RegistryUnavailable
    from support.rules import Report, explain
    from support.web import result_json

    check_lang(lang)  # before anything is decided or recorded
    try:
        report = Report(code, sale)
    except ValueError as exc:
        raise fail(exc) from None
    try:
        with _support_desk(config, data, registry) as desk:
            result = desk.submit(report)
    except (RegistryUnavailable, FileNotFoundError) as exc:
        raise fail(exc, 3) from None
    if json_out:
        typer.echo(json.dumps(result_json(result), ensure_ascii=False, indent=2))
        return
    decision = result.decision
    console.print(
        f"[bold]{decision.outcome.value}[/bold]  ({result.reference}"
        f"{', already answered' if result.replayed else ''})"
    )
    console.print(explain(decision, lang), highlight=False)


@support_app.command("log")
def support_log(
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="How many recent reports.")] = 20,
    json_out: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    config: ConfigOption = None,
    data: DataOption = None,
) -> None:
    """The last reports received with their decisions, and every refund made, for the operator."""
    from ephoto.clock import format_paris
    from ephoto.money import Money

    try:
        with _support_desk(config, data, None) as desk:
            reports = desk.audit_log()[-limit:]
            refunds = desk.refunds()
    except FileNotFoundError as exc:
        raise fail(exc, 3) from None
    if json_out:
        typer.echo(json.dumps({"reports": reports, "refunds": refunds}, default=str, indent=2))
        return
    table = Table(title="support reports (Paris time)")
    for column in ("received", "code typed", "sale", "decision", "reason", "repeat"):
        table.add_column(column)
    for r in reports:
        table.add_row(
            format_paris(r["received_at"]),
            r["typed"] or "-",
            r["sale_ref"] or "-",
            r["outcome"] or f"[red]not decided: {r['error']}[/red]",
            r["reason"] or "-",
            "yes" if r["replayed"] else "",
        )
    console.print(table)
    table = Table(title="refunds")
    for column in ("refunded", "sale", "code", "amount", "reason", "re-sent"):
        table.add_column(column)
    for r in refunds:
        table.add_row(
            format_paris(r["refunded_at"]),
            r["sale_ref"],
            r["code"] or "-",
            Money(r["amount_cents"]).format(),
            r["reason"],
            "yes" if r["requeued"] else "no",
        )
    console.print(table)


@support_app.command("serve")
def support_serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(min=1, max=65535, help="Port to listen on.")] = None,
    registry: Annotated[
        str | None, typer.Option("--registry", help="Registry base URL (default: from config).")
    ] = None,
    config: ConfigOption = None,
    data: DataOption = None,
) -> None:
    """Serve the report form ("J'ai un problème à déclarer") and the JSON API."""
    import uvicorn

    from cabine.config import load_settings
    from ephoto.serving import PROTOCOL as GUARDED_PROTOCOL
    from support.web import create_app

    settings = load_settings(config)
    try:
        with _support_desk(config, data, registry) as desk:
            uvicorn.run(
                create_app(desk, settings.support),
                host=host or settings.support.host,
                port=port or settings.support.port,
                log_level="warning",
                proxy_headers=bool(settings.support.forwarded_allow_ips),
                forwarded_allow_ips=settings.support.forwarded_allow_ips or None,
                http=GUARDED_PROTOCOL,
                timeout_keep_alive=5,
            )
    except FileNotFoundError as exc:
        raise fail(exc, 3) from None
