"""Schemathesis over the support desk's OpenAPI spec, against a real desk on a real booth ledger
and a real registry: whatever the input, the desk answers with a status it documents, and never
with a 5xx (as tests/test_registry_schema.py does for the registry)."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from ephoto.clock import ManualClock
from support.web import create_app
from tests.registry_server import registry_settings, start_threaded
from tests.support_world import START, make_world, serve

EXAMPLES_PER_OPERATION = 40


@pytest.fixture(scope="module")
def desk(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("support-schema")
    registry = start_threaded(
        f"sqlite:///{tmp / 'registry.db'}", tmp, registry_settings(), ManualClock(START)
    )
    world = make_world(tmp, registry)
    for product in ("ephoto-permis", "passport", "ephoto-permis"):
        world.buy(product)
    world.at(world.buy(), hours=100)
    app = serve(create_app(world.desk()))
    yield app.url
    app.stop()
    registry.stop()


def operations(url):
    schema = schemathesis.openapi.from_url(url + "/openapi.json")
    return [result.ok() for result in schema.get_all_operations()]


def test_every_documented_operation_is_covered(desk):
    labels = {op.label for op in operations(desk)}
    assert {"POST /v1/reports", "GET /", "POST /"} <= labels


def test_no_input_makes_the_support_desk_fail(desk):
    failures = []
    for operation in operations(desk):
        fuzz(operation, desk, failures)
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
        response = case.call(base_url=url, timeout=30)
        documented = set(operation.definition.raw["responses"])
        if response.status_code >= 500 or str(response.status_code) not in documented:
            failures.append((operation.label, case.body, response.status_code))

    exercise()
