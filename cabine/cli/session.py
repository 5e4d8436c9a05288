"""A live session on one machine: ``cabine demo``, its shared ``cabine clock``, the
``cabine config`` example and ``cabine booth-key``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cabine.cli.shared import check_data_folder, check_writable, console, err_console, fail

config_app = typer.Typer(help="Configuration file tools.", no_args_is_help=True)


clock_app = typer.Typer(
    help="The clock every process of a live session shares (QA moves it once for all).",
    no_args_is_help=True,
)


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
