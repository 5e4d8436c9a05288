"""The registry's HTTP service: booth uploads, the citizen API and page, and the QA admin API.

``create_app(settings, clock, store)`` builds the FastAPI app from the route modules in
``registry.routes`` (one per resource), which share the app's state through the typed
``Registry`` dependency; ``app_from_environment`` is the factory uvicorn workers call
(``cabine registry`` puts the resolved settings in the environment).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI

from ephoto.clock import Clock
from ephoto.code import DEFAULT_PREFIX
from ephoto.gcwork import freeze_startup_objects
from ephoto.httpguard import install as install_guards
from ephoto.seal import load_or_create_private_key
from ephoto.wire import BoothKey
from registry.collectors import CollectorClient, load_collector
from registry.keyring import KeyRing
from registry.ratelimit import CitizenLimits
from registry.routes import admin, batches, citizen, page
from registry.routes.shared import RegistryState
from registry.settings import RegistryRuntime, RegistrySettings
from registry.store import RegistryClock, RegistryStore

RUNTIME_ENV = "CABINE_REGISTRY_RUNTIME"


def create_app(
    settings: RegistrySettings,
    clock: Clock,
    store: RegistryStore,
    *,
    keys: Mapping[str, BoothKey] | None = None,
    operator_prefix: str = DEFAULT_PREFIX,
    fetch_key: Ed25519PrivateKey | None = None,
) -> FastAPI:
    """The registry app. ``keys`` replaces the keys file (tests); the accepted code prefixes
    for citizens are ``operator_prefix`` and every booth operator in the keys. ``fetch_key``
    replaces the state's key file (tests).

    Raises ValueError (or :class:`ephoto.seal.KeyFileError`, one) naming what is wrong in
    the settings."""
    if settings.admin_enabled and not settings.admin_token:
        raise ValueError("registry admin_enabled needs admin_token: the /admin API is protected")
    collectors = collector_client(settings, fetch_key)
    state = RegistryState(
        settings=settings,
        clock=clock,
        registry_clock=RegistryClock(clock),
        store=store,
        keyring=KeyRing(None if keys is not None else settings.keys_file, keys),
        limits=CitizenLimits(
            settings.rate_limit_failed_per_client,
            settings.rate_limit_global,
            settings.rate_limit_storage,
        ),
        products=dict(settings.products),
        operator_prefix=operator_prefix,
        collectors=collectors,
    )
    app = FastAPI(
        title="cabine registry (mock ANTS / ANEF)",
        version="1",
        description="Booth uploads, citizen checks and redemption of ePhoto numbers. "
        "A simulation for testing, not the official service.",
    )
    install_guards(
        app, max_body_bytes=settings.max_body_bytes, body_timeout=settings.body_timeout_seconds
    )
    app.state.registry = state
    app.state.store = store
    app.state.clock = state.registry_clock
    app.state.limits = state.limits
    app.state.keyring = state.keyring
    app.include_router(batches.router)
    app.include_router(citizen.router)
    app.include_router(page.router)
    if settings.admin_enabled:
        app.include_router(admin.router)
    if collectors is not None:
        app.router.on_shutdown.append(collectors.close)
    return app


def collector_client(
    settings: RegistrySettings, fetch_key: Ed25519PrivateKey | None = None
) -> CollectorClient | None:
    """The client for the collectors in the settings (None when there are none), signing with
    ``fetch_key`` or the state's key file, made on first use."""
    if not settings.collectors:
        return None
    if fetch_key is None:
        if settings.fetch_key_file is None:
            raise ValueError("registry collectors need fetch_key_file, the state's signing key")
        fetch_key = load_or_create_private_key(settings.fetch_key_file)
    links = {
        prefix: load_collector(prefix, link.url, link.public_key_file)
        for prefix, link in settings.collectors.items()
    }
    return CollectorClient(
        links,
        fetch_key,
        timeout_seconds=settings.fetch_timeout_seconds,
        retry_after_seconds=settings.fetch_retry_after_seconds,
    )


def app_from_runtime(runtime: RegistryRuntime) -> FastAPI:
    settings = runtime.registry
    if settings.db_url is None:
        raise ValueError("the registry runtime needs a resolved db_url")
    store = RegistryStore.from_url(settings.db_url, settings.ingestion_model())
    return create_app(
        settings, runtime.clock.make(), store, operator_prefix=runtime.operator_prefix
    )


def app_from_environment() -> FastAPI:
    """The factory uvicorn workers call: settings come as JSON in ``CABINE_REGISTRY_RUNTIME``."""
    raw = os.environ.get(RUNTIME_ENV)
    if not raw:
        raise RuntimeError(f"{RUNTIME_ENV} is not set; start the registry with `cabine registry`")
    app = app_from_runtime(RegistryRuntime.model_validate_json(raw))
    freeze_startup_objects()
    return app
