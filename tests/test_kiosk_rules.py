"""Booth rules without a screen: the operator PIN pad's lockout and the photo framing check."""

from __future__ import annotations

from PIL import Image, ImageDraw

from kiosk.camera import synthetic_portrait
from kiosk.framing import check_framing
from kiosk.operator import PinPad, hash_pin


class Ticks:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_pin_pad_locks_after_max_wrong_tries_and_unlocks_after_the_lockout():
    ticks = Ticks()
    pad = PinPad(hash_pin("2468"), ticks, max_tries=3, lockout_seconds=60)
    assert [pad.submit("0000").tries_left for _ in range(2)] == [2, 1]
    locked = pad.submit("0000")
    assert not locked.accepted and locked.locked_for == 60
    assert not pad.submit("2468").accepted, "the right PIN is refused while locked"
    ticks.now += 61
    assert pad.submit("2468").accepted


def test_a_right_pin_resets_the_wrong_count():
    pad = PinPad(hash_pin("2468"), Ticks(), max_tries=3)
    pad.submit("1111")
    pad.submit("1111")
    assert pad.submit("2468").accepted
    assert pad.submit("1111").tries_left == 2


def test_the_pin_is_stored_salted_never_in_clear():
    first, second = hash_pin("2468"), hash_pin("2468")
    assert first != second and "2468" not in first


def test_synthetic_portraits_pass_the_framing_check():
    for seed in range(5):
        report = check_framing(synthetic_portrait(seed))
        assert report.ok, (seed, report)


def test_a_white_background_and_an_off_centre_head_are_flagged():
    portrait = synthetic_portrait(1)
    white = Image.new("RGB", portrait.size, (255, 255, 255))
    white.paste(portrait.crop((100, 100, 700, 1000)), (100, 100))
    assert "background" in check_framing(white).failed()
    shifted = Image.new("RGB", portrait.size, portrait.getpixel((5, 5)))
    shifted.paste(portrait, (300, 0))
    assert "centred" in check_framing(shifted).failed()


def test_an_empty_frame_fails_every_subject_check():
    empty = Image.new("RGB", (827, 1063), (214, 222, 232))
    ImageDraw.Draw(empty)
    assert set(check_framing(empty).failed()) >= {"centred", "head_top", "head_size"}


def test_maintenance_set_by_the_operator_survives_a_restart(tmp_path):
    from tests.kiosk_harness import make_booth

    booth = make_booth(tmp_path / "data")
    booth.maintenance_requested = True
    assert booth.booth_open() == "refused.maintenance"
    booth.close()
    again = make_booth(tmp_path / "data")
    assert again.maintenance_requested and again.needs_maintenance()
    again.maintenance_requested = False
    assert again.booth_open() is None
    again.close()


def test_a_paid_sale_is_printed_once_whoever_gets_there_first(tmp_path):
    """The sale screen and crash recovery may both try to print a paid sale (an error during
    printing sends the booth to the failsafe screen, which runs recovery)."""
    from kiosk.catalog import load_catalog
    from kiosk.payment import PaymentResult
    from tests.kiosk_harness import counts, keep_customer, make_booth

    booth = make_booth(tmp_path / "data")
    try:
        sale_id = booth.ledger.open_sale(load_catalog().get("ephoto-permis"), "fr")
        keep_customer(booth, sale_id)
        price = load_catalog().get("ephoto-permis").price
        issued, _ = booth.issue(sale_id, PaymentResult(True, "card", price))
        sheet = booth.render(sale_id, issued)
        assert booth.recover() == [sale_id]
        assert booth.print_sheet(sale_id, sheet) is None, "the screen's late print is skipped"
        assert booth.recover() == []
        assert counts(booth).prints == 1
        assert booth.reprint_last() is not None, "an operator reprint is always allowed"
        assert counts(booth).prints == 2
    finally:
        booth.close()
