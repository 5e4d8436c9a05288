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


@pytest.fixture(scope="module")
def attacker_site():
    """A page on another origin that posts the report form to the desk as soon as it opens:
    what a hostile site would do to a visitor of the desk."""
    from fastapi import FastAPI
    from fastapi.responses import HTMLResponse

    from tests.support_world import serve

    hostile = FastAPI()
    target: dict[str, str] = {}

    @hostile.get("/")
    def lure() -> HTMLResponse:
        return HTMLResponse(
            f"""<!doctype html><html><body>
            <form id="f" method="post" action="{target["url"]}/">
              <input name="code" value="{target["code"]}">
              <input name="lang" value="en">
              <input name="form_token" value="guessed">
            </form>
            <script>document.getElementById("f").submit();</script>
            </body></html>"""
        )

    server = serve(hostile)
    yield server.url, target
    server.stop()


@pytest.mark.browser
def test_a_form_posted_from_another_site_records_nothing(site, attacker_site, browser):
    """Issue 18 item 2: a visitor of a hostile page, who used the desk before (so has its
    cookie), must not file a report, nor get a refund recorded, through that page."""
    url, world, _ = site
    victim = world.buy()
    world.at(victim, hours=100)
    hostile_url, target = attacker_site
    target.update(url=url, code=victim.code)
    context = browser.new_context()
    page = context.new_page()
    page.goto(url + "/?lang=en")  # the visitor's earlier visit: the desk's cookie is set
    with page.expect_response(
        lambda r: r.url.rstrip("/") == url and r.request.method == "POST"
    ) as posted:
        page.goto(hostile_url + "/")
    assert posted.value.status == 403
    assert "another site" in page.get_by_role("alert").inner_text()
    refunds = [r for r in world.desk().refunds() if r["code"] == victim.code]
    assert refunds == []
    assert all(r["typed"] != victim.code for r in world.desk().audit_log())
    # The same visitor, on the desk's own page, files the report and is refunded.
    page.goto(url + "/?lang=en")
    page.get_by_label("ePhoto number").fill(victim.code)
    page.get_by_role("button", name="Send my report").click()
    assert page.get_by_role("status").get_attribute("data-outcome") == "refund"
    context.close()


def test_api_refuses_a_report_sent_from_another_origin(site):
    url, world, _ = site
    victim = world.buy()
    world.at(victim, hours=100)
    response = httpx.post(
        f"{url}/v1/reports", json={"code": victim.code}, headers={"Origin": "http://evil.test"}
    )
    assert response.status_code == 403
    assert [r for r in world.desk().refunds() if r["code"] == victim.code] == []


def test_reports_that_prove_nothing_are_rate_limited_per_client(site):
    """Issue 18 item 1: walking through sale numbers is slowed down like the registry's
    failed checks: past the limit, every report from that client gets 429."""
    from support.settings import SupportSettings
    from tests.support_world import serve

    _, world, sales = site
    app = serve(create_app(world.desk(), SupportSettings(rate_limit_failed_per_client="3/hour")))
    try:
        for number in range(1, 4):
            answer = httpx.post(f"{app.url}/v1/reports", json={"sale_id": str(number)})
            assert answer.status_code == 200
        refused = httpx.post(f"{app.url}/v1/reports", json={"sale_id": "4"})
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
        # Even the holder's own report waits: the client is refused until its window ends.
        held = httpx.post(f"{app.url}/v1/reports", json={"code": sales["active"].code})
        assert held.status_code == 429
    finally:
        app.stop()


def test_reports_with_the_number_are_not_counted_as_failures(site):
    from support.settings import SupportSettings
    from tests.support_world import serve

    _, world, sales = site
    app = serve(create_app(world.desk(), SupportSettings(rate_limit_failed_per_client="2/hour")))
    try:
        for _ in range(5):
            answer = httpx.post(f"{app.url}/v1/reports", json={"code": sales["active"].code})
            assert answer.status_code == 200
    finally:
        app.stop()


@pytest.mark.parametrize("body", ['{"code": NaN}', '{"sale_id": Infinity}', '{"code": -Infinity}'])
def test_api_answers_non_finite_numbers_with_422(site, body):
    url, _, _ = site
    response = httpx.post(
        f"{url}/v1/reports", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"][:2] == ["body", body[2:-1].split('"')[0]]


def test_api_echoes_only_a_short_excerpt_of_a_bad_body(site):
    url, _, _ = site
    huge = "Z" * 60_000
    response = httpx.post(f"{url}/v1/reports", json={"code": huge})
    assert response.status_code == 422
    assert len(response.content) < 1_000 and "ZZZZ" in response.text
    extra = httpx.post(f"{url}/v1/reports", json={"code": "x", huge: 1})
    assert extra.status_code == 422 and len(extra.content) < 1_000


def test_oversized_bodies_are_refused_with_413_declared_or_streamed(site):
    url, _, _ = site
    declared = httpx.post(
        f"{url}/v1/reports",
        content=b"{" + b" " * 200_000 + b"}",
        headers={"Content-Type": "application/json"},
    )
    assert declared.status_code == 413

    def chunks():
        yield b'{"code": "'
        for _ in range(100):
            yield b"A" * 4096
        yield b'"}'

    streamed = httpx.post(
        f"{url}/v1/reports", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert streamed.status_code == 413
    form = httpx.post(
        f"{url}/", content=chunks(), headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert form.status_code == 413
