"""`cabine support report`: the operator's command line for a customer's report, reading the
booth file and the registry named in the configuration (here, environment overrides)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from typer.testing import CliRunner

from cabine.cli import app
from ephoto.clock import ManualClock, SystemClock
from kiosk.catalog import load_catalog
from kiosk.ledger import BOOTH_DB_FILE, Ledger
from tests.kiosk_harness import customer
from tests.pgcluster import free_port
from tests.registry_server import ADMIN_TOKEN, registry_settings, start_threaded

runner = CliRunner()


@pytest.fixture
def booth(tmp_path):
    """A booth whose sales were made 100 h ago (the command runs on the real clock), and a
    registry on loopback that never received anything."""
    registry = start_threaded(
        f"sqlite:///{tmp_path / 'registry.db'}", tmp_path, registry_settings(), ManualClock()
    )
    clock = ManualClock(SystemClock().now() - timedelta(hours=100))
    ledger = Ledger(tmp_path / BOOTH_DB_FILE, clock, booth_id="booth-001")
    catalog = load_catalog()
    sales = {}
    for product_id in ("ephoto-permis", "passport"):
        product = catalog.get(product_id)
        sale_id = ledger.open_sale(product, "fr")
        issued = ledger.issue(sale_id, "card", product.price.cents, **customer(product))
        sales[product_id] = (ledger.sale(sale_id).display_id(), issued.code)
    ledger.dispose()
    env = {
        "CABINE_DATA_DIR": str(tmp_path),
        "CABINE_SUPPORT__REGISTRY_URL": registry.url,
        "CABINE_SUPPORT__REGISTRY_ADMIN_TOKEN": ADMIN_TOKEN,
    }
    yield env, sales
    registry.stop()


def test_report_by_sale_id_of_a_passport_sheet_says_no_refund_in_json(booth):
    env, sales = booth
    result = runner.invoke(
        app, ["support", "report", "--sale", sales["passport"][0], "--json"], env=env
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["outcome"] == "not_ephoto_product" and body["refund_cents"] is None


def test_report_of_a_never_sent_number_refunds_once_and_says_so_when_asked_again(booth):
    env, sales = booth
    code = sales["ephoto-permis"][1]
    first = runner.invoke(app, ["support", "report", "--code", code, "--lang", "en"], env=env)
    assert first.exit_code == 0, first.output
    assert "refund" in first.output and "€8.00" in first.output
    again = runner.invoke(app, ["support", "report", "--code", code, "--json"], env=env)
    body = json.loads(again.output)
    assert body["outcome"] == "refund" and body["replayed"] is True


def test_log_lists_each_report_with_its_decision_and_the_refund(booth):
    env, sales = booth
    code = sales["ephoto-permis"][1]
    for _ in range(2):
        runner.invoke(app, ["support", "report", "--code", code], env=env)
    result = runner.invoke(app, ["support", "log", "--json"], env=env)
    assert result.exit_code == 0, result.output
    log = json.loads(result.output)
    assert [(r["outcome"], r["replayed"]) for r in log["reports"]] == [
        ("refund", False),
        ("refund", True),
    ]
    [refund] = log["refunds"]
    assert refund["code"] == code and refund["amount_cents"] == 800 and refund["requeued"]
    table = runner.invoke(app, ["support", "log"], env=env, terminal_width=200)
    assert table.exit_code == 0 and "8,00" in table.output and "refunds" in table.output


def test_report_with_the_registry_down_exits_3_and_names_it(booth):
    env, sales = booth
    env = {**env, "CABINE_SUPPORT__REGISTRY_URL": f"http://127.0.0.1:{free_port()}"}
    result = runner.invoke(app, ["support", "report", "--code", sales["ephoto-permis"][1]], env=env)
    assert result.exit_code == 3
    assert "registry at http://127.0.0.1" in result.output


def test_report_with_nothing_to_look_up_exits_2():
    result = runner.invoke(app, ["support", "report"])
    assert result.exit_code == 2
    assert "sale id" in result.output
