"""``cabine registry``: the mock ANTS/ANEF registry's server and the state's public key."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cabine.cli.shared import (
    check_data_folder,
    check_port,
    check_store_url,
    check_writable,
    err_console,
    fail,
)

registry_app = typer.Typer(
    help="The mock ANTS/ANEF registry (runs until SIGTERM or Ctrl-C), and its keys."
)


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
