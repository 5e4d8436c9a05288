"""The ``cabine`` command: one subcommand per job."""

from __future__ import annotations

import contextlib
import gc
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from cabine import __version__
from cabine.compare_cli import compare_command
from cabine.fleet_cli import fleet_app
from ephoto import code as codes

if TYPE_CHECKING:
    from concurrent.futures import Future

    from simulation.report import ReportFiles
    from simulation.scenario import Scenario

app = typer.Typer(
    name="cabine",
    help="Simulator of a French photo booth that issues ePhoto numbers.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
code_app = typer.Typer(help="Generate and check ePhoto numbers.", no_args_is_help=True)
config_app = typer.Typer(help="Configuration file tools.", no_args_is_help=True)
support_app = typer.Typer(
    help="The support desk: problem reports about ePhoto numbers, refunds.", no_args_is_help=True
)
app.add_typer(code_app, name="code")
app.add_typer(config_app, name="config")
transmitter_app = typer.Typer(
    help="Send the booth's ePhoto files to the operator's collector, or bare numbers to the "
    "registry (runs until SIGTERM or Ctrl-C)."
)
app.add_typer(transmitter_app, name="transmitter")
registry_app = typer.Typer(
    help="The mock ANTS/ANEF registry (runs until SIGTERM or Ctrl-C), and its keys."
)
app.add_typer(registry_app, name="registry")
app.add_typer(support_app, name="support")
collector_app = typer.Typer(
    help="The operator's collector: receives, checks and seals the booths' ePhoto files.",
    no_args_is_help=True,
)
app.add_typer(collector_app, name="collector")
clock_app = typer.Typer(
    help="The clock every process of a live session shares (QA moves it once for all).",
    no_args_is_help=True,
)
app.add_typer(clock_app, name="clock")
app.add_typer(fleet_app, name="fleet")

console = Console()
err_console = Console(stderr=True)


def fail(message: object, code: int = 2) -> typer.Exit:
    """Say what is wrong in one line on stderr (plain text, never wrapped) and give the exit
    to raise: ``raise fail(f"--port {port}: ...")``. The message names the bad value."""
    text = " ".join(str(message).split())
    typer.echo(text, err=True)
    return typer.Exit(code)


SQLITE_HEADER = b"SQLite format 3\x00"


def check_sqlite_file(path: Path, what: str) -> None:
    """Refuse, before anything is written, a database file that is not SQLite (random bytes, a
    folder): every command that opens one would otherwise end in a long traceback."""
    if path.is_dir():
        raise fail(f"{what} {path} is a folder, not a database file")
    try:
        with path.open("rb") as handle:
            head = handle.read(len(SQLITE_HEADER))
    except FileNotFoundError:
        return
    except OSError as exc:
        raise fail(f"{what} {path} cannot be read: {exc.strerror}") from None
    if head and head != SQLITE_HEADER:
        raise fail(f"{what} {path} is not an SQLite database (damaged or another kind of file)")


def folder_problem(path: Path, what: str) -> str | None:
    """Why ``path`` cannot be a folder, or None: it is a file, or a file stands where one of
    the folders above it would be created."""
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if probe.is_dir():
        return None
    if probe == path:
        return f"{what} {path} is a file, not a folder"
    return f"{what} {path} cannot be created: {probe} is a file"


def check_data_folder(path: Path) -> None:
    """Refuse a data folder that is a file, before anything is created."""
    problem = folder_problem(path, "data folder")
    if problem is not None:
        raise fail(problem)


def writable_problem(path: Path, what: str) -> str | None:
    """Why this user cannot write ``path`` (a folder or file), or None: ``path`` itself if it
    exists, else the nearest folder above it that exists (where it would be created). Decided by
    the permission bits and the mount (``os.access``), so it holds for a read-only folder, a
    read-only mount and a folder of another user alike."""
    import os

    if path.exists() and not path.is_dir():
        if not os.access(path, os.W_OK):
            return f"{what} {path} is read-only for this user"
        path = path.parent
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not os.access(probe, os.W_OK | os.X_OK):
        where = "" if probe == path else f" (folder {probe})"
        return f"{what} {path} cannot be written{where}: read-only for this user"
    return None


def check_writable(path: Path, what: str) -> None:
    """Refuse, before any work, a folder or file this user cannot write."""
    problem = writable_problem(path, what)
    if problem is not None:
        raise fail(problem)


def check_lang(lang: str) -> None:
    from ephoto.texts import check_language

    try:
        check_language(lang)
    except ValueError as exc:
        raise fail(exc) from None


def check_port(port: int | None) -> None:
    if port is not None and not 1 <= port <= 65535:
        raise fail(f"port {port} is outside 1-65535")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"cabine {__version__}")
        raise typer.Exit()


