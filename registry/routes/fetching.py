"""The state's fetch of a number's file at use, as the routes need it: fetch and check through
the collector client, and record a refused file for the operator (``GET /admin/fetch-failures``).

A collector that is away (:class:`registry.collectors.Unavailable`) is not recorded: the citizen
is told to try again and nothing is wrong with the file.
"""

from __future__ import annotations

import base64
from typing import Any

from registry.collectors import Fetched, FetchOutcome, Refused
from registry.routes.shared import RegistryState
from registry.store import FetchFailure


def fetches_file(registry: RegistryState, code: str) -> bool:
    """Whether using ``code`` needs its file: its operator has a collector in the settings."""
    return registry.collectors is not None and registry.collectors.knows(code)


def fetch_checked(registry: RegistryState, code: str) -> FetchOutcome:
    """``code``'s file from its operator's collector, checked; a refusal is recorded."""
    assert registry.collectors is not None
    # Signed on the shared clock, as booths sign theirs: the QA offset is the registry's own.
    outcome = registry.collectors.fetch(code, registry.clock.now())
    if isinstance(outcome, Refused):
        registry.store.record_fetch_failure(
            FetchFailure(
                code=code,
                operator=code[:4],
                kind=outcome.kind,
                reason=outcome.reason,
                at=registry.store.now(registry.registry_clock),
            )
        )
    return outcome


def file_json(fetched: Fetched) -> dict[str, Any]:
    """The checked file as the API gives it: both images in base64, their digests, the seal."""
    file = fetched.file
    return {
        "photo_jpeg": base64.b64encode(file.photo_jpeg).decode("ascii"),
        "signature_png": base64.b64encode(file.signature_png).decode("ascii"),
        "photo_sha256": file.meta.photo_sha256,
        "signature_sha256": file.meta.signature_sha256,
        "seal": fetched.seal,
        "sealed_at": fetched.sealed_at.isoformat().replace("+00:00", "Z"),
        "collector": fetched.collector_id,
    }
