"""The citizen check page in headless Chromium: type a number, choose the procedure, read the
answer in plain words, in French or English, with labelled form fields."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.registry_server import start_threaded

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("registry-page")
    server = start_threaded(f"sqlite:///{tmp / 'registry.sqlite'}", tmp)
    yield server
    server.stop()


@pytest.fixture
def page(browser, registry):
    context = browser.new_context(locale="fr-FR", viewport={"width": 900, "height": 900})
    page = context.new_page()
    page.goto(registry.url + "/")
    yield page
    context.close()


@pytest.fixture(scope="module")
def codes(registry):
    """One number in each state the page can show."""
    booth = registry.booth()
    active, used, expiring = booth.new_codes(3)
    booth.upload(booth.batch([active, used, expiring]))
    registry.clock.advance(timedelta(hours=1))
    registry.store.redeem(used, "permis", registry.app_clock())
    pending = booth.new_codes(1)[0]
    booth.upload(booth.batch([pending]))
    return {"active": active, "used": used, "pending": pending, "unknown": booth.new_codes(1)[0]}


def submit(page, code, procedure_label="Permis de conduire (ANTS)"):
    page.get_by_label("Numéro ePhoto (22 caractères)").fill(code)
    page.get_by_label(procedure_label).check()
    page.get_by_role("button", name="Vérifier").click()
    result = page.get_by_role("status")
    result.wait_for()
    return result


def test_the_form_fields_have_labels_and_the_page_a_language(page):
    assert page.locator("html").get_attribute("lang") == "fr"
    assert page.get_by_label("Numéro ePhoto (22 caractères)").is_visible()
    assert page.get_by_role("radio", name="Permis de conduire (ANTS)").is_checked()
    assert page.get_by_role("radio", name="Titre de séjour (ANEF)").is_visible()


def test_an_active_number_reads_valid(page, codes, tmp_path):
    result = submit(page, codes["active"])
    assert result.get_attribute("data-status") == "active"
    assert "Numéro valide" in result.inner_text()
    assert "une seule fois" in result.inner_text()
    page.screenshot(path=str(tmp_path / "active.png"), full_page=True)


def test_a_lowercase_number_asks_for_capitals(page, codes):
    result = submit(page, codes["active"].lower())
    assert result.get_attribute("data-status") == "malformed"
    assert "majuscules" in result.inner_text()


def test_a_pending_number_reads_unknown_with_the_72_hour_advice(page, codes):
    result = submit(page, codes["pending"], "Titre de séjour (ANEF)")
    assert result.get_attribute("data-status") == "not_found"
    assert "72 heures" in result.inner_text() and "0 et O" in result.inner_text()
    assert page.get_by_role("radio", name="Titre de séjour (ANEF)").is_checked()


def test_a_used_number_says_when(page, codes):
    result = submit(page, codes["used"])
    assert result.get_attribute("data-status") == "used"
    assert "déjà servi le" in result.inner_text()


def mistyped(code: str) -> str:
    """``code`` with one character swapped for its look-alike (0/O, 1/I, 5/S, 8/B, 2/Z), as a
    citizen copying it by hand might."""
    from ephoto.code import _CONFUSABLE

    for i, c in enumerate(code[4:], start=4):
        if c in _CONFUSABLE:
            return code[:i] + _CONFUSABLE[c] + code[i + 1 :]
    raise ValueError(f"{code} has no look-alike character")


@pytest.fixture(scope="module")
def confusable(registry, codes):
    """An active number with a look-alike character in it, to be mistyped."""
    from ephoto.code import _CONFUSABLE

    booth = registry.booth()
    code = next(c for c in booth.new_codes(40) if any(ch in _CONFUSABLE for ch in c[4:]))
    booth.upload(booth.batch([code], issued_at=registry.clock.now() - timedelta(hours=2)))
    registry.clock.advance(timedelta(hours=1))
    return code


def test_a_mistyped_number_gets_the_correction_the_desk_and_code_check_give(
    page, confusable, tmp_path
):
    import json
    import subprocess
    import sys

    from ephoto import code as codes_
    from support.rules import Report, resolve

    typo = mistyped(confusable)
    result = submit(page, typo)
    assert result.get_attribute("data-status") == "malformed"
    said = result.locator("p").first.inner_text()
    # Every number one look-alike away that passes the check is proposed (another than the
    # right one, about once in forty numbers), the right one among them.
    assert "Vouliez-vous saisir : " in said and codes_.group(confusable) in said
    # The same numbers `cabine code check` proposes, and the one the support desk finds.
    checked = subprocess.run(
        [sys.executable, "-m", "cabine.cli", "code", "check", "--json", typo],
        capture_output=True,
        text=True,
        timeout=60,
    )
    proposed = json.loads(checked.stdout)["candidates"]
    buttons = result.get_by_role("button")
    assert [b.inner_text() for b in buttons.all()] == [
        f"Vérifier {codes_.group(c)}" for c in proposed
    ]
    page.screenshot(path=str(tmp_path / "mistyped.png"), full_page=True)
    desk = resolve(
        Report(code=typo),
        sale_by_id=lambda _: None,
        sale_by_code=lambda c: object() if c == confusable else None,  # type: ignore[arg-type,return-value]
    )
    assert desk.matched_by == "typo" and confusable in proposed
    # One tap checks the number it proposes.
    result.get_by_role("button", name=f"Vérifier {codes_.group(confusable)}").click()
    result = page.get_by_role("status")
    assert result.get_attribute("data-status") == "active"
    assert page.get_by_label("Numéro ePhoto (22 caractères)").input_value() == confusable


def test_an_empty_field_gets_one_sentence(page):
    from ephoto.texts import texts

    result = submit(page, "")
    assert result.get_attribute("data-status") == "malformed"
    assert result.locator("p").first.inner_text() == texts("registry", "fr").get("status.empty")
    assert "0 caractères" not in result.inner_text()


@pytest.mark.parametrize("garbage", ["bonjour !", "mon numéro ?", "12345"])
def test_text_that_is_no_number_gets_one_sentence_not_every_rule(page, garbage):
    from ephoto.texts import texts

    result = submit(page, garbage)
    assert result.get_attribute("data-status") == "malformed"
    said = result.locator("p").first.inner_text()
    assert said == texts("registry", "fr").get("status.not_a_number", prefix="9PMT")
    assert said.count(".") == 1


def test_a_short_number_still_names_its_length(page, codes):
    result = submit(page, codes["active"][:21])
    assert "21 caractères" in result.inner_text()


def test_an_expired_number_says_since_when(browser, registry, codes):
    context = browser.new_context(locale="en-GB")
    page = context.new_page()
    try:
        registry.clock.advance(timedelta(days=200))
        page.goto(registry.url + "/")
        assert page.locator("html").get_attribute("lang") == "en"
        page.get_by_label("ePhoto number (22 characters)").fill(codes["active"])
        page.get_by_role("button", name="Check").click()
        result = page.get_by_role("status")
        assert result.get_attribute("data-status") == "expired"
        assert "stopped being valid on" in result.inner_text()
    finally:
        context.close()


def test_the_language_link_switches_to_english(page):
    page.get_by_role("link", name="English").click()
    assert page.get_by_role("heading", name="Check an ePhoto number").is_visible()
    assert page.get_by_label("ePhoto number (22 characters)").is_visible()


@pytest.fixture(scope="module")
def fetching_registry(tmp_path_factory):
    """A registry fetching files from a collector on loopback (tests.fake_collector)."""
    from ephoto.seal import generate_key
    from registry.settings import CollectorLink
    from tests.fake_collector import FakeCollector
    from tests.registry_server import registry_settings

    tmp = tmp_path_factory.mktemp("registry-page-fetch")
    collector = FakeCollector().start()
    state_key = generate_key()
    collector.trust_state(state_key)
    link = CollectorLink(url=collector.url, public_key_file=collector.public_key_file(tmp))
    server = start_threaded(
        f"sqlite:///{tmp / 'registry.sqlite'}",
        tmp,
        settings=registry_settings(collectors={"9PMT": link}),
        fetch_key=state_key,
    )
    collector.now = server.clock.now
    yield server, collector
    server.stop()
    collector.stop()


def test_an_active_number_shows_its_photo_and_signature_is_this_you(browser, fetching_registry):
    from tests.test_registry_fetch import file_for

    registry, collector = fetching_registry
    booth = registry.booth()
    code = booth.new_codes(1)[0]
    issued = registry.clock.now()
    booth.upload(booth.batch([code], issued_at=issued))
    registry.clock.advance(timedelta(hours=1))
    collector.add(file_for(code, issued))
    context = browser.new_context(locale="fr-FR", viewport={"width": 900, "height": 1200})
    page = context.new_page()
    try:
        page.goto(registry.url + "/")
        result = submit(page, code)
        assert result.get_attribute("data-status") == "active"
        assert page.get_by_role("heading", name="Est-ce bien vous ?").is_visible()
        photo = page.get_by_role("img", name="Votre photo d'identité")
        signature = page.get_by_role("img", name="Votre signature")
        # Decoded and drawn by the browser at their own pixel size.
        assert photo.evaluate("img => [img.complete, img.naturalWidth, img.naturalHeight]") == [
            True,
            413,
            531,
        ]
        assert signature.evaluate("img => img.naturalWidth") == 600
        assert registry.store.find(code).redeemed_at is None
    finally:
        context.close()


def test_the_api_gives_the_same_correction_in_english(registry, confusable):
    import httpx

    from ephoto import code as codes_

    typo = mistyped(confusable)
    answer = httpx.get(
        f"{registry.url}/v1/codes/{typo}",
        params={"procedure": "permis"},
        headers={"Accept-Language": "en"},
        timeout=10,
    ).json()
    assert answer["status"] == "malformed"
    assert confusable in answer["candidates"]
    assert "Did you mean: " in answer["message"]
    assert codes_.group(confusable) in answer["message"].split("Did you mean: ")[1]