@app.callback()
def main_callback(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """Simulator of a French photo booth that issues ePhoto numbers."""


@app.command()
def products(
    json_out: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    lang: Annotated[str, typer.Option(help="Language of the names: fr or en.")] = "fr",
) -> None:
    """List the catalogue: which products issue an ePhoto number, and their prices."""
    from kiosk.catalog import CatalogError, load_catalog

    check_lang(lang)
    try:
        catalog = load_catalog()
    except CatalogError as exc:
        raise fail(exc) from None
    if json_out:
        rows = [
            {
                "id": p.id,
                "category": p.category,
                "name_fr": p.name_fr,
                "name_en": p.name_en,
                "ephoto": p.ephoto,
                "procedure": p.procedure,
                "site": p.site,
                "price_cents": p.price.cents,
                "photos": p.photos,
                "layout": p.layout,
            }
            for p in catalog
        ]
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    from cabine.tables import whole_table

    # Ids and prices are never cut: in 80 columns the layout (in --json) is left out so that
    # the names keep room to wrap between words.
    with_layout = console.width >= 100
    columns = ["id", "name", "ePhoto number", "site", "price", "photos"]
    lines = [
        [
            p.id,
            p.name(lang),
            "[bold green]YES[/bold green]" if p.ephoto else "[dim]no[/dim]",
            p.site or "-",
            p.price.format(lang),
            str(p.photos),
        ]
        + ([p.layout] if with_layout else [])
        for p in catalog
    ]
    table = whole_table("cabine catalogue", columns + (["layout"] if with_layout else []), lines, 1)
    console.print(table)


@code_app.command("new")
def code_new(
    count: Annotated[int, typer.Option(min=1, max=1_000_000, help="How many codes.")] = 1,
    operator: Annotated[
        str, typer.Option(help="Operator prefix, 4 characters A-Z 0-9.")
    ] = codes.DEFAULT_PREFIX,
) -> None:
    """Print fresh ePhoto numbers, one per line."""
    try:
        lines = [codes.generate(operator).value for _ in range(count)]
    except ValueError as exc:
        raise fail(exc) from None
    typer.echo("\n".join(lines))


@code_app.command("check")
def code_check(
    code: Annotated[str, typer.Argument(help="The number as typed (spaces and dashes allowed).")],
    json_out: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    operator: Annotated[
        list[str] | None, typer.Option(help="Accepted operator prefix (repeatable).")
    ] = None,
) -> None:
    """Check a number: exit 0 if well-formed, 1 if not, listing each problem and likely fixes."""
    import re

    for prefix in operator or ():
        if not re.fullmatch(r"[A-Z0-9]{4}", prefix):
            raise fail(f"operator prefix {prefix!r} must be 4 characters from A-Z and 0-9")
    prefixes = tuple(operator) if operator else (codes.DEFAULT_PREFIX,)
    problems = codes.problems_in(code, prefixes)
    found = codes.candidates(code, prefixes) if problems else []
    if json_out:
        typer.echo(
            json.dumps(
                {
                    "code": codes.normalize(code),
                    "valid": not problems,
                    "problems": [{"rule": p.rule, "detail": p.detail} for p in problems],
                    "candidates": found,
                }
            )
        )
    elif not problems:
        typer.echo(f"valid: {codes.group(codes.normalize(code))}")
    else:
        typer.echo(f"not valid: {codes.normalize(code)}")
        for p in problems:
            typer.echo(f"  - {p.rule}: {p.detail}")
        if found:
            typer.echo("did you mean:")
            for c in found:
                typer.echo(f"  {codes.group(c)}")
        else:
            typer.echo("no likely intended code found")
    raise typer.Exit(0 if not problems else 1)


@app.command()
def sheet(
    product: Annotated[str, typer.Option(help="Catalogue product id (see `cabine products`).")],
    out: Annotated[Path, typer.Option(help="Output file, .png or .pdf.")],
    code: Annotated[
        str | None,
        typer.Option(help="The ePhoto number to print; a fresh one if omitted (ePhoto only)."),
    ] = None,
    lang: Annotated[str, typer.Option(help="Language of the sheet: fr or en.")] = "fr",
    photo: Annotated[
        Path | None, typer.Option(help="Picture to print instead of a synthetic portrait.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic portrait.")] = 1,
    sale: Annotated[str | None, typer.Option(help="Sale id printed on the sheet.")] = None,
) -> None:
    """Render a product's printed sheet; for an ePhoto product without --code, print the
    freshly generated number on stdout."""
    import secrets

    from cabine.config import load_settings
    from ephoto.texts import check_language
    from kiosk.camera import CameraError, load_photo, synthetic_portrait
    from kiosk.catalog import load_catalog
    from kiosk.receipt import FORMATS, SheetInfo, render_sheet, write_sheet

    try:
        check_language(lang)
        settings = load_settings()
        chosen = load_catalog().get(product)
    except (ValueError, KeyError, FileNotFoundError) as exc:
        raise fail(str(exc.args[0] if isinstance(exc, KeyError) else exc)) from None
    if out.suffix.lower() not in FORMATS:
        raise fail(f"output {out} must end in .png or .pdf, not {out.suffix or 'nothing'!r}")
    generated = False
    if chosen.ephoto:
        if code is None:
            issued = codes.generate(settings.operator.prefix)
            generated = True
        else:
            try:
                issued = codes.parse(code, prefixes=(settings.operator.prefix,))
            except codes.InvalidCode as exc:
                raise fail(f"code {code!r} is not a valid ePhoto number: {exc}") from None
    elif code is not None:
        raise fail(f"product {chosen.id!r} issues no ePhoto number: --code is for ePhoto products")
    else:
        issued = None
    if photo is not None:
        check_picture_size(photo)
    try:
        picture = load_photo(photo) if photo is not None else synthetic_portrait(seed)
    except CameraError as exc:
        raise fail(str(exc)) from None
    info = SheetInfo(
        product=chosen,
        code=issued,
        issued_at=settings.clock.make().now(),
        booth_id=settings.kiosk.booth_id,
        sale_id=sale or f"CLI-{secrets.token_hex(3).upper()}",
    )
    try:
        write_sheet(render_sheet(info, [picture], lang), out)
    except OSError as exc:
        raise fail(f"cannot write {out}: {exc.strerror or exc}") from None
    if generated and issued is not None:
        typer.echo(issued.value)


MAX_PICTURE_PIXELS = 40_000_000
"""The largest picture ``sheet --photo`` decodes (a 40 MP camera's; about 120 MB in RGB): a
larger one, or one whose header lies about its size (a decompression bomb), is refused before
decoding."""


def check_picture_size(path: Path) -> None:
    import warnings

    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            # Its size is judged here, in one line: no library warning on stderr.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as opened:
                width, height = opened.size
    except Image.DecompressionBombError:
        raise fail(f"photo file {path} is far too large to decode (decompression bomb)") from None
    except (UnidentifiedImageError, OSError):
        return  # load_photo says what is wrong with it
    if width * height > MAX_PICTURE_PIXELS:
        raise fail(
            f"photo file {path} is {width} x {height} pixels; at most "
            f"{MAX_PICTURE_PIXELS // 1_000_000} million pixels are accepted"
        )


def _parse_size(size: str) -> tuple[int, int]:
    try:
        width, height = (int(part) for part in size.lower().split("x"))
    except ValueError:
        raise fail(f"--size {size!r} must look like 1920x1080") from None
    if not (320 <= width <= 7680 and 240 <= height <= 4320):
        raise fail(f"--size {size!r} is outside 320x240 .. 7680x4320")
    return width, height


@app.command()
def kiosk(
    data: Annotated[
        Path | None, typer.Option("--data", help="Data folder (booth.db, photos, prints).")
    ] = None,
    fullscreen: Annotated[bool, typer.Option(help="Fill the screen.")] = False,
    size: Annotated[
        str | None, typer.Option(help="Window size WxH (default from the config, 1920x1080).")
    ] = None,
    headless: Annotated[
        bool, typer.Option(help="No screen: SDL's dummy video driver (for scripts and CI).")
    ] = False,
    script: Annotated[
        Path | None, typer.Option(help="TOML file of taps and waits to perform, then exit.")
    ] = None,
    screenshots: Annotated[
        Path | None, typer.Option(help="Save a screenshot here at every state change.")
    ] = None,
    hash_pin: Annotated[
        str | None,
        typer.Option("--hash-pin", help="Print the hash of this operator PIN for the config."),
    ] = None,
) -> None:
    """Run the booth's touchscreen: sale flow, issuing, printing and the operator menu."""
    from datetime import timedelta

    from cabine.config import load_settings
    from kiosk.operator import hash_pin as make_pin_hash

    if hash_pin is not None:
        try:
            typer.echo(make_pin_hash(hash_pin))
        except ValueError as exc:
            raise fail(exc) from None
        return
    window = _parse_size(size) if size else None
    if data is not None:
        check_data_folder(data)
    settings = load_settings(**({"data_dir": data} if data is not None else {}))
    window = window or (settings.kiosk.width, settings.kiosk.height)
    if script is not None and not script.is_file():
        raise fail(f"script {script} does not exist")
    if script is not None:
        from kiosk.ui.script import ScriptError, load_script

        try:  # the whole script is checked before the booth starts
            load_script(script)
        except ScriptError as exc:
            raise fail(exc) from None
    check_data_folder(settings.data_dir)
    check_writable(settings.data_dir, "data folder")
    check_sqlite_file(settings.data_dir / "booth.db", "booth database")
    from kiosk.booth import Booth

    if headless or script is not None:
        from kiosk.ui.app import use_dummy_video

        use_dummy_video()
    try:
        booth = Booth.from_settings(
            settings.kiosk,
            settings.data_dir,
            settings.clock.make(),
            operator_prefix=settings.operator.prefix,
            batch_window=timedelta(minutes=settings.transmitter.batch_window_minutes),
            default_lang=settings.lang,
            headless=headless or script is not None,
        )
    except ValueError as exc:
        raise fail(exc) from None
    # The printer's status names the printer itself (``cups:QUEUE: idle``, ``file:PATH``).
    err_console.print(f"printer {booth.printer.status().detail}", markup=False, soft_wrap=True)
    if booth.device_problem is not None:
        err_console.print(f"maintenance: {booth.device_problem.detail}", markup=False)
    try:
        if script is not None:
            from kiosk.ui.script import ScriptError, run_headless

            if not headless:
                err_console.print("scripts always run headless (SDL dummy video driver)")
            try:
                report = run_headless(booth, script, screenshots, window)
            except ScriptError as exc:
                raise fail(exc) from None
            typer.echo(" -> ".join(report.states))
            if screenshots is not None:
                typer.echo(f"{len(report.screenshots)} screenshots in {screenshots}")
            if not report.ok:
                err_console.print(f"[red]{report.error}[/red]")
                raise typer.Exit(1)
            return
        from kiosk.ui.app import KioskApp, use_dummy_video

        if headless:
            use_dummy_video()
        KioskApp(
            booth,
            size=window,
            fullscreen=fullscreen or settings.kiosk.fullscreen,
            screenshots=screenshots,
        ).run()
    finally:
        booth.close()


@config_app.command("example")
def config_example(
    out: Annotated[Path | None, typer.Option(help="Write to this file instead of stdout.")] = None,
) -> None:
    """Print the documented example configuration generated from the schema."""
    from cabine.config import example_toml

    text = example_toml()
    if out is None:
        typer.echo(text, nl=False)
        return
    if not out.parent.is_dir():
        raise fail(f"cannot write {out}: folder {out.parent} does not exist")
    if out.is_dir():
        raise fail(f"cannot write {out}: it is a folder")
    check_writable(out, "output file")
    out.write_text(text, encoding="utf-8")


def check_base_url(url: str, option: str) -> None:
    """Refuse a base URL that is not http(s)://host[:port][/path]."""
    import httpx

    try:
        parsed = httpx.URL(url)
        port = parsed.port
    except (httpx.InvalidURL, ValueError, TypeError):
        raise fail(f"{option} {url!r} is not a URL like http://127.0.0.1:8700") from None
    if parsed.scheme not in ("http", "https") or not parsed.host or " " in url:
        raise fail(f"{option} {url!r} is not a URL like http://127.0.0.1:8700")
    if port is not None and not 1 <= port <= 65535:
        raise fail(f"{option} {url!r}: port {port} is outside 1-65535")


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


def check_store_url(db_url: str, what: str = "registry database") -> None:
    """Refuse a store URL SQLAlchemy cannot use, or an SQLite file that is not a database."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(db_url)
        url.get_dialect()
    except (ArgumentError, ValueError) as exc:
        raise fail(f"--db {db_url!r} is not a database URL SQLAlchemy can use: {exc}") from None
    if url.get_backend_name() == "sqlite" and url.database:
        check_sqlite_file(Path(url.database), what)


@registry_app.callback(invoke_without_command=True)
def registry_serve(
    ctx: typer.Context,
    host: Annotated[
        str | None, typer.Option(help="Address to listen on (default 127.0.0.1).")
    ] = None,
    port: Annotated[
        int | None, typer.Option(min=1, max=65535, help="Port to listen on (default 8700).")
    ] = None,
    db: Annotated[
        str | None,
        typer.Option(help="SQLAlchemy URL of the store (default: SQLite in the data folder)."),
    ] = None,
    data: Annotated[Path | None, typer.Option(help="Data folder (default from config).")] = None,
    keys: Annotated[
        Path | None, typer.Option(help="Booth keys file (default: keys.toml in the data folder).")
    ] = None,
    workers: Annotated[int | None, typer.Option(min=1, max=16, help="uvicorn workers.")] = None,
    clock_scale: Annotated[
        float | None, typer.Option(help="Domain seconds per real second (overrides [clock]).")
    ] = None,
    clock_epoch: Annotated[
        str | None, typer.Option(help="ISO 8601 instant the scaled clock runs from.")
    ] = None,
    config: Annotated[Path | None, typer.Option(help="Configuration file.")] = None,
) -> None:
    """Run the mock ANTS/ANEF registry: booth uploads, citizen checks and page, QA admin."""
    if ctx.invoked_subcommand is not None:
        return
    import os

    import uvicorn

    from cabine.config import load_settings
    from ephoto.clock import SystemClock, parse_utc
    from registry.app import RUNTIME_ENV, collector_client
    from registry.serving import PROTOCOL as NODELAY_PROTOCOL
    from registry.settings import RegistryRuntime
    from registry.store import RegistryStore

    check_port(port)
    if clock_epoch is not None:
        try:
            epoch = parse_utc(clock_epoch)
        except ValueError:
            raise fail(
                f"--clock-epoch {clock_epoch!r} is not an ISO 8601 instant with its offset"
            ) from None
    settings = load_settings(config)
    data_dir = data or settings.data_dir
    check_data_folder(data_dir)
    check_writable(data_dir, "data folder")
    chosen = settings.registry
    db_url = db or chosen.db_url or f"sqlite:///{(data_dir / 'registry.sqlite').resolve()}"
    keys_file = keys or chosen.keys_file or data_dir / "keys.toml"
    check_store_url(db_url)
    if keys_file.exists():
        # Checked here, once: a bad file must not become a traceback in every worker.
        from ephoto.wire import BoothKeysError, load_booth_keys

        try:
            load_booth_keys(keys_file)
        except BoothKeysError as exc:
            raise fail(exc) from None
    data_dir.mkdir(parents=True, exist_ok=True)
    chosen = chosen.model_copy(
        update={
            "host": host or chosen.host,
            "port": int(port) if port else chosen.port,
            "workers": int(workers) if workers else chosen.workers,
            "db_url": db_url,
            "keys_file": keys_file.resolve(),
            "fetch_key_file": _state_key_file(chosen.fetch_key_file, data_dir),
            "collectors": {
                prefix: link.model_copy(update={"public_key_file": link.public_key_file.resolve()})
                for prefix, link in chosen.collectors.items()
            },
        }
    )
    try:
        # Made and read once here (the state's key on first start, each operator's public
        # key), before workers race to make it, and so that a bad file is named at once.
        client = collector_client(chosen)
    except (ValueError, OSError) as exc:
        raise fail(exc) from None
    if client is not None:
        client.close()
    clock = settings.clock.model_copy(
        update={k: v for k, v in {"scale": clock_scale}.items() if v is not None}
    )
    if clock_epoch is not None:
        clock = clock.model_copy(update={"epoch": epoch})
    if clock.scale != 1.0 and clock.epoch is None:
        # Every worker must run the same scaled clock: fix its epoch now.
        clock = clock.model_copy(update={"epoch": SystemClock().now()})
    runtime = RegistryRuntime(
        registry=chosen, clock=clock, operator_prefix=settings.operator.prefix
    )
    # Create the schema once, before workers race to do it.
    RegistryStore.from_url(db_url, chosen.ingestion_model()).dispose()
    os.environ[RUNTIME_ENV] = runtime.model_dump_json()
    err_console.print(
        f"registry on http://{chosen.host}:{chosen.port} ({chosen.workers} worker(s)), "
        f"store {db_url.split('@')[-1]}, keys {keys_file}"
    )
    uvicorn.run(
        "registry.app:app_from_environment",
        factory=True,
        host=chosen.host,
        port=chosen.port,
        workers=chosen.workers,
        proxy_headers=bool(chosen.forwarded_allow_ips),
        forwarded_allow_ips=chosen.forwarded_allow_ips or None,
        http=NODELAY_PROTOCOL,
        log_level="warning",
        timeout_graceful_shutdown=5,
    )


def _collector_fail(key: str, reason: object, lang: str) -> typer.Exit:
    from ephoto.texts import texts

    err_console.print(
        texts("collector", lang).get(key, reason=reason), markup=False, soft_wrap=True
    )
    return typer.Exit(2)


@collector_app.command("serve")
def collector_serve(
    host: Annotated[
        str | None, typer.Option(help="Address to listen on (default 127.0.0.1).")
    ] = None,
    port: Annotated[
        str | None, typer.Option(help="Port to listen on, 1-65535 (default 8720).")
    ] = None,
    db: Annotated[
        str | None,
        typer.Option(help="SQLAlchemy URL of the store (default: SQLite in the data folder)."),
    ] = None,
    data: Annotated[Path | None, typer.Option(help="Data folder (default from config).")] = None,
    workers: Annotated[str | None, typer.Option(help="uvicorn workers, 1-16.")] = None,
    registry: Annotated[
        str | None, typer.Option(help="Registry base URL to register numbers with.")
    ] = None,
    config: Annotated[Path | None, typer.Option(help="Configuration file.")] = None,
) -> None:
    """Run the operator's collector: booth uploads, the state's fetch, registration, retention."""
    import os

    import uvicorn
    from pydantic import ValidationError
    from sqlalchemy.exc import ArgumentError, OperationalError

    from cabine.config import load_settings
    from collector.app import RUNTIME_ENV
    from collector.keys import (
        keys_file,
        load_state_keys,
        registration_secret,
        seal_key_file,
        state_key_path,
    )
    from collector.service import CollectorJobs
    from collector.settings import DB_FILE, CollectorRuntime, CollectorSettings
    from collector.store import CollectorStore
    from ephoto.clock import SystemClock
    from ephoto.seal import KeyFileError, load_or_create_private_key
    from ephoto.serving import PROTOCOL as NODELAY_PROTOCOL
    from ephoto.texts import texts

    try:
        settings = load_settings(config)
    except (ValidationError, FileNotFoundError, ValueError) as exc:
        reason = str(exc).replace("\n", " ")
        raise _collector_fail("error.setting", reason, "fr") from None
    lang = settings.lang
    data_dir = data or settings.data_dir
    given = {"host": host, "port": port, "workers": workers, "registry_url": registry}
    try:
        CollectorSettings.model_validate(
            {**settings.collector.model_dump(), **{k: v for k, v in given.items() if v}}
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]).replace("registry_url", "registry")
        reason = f"--{name} {given.get(str(first['loc'][0]))!r}: {first['msg']}"
        raise _collector_fail("error.setting", reason, lang) from None
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        reason = f"data folder {data_dir}: {exc.strerror}"
        raise _collector_fail("error.setting", reason, lang) from None
    problem = writable_problem(data_dir, "data folder")
    if problem is not None:
        raise _collector_fail("error.setting", problem, lang)
    chosen = settings.collector
    db_url = db or chosen.db_url or f"sqlite:///{(data_dir / DB_FILE).resolve()}"
    chosen = chosen.model_copy(
        update={
            "host": host or chosen.host,
            "port": int(port) if port else chosen.port,
            "workers": int(workers) if workers else chosen.workers,
            "db_url": db_url,
            "keys_file": keys_file(chosen, data_dir).resolve(),
            "registry_url": registry or chosen.registry_url,
        }
    )
    if chosen.admin_enabled and not chosen.admin_token:
        raise _collector_fail("error.setting", "admin_enabled needs admin_token", lang)
    # Everything that can be refused is checked before the sealing key is made on first use.
    check_store_url(db_url, "collector database")
    try:
        load_state_keys(state_key_path(chosen, data_dir))
    except KeyFileError as exc:
        raise _collector_fail("error.state_key", exc, lang) from None
    try:
        secret = registration_secret(keys_file(chosen, data_dir), settings.operator.prefix)
    except KeyFileError as exc:
        raise _collector_fail("error.registration_key", exc, lang) from None
    try:
        seal_key = load_or_create_private_key(seal_key_file(chosen, data_dir))
    except (KeyFileError, OSError) as exc:
        raise _collector_fail("error.seal_key", exc, lang) from None
    clock = settings.clock
    if clock.scale != 1.0 and clock.epoch is None:
        clock = clock.model_copy(update={"epoch": SystemClock().now()})
    runtime = CollectorRuntime(
        collector=chosen,
        clock=clock,
        operator_prefix=settings.operator.prefix,
        data_dir=data_dir.resolve(),
    )
    try:
        # The schema once, before workers race to make it.
        CollectorStore.from_url(db_url).dispose()
    except (ArgumentError, OperationalError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        reason = f"--db {db_url.split('@')[-1]}: {reason}"
        raise _collector_fail("error.setting", reason, lang) from None
    os.environ[RUNTIME_ENV] = runtime.model_dump_json()
    jobs = CollectorJobs(chosen, db_url, clock.make(), settings.operator.prefix, secret)
    t = texts("collector", lang)
    err_console.print(
        t.get(
            "serve.started",
            url=f"http://{chosen.host}:{chosen.port}",
            workers=chosen.workers,
            store=db_url.split("@")[-1],
            seal_key=seal_key_file(chosen, data_dir),
            registry=chosen.registry_url,
        ),
        markup=False,
        soft_wrap=True,
    )
    del seal_key  # made now if missing; each worker loads it
    jobs.start()
    try:
        uvicorn.run(
            "collector.app:app_from_environment",
            factory=True,
            host=chosen.host,
            port=chosen.port,
            workers=chosen.workers,
            http=NODELAY_PROTOCOL,
            log_level="warning",
            timeout_graceful_shutdown=5,
        )
    finally:
        jobs.stop()
        err_console.print(t.get("serve.stopped"), markup=False, soft_wrap=True)


@collector_app.command("public-key")
def collector_public_key(
    data: Annotated[Path | None, typer.Option(help="Data folder (default from config).")] = None,
    config: Annotated[Path | None, typer.Option(help="Configuration file.")] = None,
) -> None:
    """Print the collector's sealing public key (PEM), made on first use: the state is
    configured with it to verify this operator's seals."""
    from cabine.config import load_settings
    from collector.keys import seal_key_file
    from ephoto.seal import KeyFileError, load_or_create_private_key, public_pem

    settings = load_settings(config)
    data_dir = data or settings.data_dir
    try:
        key = load_or_create_private_key(seal_key_file(settings.collector, data_dir))
    except (KeyFileError, OSError) as exc:
        raise _collector_fail("error.seal_key", exc, settings.lang) from None
    typer.echo(public_pem(key).decode(), nl=False)


def _state_key_file(configured: Path | None, data_dir: Path) -> Path:
    from registry.settings import FETCH_KEY_FILE

    return (configured or data_dir / FETCH_KEY_FILE).resolve()


@registry_app.command("public-key")
def registry_public_key(
    data: Annotated[Path | None, typer.Option(help="Data folder (default from config).")] = None,
    out: Annotated[
        Path | None, typer.Option(help="Write the PEM to this file instead of printing it.")
    ] = None,
    config: Annotated[Path | None, typer.Option(help="Configuration file.")] = None,
) -> None:
    """Print the state's public key (PEM), which each collector needs to accept its fetches;
    the key pair is made on first use."""
    from cabine.config import load_settings
    from ephoto.seal import KeyFileError, load_or_create_private_key, public_pem

    settings = load_settings(config)
    path = _state_key_file(settings.registry.fetch_key_file, data or settings.data_dir)
    try:
        pem = public_pem(load_or_create_private_key(path)).decode("ascii")
    except (KeyFileError, OSError) as exc:
        raise fail(exc) from None
    if out is None:
        typer.echo(pem, nl=False)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(pem, encoding="ascii")
    err_console.print(f"the state's public key is in {out}")


@app.command("booth-key")
def booth_key(
    booth_id: Annotated[str, typer.Argument(help="The booth's id, e.g. booth-001.")],
    operator: Annotated[
        str | None, typer.Option(help="Operator prefix of its codes (default from config).")
    ] = None,
    keys: Annotated[
        Path | None, typer.Option(help="Keys file (default: the registry's keys file).")
    ] = None,
    config: Annotated[Path | None, typer.Option(help="Configuration file.")] = None,
) -> None:
    """Give a booth a signing key in the keys file (kept if it already has one)."""
    from cabine.config import load_settings
    from ephoto.wire import BoothKeysError, add_booth_key

    settings = load_settings(config)
    path = keys or settings.registry.keys_file or settings.data_dir / "keys.toml"
    if not path.is_dir():  # a folder is refused by add_booth_key, naming it
        check_writable(path, "keys file")
    try:
        key = add_booth_key(path, booth_id, operator or settings.operator.prefix)
    except BoothKeysError as exc:
        raise fail(exc) from None
    typer.echo(f"booth {key.booth_id} (operator {key.operator}) has a key in {path}")


LangOption = Annotated[str, typer.Option("--lang", help="Language of the output: fr or en.")]


def command_line(ctx: typer.Context) -> str:
    """The command being run: ``cabine``, the subcommand path and every argument and option
    the user set on the command line (defaults left out), in the command's own order."""
    import shlex

    words = ["cabine", *ctx.command_path.split()[1:]]
    for param in ctx.command.params:
        name = param.name or ""
        source = ctx.get_parameter_source(name)
        if source is None or source.name != "COMMANDLINE":
            continue
        value = ctx.params.get(name)
        if param.param_type_name == "argument":
            words.append(str(value))
        elif getattr(param, "is_flag", False):
            chosen = param.opts if value else param.secondary_opts or param.opts
            words.append(chosen[0])
        else:
            for one in value if isinstance(value, list | tuple) else [value]:
                words += [param.opts[0], str(one)]
    return shlex.join(words)


def _scenario_problem(exc: Exception, words) -> str:  # type: ignore[no-untyped-def]
    """A scenario refusal in the command's language where the catalogue has its words."""
    from simulation.scenario import ScenarioNotFound, SweepFileGiven

    if isinstance(exc, ScenarioNotFound):
        return words("error.not_found", path=exc.path, names=", ".join(exc.bundled))
    if isinstance(exc, SweepFileGiven):
        return words("error.sweep_file", path=exc.path)
    return str(exc)


@app.command()
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
        from cabine.fleet_cli import simulate_replay

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


@app.command()
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


app.command("compare")(compare_command)

plan_app = typer.Typer(help="Capacity planning on the fleet simulator.", no_args_is_help=True)
app.add_typer(plan_app, name="plan")


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


scenarios_app = typer.Typer(
    help="Replay each case of the operator's FAQ with the real components.", no_args_is_help=True
)
app.add_typer(scenarios_app, name="scenarios")


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


ConfigOption = Annotated[
    Path | None, typer.Option("--config", help="TOML configuration file (default: ./cabine.toml).")
]
DataOption = Annotated[
    Path | None, typer.Option("--data", help="Data folder (default: from the configuration).")
]


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


def _session_file(data: Path | None, config: Path | None, lang: str | None) -> tuple[Path, str]:
    """The live session's file (``[clock] session_file``, or the demo's in the data folder) and
    the language to speak; exit 2 on a language we do not have."""
    from cabine.config import load_settings
    from cabine.demo import SESSION_FILE

    settings = load_settings(config, **({"data_dir": data} if data is not None else {}))
    chosen = lang or settings.lang
    if chosen not in ("fr", "en"):
        typer.echo(f"language {chosen!r}: choose fr or en", err=True)
        raise typer.Exit(2)
    return settings.clock.session_file or settings.data_dir / SESSION_FILE, chosen


def _say_session_time(path: Path, lang: str) -> None:
    from cabine.demo import recorded_clock
    from ephoto.clock import format_paris
    from ephoto.texts import texts

    t = texts("demo", lang)
    clock = recorded_clock(path)
    if clock is not None:
        typer.echo(t.get("clock.now", now=format_paris(clock.now(), lang)))


@clock_app.command("advance", context_settings={"ignore_unknown_options": True})
def clock_advance(
    hours: Annotated[str, typer.Argument(help="Hours of domain time to move forward (e.g. 72).")],
    data: Annotated[Path | None, typer.Option(help="Data folder (default from config).")] = None,
    lang: Annotated[str | None, typer.Option(help="Language: fr or en.")] = None,
    config: Annotated[Path | None, typer.Option(help="Configuration file.")] = None,
) -> None:
    """Move the live session's clock forward for every process at once: the registry, the
    transmitter, the support desk and the booth each pick the move up within a moment."""
    import math
    from datetime import timedelta

    from ephoto.clock import advance_session_offset
    from ephoto.texts import texts

    path, chosen = _session_file(data, config, lang)
    t = texts("demo", chosen)
    try:
        amount = float(hours)
    except ValueError:
        amount = math.nan
    if not math.isfinite(amount) or amount < 0 or amount > 10 * 366 * 24:
        typer.echo(t.get("clock.bad_hours", hours=hours), err=True)
        raise typer.Exit(2)
    try:
        offset = advance_session_offset(path, timedelta(hours=amount))
    except (OSError, ValueError) as exc:
        typer.echo(t.get("clock.bad_file", file=path, reason=exc), err=True)
        raise typer.Exit(2) from None
    hours_total = offset.total_seconds() / 3600
    typer.echo(t.get("clock.moved", hours=f"{amount:g}", total=f"{hours_total:g}", file=path))
    _say_session_time(path, chosen)


@clock_app.command("show")
def clock_show(
    data: Annotated[Path | None, typer.Option(help="Data folder (default from config).")] = None,
    lang: Annotated[str | None, typer.Option(help="Language: fr or en.")] = None,
    config: Annotated[Path | None, typer.Option(help="Configuration file.")] = None,
) -> None:
    """Show how far QA has moved the live session's clock, and the session's time."""
    from ephoto.clock import read_session_file, session_offset
    from ephoto.texts import texts

    path, chosen = _session_file(data, config, lang)
    t = texts("demo", chosen)
    try:
        offset = session_offset(read_session_file(path), path)
    except (OSError, ValueError) as exc:
        typer.echo(t.get("clock.bad_file", file=path, reason=exc), err=True)
        raise typer.Exit(2) from None
    hours_total = offset.total_seconds() / 3600
    typer.echo(t.get("clock.offset", total=f"{hours_total:g}", file=path))
    _say_session_time(path, chosen)


@app.command()
def demo(
    data: Annotated[
        Path | None, typer.Option("--data", help="Data folder (default from the config).")
    ] = None,
    scale: Annotated[
        float, typer.Option(min=1, help="Domain seconds per real second (3600: 1 h per second).")
    ] = 3600.0,
    headless: Annotated[
        bool,
        typer.Option(help="No window: a scripted customer (the default without a display)."),
    ] = False,
    registry_port: Annotated[int, typer.Option(help="Port of the registry.")] = 8700,
    support_port: Annotated[int, typer.Option(help="Port of the support desk.")] = 8710,
    collector_port: Annotated[int, typer.Option(help="Port of the operator's collector.")] = 8720,
    lang: Annotated[str | None, typer.Option(help="Language: fr or en.")] = None,
    config: Annotated[Path | None, typer.Option(help="Configuration file.")] = None,
    keep_running: Annotated[
        bool,
        typer.Option(
            help="Afterwards keep the registry, collector and support desk up until Ctrl-C."
        ),
    ] = False,
) -> None:
    """Run the whole booth on one machine (registry, collector, transmitter, support desk and
    kiosk).

    The services run on loopback on one scaled clock; the kiosk opens in a window, or a scripted
    customer buys and follows a number when there is no display. Closing the window follows the
    number bought in it; the summary page, screenshots and fetched files are in the data
    folder."""
    from cabine.config import load_settings
    from cabine.demo import DemoError, has_display, run_demo

    for option, port in (
        ("--registry-port", registry_port),
        ("--support-port", support_port),
        ("--collector-port", collector_port),
    ):
        if not 1 <= port <= 65535:
            raise fail(f"{option} {port} is outside 1-65535")
    if data is not None:
        check_data_folder(data)
    overrides = {"data_dir": data} if data is not None else {}
    settings = load_settings(config, **overrides)
    chosen_lang = lang or settings.lang
    if chosen_lang not in ("fr", "en"):
        err_console.print(f"[red]language {chosen_lang!r}: choose fr or en[/red]")
        raise typer.Exit(2)
    from ephoto.texts import texts

    t = texts("demo", chosen_lang)
    if not headless and not has_display():
        console.print(t.get("run.headless"), markup=False, highlight=False)
        headless = True

    def show_table(rows: list[list[str]], columns: list[str], title: str) -> None:
        from cabine.tables import whole_table

        console.print(whole_table(title, columns, rows))

    try:
        run_demo(
            settings,
            scale=scale,
            headless=headless,
            registry_port=registry_port,
            support_port=support_port,
            collector_port=collector_port,
            lang=chosen_lang,
            say=lambda line: console.print(line, markup=False, highlight=False, soft_wrap=True),
            show_table=show_table,
            keep_running=keep_running,
        )
    except DemoError as exc:
        raise fail(exc, 1) from None
    except KeyboardInterrupt:
        console.print(t.get("run.stopped"), markup=False, highlight=False)
        raise typer.Exit(130) from None


def one_line_error(exc: BaseException) -> str | None:
    """The one line that says what is wrong, for the kinds of error bad arguments, bad files and
    bad data folders end in; None for anything else (a bug: its traceback is wanted)."""
    import sqlite3

    from PIL import Image
    from pydantic import ValidationError
    from sqlalchemy.exc import ArgumentError, DatabaseError

    if isinstance(exc, typer.TyperException):  # typer's usage errors: bad options, values
        format_message = getattr(exc, "format_message", None)
        line = format_message() if callable(format_message) else str(exc)
        cause = exc.__cause__
        if isinstance(cause, ValidationError) and cause.errors():
            line += f" (got {cause.errors()[0].get('input')!r})"
        return line
    if isinstance(exc, ValidationError):
        parts = []
        for error in exc.errors()[:3]:
            where = ".".join(str(p) for p in error["loc"]) or exc.title
            parts.append(f"{where}: {error['msg']} (got {str(error.get('input'))[:60]!r})")
        return "; ".join(parts)
    if isinstance(exc, OSError):
        names = " -> ".join(str(f) for f in (exc.filename, exc.filename2) if f is not None)
        return f"{names}: {exc.strerror or exc}" if names else str(exc)
    if isinstance(exc, DatabaseError | sqlite3.DatabaseError):
        detail = getattr(exc, "orig", None) or exc
        return f"a database cannot be used: {str(detail).splitlines()[0]}"
    if isinstance(exc, ArgumentError):
        return str(exc)
    if isinstance(exc, UnicodeDecodeError):
        return f"a file is not UTF-8 text ({exc.reason} at byte {exc.start})"
    if isinstance(exc, Image.DecompressionBombError):
        return f"a picture is too large to decode: {exc}"
    if isinstance(exc, MemoryError):
        return "not enough memory for this work; make it smaller"
    if isinstance(exc, ValueError):
        return str(exc)
    return None


def main() -> None:
    """``cabine``: a known kind of error (bad argument, bad file, bad data folder) ends in one
    line on stderr and exit code 2, never a traceback; commands say more where they can."""
    import sys

    try:
        code = app(standalone_mode=False)
    except typer.Abort:
        typer.echo("aborted", err=True)
        sys.exit(130)
    except Exception as exc:
        line = one_line_error(exc)
        if line is None:
            raise
        typer.echo(" ".join(line.split()), err=True)
        sys.exit(2)
    # The command is done and its files are closed: the interpreter need not search the
    # objects of every module it loaded for cycles on the way out (0.06 s of `cabine simulate`,
    # the same for every command); the system takes the memory back.
    gc.freeze()
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
