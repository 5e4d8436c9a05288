"""The registry's HTTP service: booth uploads, the citizen API and page, and the QA admin API.

``create_app(settings, clock, store)`` builds the FastAPI app from the route modules in
``registry.routes`` (one per resource), which share the app's state through the typed
``Registry`` dependency; ``app_from_environment`` is the factory uvicorn workers call
(``cabine registry`` puts the resolved settings in the environment).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from fastapi import FastAPI

from ephoto.clock import Clock, OffsetClock
from ephoto.code import DEFAULT_PREFIX
from ephoto.gcwork import freeze_startup_objects
from ephoto.wire import BoothKey
from registry.keyring import KeyRing
from registry.ratelimit import CitizenLimits
from registry.routes import admin, batches, citizen, page
from registry.routes.shared import RegistryState
from registry.settings import RegistryRuntime, RegistrySettings
from registry.store import RegistryStore

RUNTIME_ENV = "CABINE_REGISTRY_RUNTIME"


def create_app(
    settings: RegistrySettings,
    clock: Clock,
    store: RegistryStore,
    *,
    keys: Mapping[str, BoothKey] | None = None,
    operator_prefix: str = DEFAULT_PREFIX,
) -> FastAPI:
    """The registry app. ``keys`` replaces the keys file (tests); the accepted code prefixes
    for citizens are ``operator_prefix`` and every booth operator in the keys."""
    if settings.admin_enabled and not settings.admin_token:
        raise ValueError("registry admin_enabled needs admin_token: the /admin API is protected")
    state = RegistryState(
        settings=settings,
        clock=clock,
        registry_clock=OffsetClock(clock),
        store=store,
        keyring=KeyRing(None if keys is not None else settings.keys_file, keys),
        limits=CitizenLimits(
            settings.rate_limit_failed_per_client,
            settings.rate_limit_global,
            settings.rate_limit_storage,
        ),
        products=dict(settings.products),
        operator_prefix=operator_prefix,
    )
    app = FastAPI(
        title="cabine registry (mock ANTS / ANEF)",
        version="1",
        description="Booth uploads, citizen checks and redemption of ePhoto numbers. "
        "A simulation for testing, not the official service.",
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
    return app


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
