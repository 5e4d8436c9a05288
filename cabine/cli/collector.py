"""``cabine collector``: the operator's collector server and its sealing public key;
refusals in the run's language."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cabine.cli.shared import check_store_url, err_console, writable_problem

collector_app = typer.Typer(
    help="The operator's collector: receives, checks and seals the booths' ePhoto files.",
    no_args_is_help=True,
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
