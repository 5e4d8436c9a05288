"""``cabine transmitter``: the booth's sender of ePhoto files and numbers, and its
outbox's status."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from cabine.cli.shared import (
    check_base_url,
    check_data_folder,
    check_sqlite_file,
    check_writable,
    console,
    fail,
)

transmitter_app = typer.Typer(
    help="Send the booth's ePhoto files to the operator's collector, or bare numbers to the "
    "registry (runs until SIGTERM or Ctrl-C)."
)


def _transmitter_settings(data: Path | None):  # type: ignore[no-untyped-def]
    from cabine.config import load_settings

    overrides = {"data_dir": data} if data is not None else {}
    return load_settings(**overrides)


BoothDataOption = Annotated[
    Path | None, typer.Option("--data", help="Data folder holding booth.db and keys.toml.")
]
RegistryOption = Annotated[
    str | None,
    typer.Option("--registry", help="Send bare numbers to this registry base URL."),
]
CollectorOption = Annotated[
    str | None,
    typer.Option("--collector", help="Send ePhoto files to this collector base URL."),
]
OnceOption = Annotated[bool, typer.Option("--once", help="Send what is due now, then exit.")]


@transmitter_app.callback(invoke_without_command=True)
def transmitter_main(
    ctx: typer.Context,
    data: BoothDataOption = None,
    registry: RegistryOption = None,
    collector: CollectorOption = None,
    once: OnceOption = False,
) -> None:
    """Send the booth's ePhoto files to the operator's collector (or, with --registry, bare
    numbers to the registry) in signed uploads, retrying until each one is delivered. Exits 0
    on SIGTERM or Ctrl-C after finishing the upload in flight."""
    if ctx.invoked_subcommand is not None:
        return
    _run_transmitter(data, registry, collector, once)


@transmitter_app.command("run")
def transmitter_run(
    data: BoothDataOption = None,
    registry: RegistryOption = None,
    collector: CollectorOption = None,
    once: OnceOption = False,
) -> None:
    """The same as ``cabine transmitter``: files to the collector (default, or --collector
    URL), or bare numbers with --registry URL."""
    _run_transmitter(data, registry, collector, once)


def _run_transmitter(
    data: Path | None, registry: str | None, collector: str | None, once: bool
) -> None:
    import logging

    from transmitter.service import (
        AnotherTransmitterRunning,
        Transmitter,
        config_from_settings,
        hold_stop_signals,
        run_until_signalled,
    )

    for url, option in ((registry, "--registry"), (collector, "--collector")):
        if url is not None:
            check_base_url(url, option)
    if data is not None:
        check_data_folder(data)
    settings = _transmitter_settings(data)
    check_data_folder(settings.data_dir)
    check_writable(settings.data_dir, "data folder")
    check_sqlite_file(settings.data_dir / "booth.db", "booth database")
    if not once:
        hold_stop_signals()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        config = config_from_settings(settings.transmitter, settings.data_dir, registry, collector)
        transmitter = Transmitter(config, settings.clock.make())
    except (FileNotFoundError, ValueError, AnotherTransmitterRunning) as exc:
        raise fail(exc) from None
    if once:
        try:
            report = transmitter.run_once()
        finally:
            transmitter.close()
    else:
        report = run_until_signalled(transmitter)
    if config.sends_files:
        sent = (
            f"{report.codes_sent} files sent in {report.batches_sent} uploads, "
            f"{report.codes_resent} already at the collector"
        )
    else:
        sent = (
            f"{report.codes_sent} codes sent in {report.batches_sent} batches, "
            f"{report.codes_resent} already at the registry"
        )
    typer.echo(
        f"transmitter stopped: {sent}, {report.codes_rejected} rejected, "
        f"{report.failed_attempts} failed attempts, {transmitter.missed_runs} missed runs"
    )
    if once and report.failed_attempts and transmitter.dispatcher.backoff.failures:
        raise typer.Exit(1)


@transmitter_app.command("status")
def transmitter_status(
    data: Annotated[
        Path | None, typer.Option("--data", help="Data folder holding booth.db.")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """The outbox: numbers by state, the oldest one still waiting, the last error."""
    from datetime import timedelta

    from ephoto.clock import format_paris
    from transmitter.outbox import booth_db_url
    from transmitter.service import booth_status

    if data is not None:
        check_data_folder(data)
    settings = _transmitter_settings(data)
    check_sqlite_file(settings.data_dir / "booth.db", "booth database")
    url = settings.transmitter.outbox_url or booth_db_url(settings.data_dir)
    try:
        status = booth_status(
            url, settings.clock.make(), timedelta(days=settings.transmitter.dead_letter_days)
        )
    except FileNotFoundError as exc:
        raise fail(exc) from None
    if json_out:
        typer.echo(json.dumps(status.to_json(), indent=2))
        return
    table = Table(title="transmitter outbox")
    table.add_column("state")
    table.add_column("numbers", justify="right", no_wrap=True)
    for state, n in status.counts.items():
        table.add_row(state, str(n))
    table.add_row("  of which in flight", str(status.in_flight))
    table.add_row("  of which dead-lettered", str(status.dead_letter))
    table.add_row("already at the server when resent", str(status.resent))
    table.add_row("waiting with their ePhoto file", str(status.files_pending))
    console.print(table)
    if status.files_pending:
        from transmitter.latency import upload_seconds

        megabytes = status.file_bytes_pending / 1e6
        uplink = settings.transmitter.uplink_kbps
        # On the wire the images travel in base64: a third more than their bytes.
        seconds = upload_seconds(status.file_bytes_pending * 4 // 3, uplink)
        on_uplink = (
            f", about {seconds / 60:.1f} min on the {uplink:g} kbit/s uplink" if uplink else ""
        )
        console.print(f"files waiting: {megabytes:.1f} MB{on_uplink}")
    age = status.oldest_pending_age
    if age is None:
        console.print("oldest waiting: none")
    else:
        hours, rest = divmod(int(age.total_seconds()), 3600)
        console.print(f"oldest waiting: {hours} h {rest // 60:02d} min")
    if status.last_error:
        when = format_paris(status.last_error_at, settings.lang) if status.last_error_at else "?"
        console.print(f"last error ({when}): {status.last_error}")
    else:
        console.print("last error: none")
    for reason, n in status.rejected_reasons.items():
        console.print(f"rejected x{n}: {reason}")
