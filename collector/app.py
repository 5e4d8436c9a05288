"""The collector's HTTP service: booth uploads, the state's fetch, and the QA admin API.

``create_app(settings, clock, store, ...)`` builds the FastAPI app from the route modules in
``collector.routes`` (one per resource), behind ``ephoto.httpguard`` (a bound on request
bodies, short validation answers); ``app_from_environment`` is the factory uvicorn workers
call (``cabine collector serve`` puts the resolved settings in the environment).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from fastapi import FastAPI

from collector.keys import keys_file, load_state_keys, seal_key_file, state_key_path
from collector.routes import admin, fetch, uploads
from collector.routes.shared import CollectorState
from collector.settings import CollectorRuntime, CollectorSettings, collector_id
from collector.store import CollectorStore
from ephoto.clock import Clock
from ephoto.code import DEFAULT_PREFIX
from ephoto.epfile import MAX_UPLOAD_BYTES
from ephoto.gcwork import freeze_startup_objects
from ephoto.httpguard import install as install_guards
from ephoto.keyring import KeyRing
from ephoto.seal import load_or_create_private_key
from ephoto.wire import BoothKey

RUNTIME_ENV = "CABINE_COLLECTOR_RUNTIME"


def create_app(
    settings: CollectorSettings,
    clock: Clock,
    store: CollectorStore,
    *,
    seal_key: Ed25519PrivateKey,
    state_keys: Mapping[str, Ed25519PublicKey],
    keys: Mapping[str, BoothKey] | None = None,
    operator_prefix: str = DEFAULT_PREFIX,
) -> FastAPI:
    """The collector app. ``keys`` replaces the keys file (tests)."""
    if settings.admin_enabled and not settings.admin_token:
        raise ValueError("collector admin_enabled needs admin_token: the /admin API is protected")
    state = CollectorState(
        settings=settings,
        clock=clock,
        store=store,
        keyring=KeyRing(None if keys is not None else settings.keys_file, keys),
        seal_key=seal_key,
        state_keys=dict(state_keys),
        collector_id=collector_id(operator_prefix),
        retention_margin=timedelta(days=settings.retention_margin_days),
    )
    app = FastAPI(
        title="cabine collector (the operator's secure server)",
        version="1",
        description="Booth uploads of ePhoto files, the state's fetch, and a QA admin API. "
        "A simulation for testing, not an official service.",
    )
    app.state.collector = state
    app.include_router(uploads.router)
    app.include_router(fetch.router)
    if settings.admin_enabled:
        app.include_router(admin.router)
    install_guards(app, max_body_bytes=MAX_UPLOAD_BYTES)
    return app


def app_from_runtime(runtime: CollectorRuntime) -> FastAPI:
    settings = runtime.collector
    db_url = settings.db_url
    if db_url is None:
        raise ValueError("the collector runtime needs a resolved db_url")
    data_dir = runtime.data_dir
    settings = settings.model_copy(update={"keys_file": keys_file(settings, data_dir)})
    store = CollectorStore.from_url(db_url)
    return create_app(
        settings,
        runtime.clock.make(),
        store,
        seal_key=load_or_create_private_key(seal_key_file(settings, data_dir)),
        state_keys=load_state_keys(state_key_path(settings, data_dir)),
        operator_prefix=runtime.operator_prefix,
    )


def app_from_environment() -> FastAPI:
    """The factory uvicorn workers call: settings come as JSON in ``CABINE_COLLECTOR_RUNTIME``."""
    raw = os.environ.get(RUNTIME_ENV)
    if not raw:
        raise RuntimeError(f"{RUNTIME_ENV} is not set; start the collector with `cabine collector`")
    app = app_from_runtime(CollectorRuntime.model_validate_json(raw))
    freeze_startup_objects()
    return app
