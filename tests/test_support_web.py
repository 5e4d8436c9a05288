"""The support desk over HTTP: the JSON API, and the "I have a problem to report" form in
headless Chromium for three decisions (typo, refund, wrong product), in French and English."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from ephoto import code as codes
from ephoto.clock import ManualClock
from support.web import create_app
from tests.registry_server import registry_settings, start_threaded
from tests.support_world import START, make_world, serve


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A registry, a booth with three sales a few days old, and the desk's web app."""
    tmp = tmp_path_factory.mktemp("support-web")
    registry = start_threaded(
        f"sqlite:///{tmp / 'registry.db'}", tmp, registry_settings(), ManualClock(START)
    )
    world = make_world(tmp, registry)
    sales = {
        "active": world.buy(),
        "lost": world.buy(),
        "passport": world.buy("passport"),
        "concurrent": world.buy(),
    }
    world.at(sales["active"], minutes=20)
    world.transmit(sales["active"].code)
    world.at(sales["active"], hours=100)
    desk = world.desk()
    app = serve(create_app(desk))
    yield app.url, world, sales
    app.stop()
    registry.stop()


def test_api_answers_a_report_in_both_languages(site):
    url, world, sales = site
    response = httpx.post(f"{url}/v1/reports", json={"code": sales["active"].code.lower()})
    assert response.status_code == 200
    body = response.json()
    assert body["outcome"] == "typo" and body["code"] == sales["active"].code
    assert codes.group(sales["active"].code) in body["message"]["fr"]
    assert codes.group(sales["active"].code) in body["message"]["en"]
    assert body["reference"].startswith("R-")


def test_api_by_sale_number_alone_masks_the_code(site):
    url, _, sales = site
    active = sales["active"]
    response = httpx.post(f"{url}/v1/reports", json={"sale_id": active.sale_ref})
    body = response.json()
    assert body["outcome"] == "works" and body["code"] is None and body["code_hidden"]
    assert body["code_shown"].endswith(codes.group(active.code)[-5:])
    assert active.code not in response.text and codes.group(active.code) not in response.text


def test_api_refuses_an_empty_report_with_the_rule(site):
    url, _, _ = site
    response = httpx.post(f"{url}/v1/reports", json={"code": " ", "sale_id": ""})
    assert response.status_code == 422
    assert "sale id" in response.json()["detail"]


def test_api_eight_identical_reports_at_once_refund_once(site):
    url, world, sales = site
    code = sales["concurrent"].code
    with ThreadPoolExecutor(8) as pool:
        answers = list(
            pool.map(lambda _: httpx.post(f"{url}/v1/reports", json={"code": code}), range(8))
        )
    bodies = [a.json() for a in answers]
    assert {b["outcome"] for b in bodies} == {"refund"}
    assert len({b["reference"] for b in bodies}) == 1
    assert sum(not b["replayed"] for b in bodies) == 1
    refunds = [r for r in world.desk().refunds() if r["code"] == code]
    assert len(refunds) == 1


def screenshot_dir(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("CABINE_SCREENSHOTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.mark.browser
def test_the_form_in_chromium_for_three_decisions(site, tmp_path, browser):
    url, world, sales = site
    shots = screenshot_dir(tmp_path)
    page = browser.new_page(viewport={"width": 900, "height": 1000}, locale="fr-FR")

    # 1. A French browser gets French: a lowercase code gets the right one, grouped, in the big font.
    page.goto(url + "/")
    assert page.locator("html").get_attribute("lang") == "fr"
    assert page.get_by_role("heading", level=1).inner_text() == "J'ai un problème à déclarer"
    page.screenshot(path=str(shots / "support-form-fr.png"), full_page=True)
    page.get_by_label("Numéro ePhoto").fill(sales["active"].code.lower())
    page.get_by_role("button", name="Envoyer ma déclaration").click()
    result = page.get_by_role("status")
    assert result.get_attribute("data-outcome") == "typo"
    assert page.locator("#result-code").inner_text() == codes.group(sales["active"].code)
    assert page.evaluate("document.activeElement.id") == "result"
    page.screenshot(path=str(shots / "support-typo-fr.png"), full_page=True)

    # 2. In English: a number the booth never sent, 100 h after purchase: refunded.
    page.get_by_role("link", name="English").click()
    assert page.locator("html").get_attribute("lang") == "en"
    page.get_by_label("ePhoto number").fill(codes.group(sales["lost"].code))
    page.get_by_role("button", name="Send my report").click()
    result = page.get_by_role("status")
    assert result.get_attribute("data-outcome") == "refund"
    assert "€8.00" in page.locator("#result-message").inner_text()
    page.screenshot(path=str(shots / "support-refund-en.png"), full_page=True)

    # 3. Back in French, by sale number only: a passport sheet has no ePhoto number.
    page.goto(url + "/?lang=fr")
    page.get_by_label("Numéro de vente (facultatif)").fill(sales["passport"].sale_ref)
    page.get_by_role("button", name="Envoyer ma déclaration").click()
    result = page.get_by_role("status")
    assert result.get_attribute("data-outcome") == "not_ephoto_product"
    message = page.locator("#result-message").inner_text()
    assert "Photos d'identité passeport" in message and "ePhoto titre de séjour" in message
    page.screenshot(path=str(shots / "support-wrong-product-fr.png"), full_page=True)

    # An empty form is refused with an alert that says what to enter.
    page.goto(url + "/?lang=en")
    page.get_by_role("button", name="Send my report").click()
    assert "at least" in page.get_by_role("alert").inner_text()
    page.screenshot(path=str(shots / "support-empty-en.png"), full_page=True)
    page.close()

    assert len(world.desk().refunds()) >= 1
