"""What every group of ``cabine`` commands shares: the consoles, the one-line refusal
(:func:`fail`), the checks made before any work, and the options several commands take."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

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


LangOption = Annotated[str, typer.Option("--lang", help="Language of the output: fr or en.")]


ConfigOption = Annotated[
    Path | None, typer.Option("--config", help="TOML configuration file (default: ./cabine.toml).")
]
DataOption = Annotated[
    Path | None, typer.Option("--data", help="Data folder (default: from the configuration).")
]


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
