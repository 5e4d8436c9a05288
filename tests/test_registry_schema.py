"""Schemathesis over the registry's OpenAPI spec, against a real server: whatever the input,
the registry answers with a status it documents, and never with a 5xx.

The operations are driven through hypothesis directly (``APIOperation.as_strategy``): the
schemathesis pytest plugin does not load under this pytest version.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.registry_server import ADMIN_TOKEN, start_threaded

EXAMPLES_PER_OPERATION = 30


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("registry-schema")
    server = start_threaded(f"sqlite:///{tmp / 'registry.sqlite'}", tmp)
    booth = server.booth()
    booth.upload(booth.batch(booth.new_codes(5)))
    yield server
    server.stop()


def operations(url):
    schema = schemathesis.openapi.from_url(url + "/openapi.json")
    return [result.ok() for result in schema.get_all_operations()]


def test_every_documented_operation_is_covered(registry):
    labels = {op.label for op in operations(registry.url)}
    assert {
        "POST /v1/batches",
        "GET /v1/codes/{code}",
        "POST /v1/codes/{code}/redeem",
        "GET /admin/codes/{code}",
        "POST /admin/clock",
        "POST /admin/faults",
        "GET /admin/stats",
    } <= labels


def test_no_input_makes_the_registry_fail(registry):
    failures = []
    for operation in operations(registry.url):
        if operation.label == "POST /admin/faults":
            continue  # fuzzing the fault knobs would make 5xx on purpose
        fuzz(operation, registry.url, failures)
    assert failures == []


def fuzz(operation, url, failures):
    """Up to EXAMPLES_PER_OPERATION generated requests; record each 5xx or undocumented status."""

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def exercise(case):
        if case.path.startswith("/admin"):
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {ADMIN_TOKEN}"}
        response = case.call(base_url=url, timeout=30)
        documented = set(operation.definition.raw["responses"])
        if response.status_code >= 500 or str(response.status_code) not in documented:
            failures.append((operation.label, case.path_parameters, response.status_code))

    exercise()
