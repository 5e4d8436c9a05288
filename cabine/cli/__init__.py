"""The ``cabine`` command: the Typer app, its commands in the order ``cabine --help`` lists
them, and :func:`main`, which turns a known kind of error into one line. Each group of commands
lives in its own module: the booth (``booth``), the services (``transmitter``, ``registry``,
``support``, ``collector``), QA (``simulate``, ``sweep``, ``compare``, ``fleet``,
``scenarios``) and a live session (``session``); what they share is in ``shared``."""

from __future__ import annotations

import gc
from typing import Annotated

import typer

from cabine import __version__
from cabine.cli.booth import code_app, kiosk, products, sheet
from cabine.cli.collector import collector_app
from cabine.cli.compare import compare_command
from cabine.cli.fleet import fleet_app
from cabine.cli.registry import registry_app
from cabine.cli.scenarios import scenarios_app
from cabine.cli.session import booth_key, clock_app, config_app, demo
from cabine.cli.simulate import simulate
from cabine.cli.support import support_app
from cabine.cli.sweep import plan_app, sweep
from cabine.cli.transmitter import transmitter_app

app = typer.Typer(
    name="cabine",
    help="Simulator of a French photo booth that issues ePhoto numbers.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


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


# The order of registration is the order `cabine --help` and the CLI reference list them in
# (commands first, then groups).
app.command()(products)
app.command()(sheet)
app.command()(kiosk)
app.command("booth-key")(booth_key)
app.command()(simulate)
app.command()(sweep)
app.command("compare")(compare_command)
app.command()(demo)
app.add_typer(code_app, name="code")
app.add_typer(config_app, name="config")
app.add_typer(transmitter_app, name="transmitter")
app.add_typer(registry_app, name="registry")
app.add_typer(support_app, name="support")
app.add_typer(collector_app, name="collector")
app.add_typer(clock_app, name="clock")
app.add_typer(fleet_app, name="fleet")
app.add_typer(plan_app, name="plan")
app.add_typer(scenarios_app, name="scenarios")


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
