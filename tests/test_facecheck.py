"""The photo rules checked by a real face detector (OpenCV's cascades shipped in its wheel), on
the drawn portraits and on real photographs framed so that each rule both passes and fails."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ephoto.texts import LANGUAGES, texts
from kiosk.camera import synthetic_portrait
from kiosk.devices import PhotoCheck
from kiosk.devices.facecheck import RULES, FacePhotoCheck, judge
from tests.facecases import Case, cases, table

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.fixture(scope="module")
def judged() -> list[tuple[Case, dict[str, bool]]]:
    results = []
    for case in cases():
        verdicts, _ = judge(case.image)
        results.append((case, {v.rule: v.ok for v in verdicts}))
    return results


def test_the_face_check_is_a_photo_check_whose_failures_name_their_message():
    check = FacePhotoCheck()
    assert isinstance(check, PhotoCheck)
    assert check.rules == RULES
    failures = check.check(synthetic_portrait(0).resize((300, 386)).rotate(90, expand=True))
    assert failures, "a portrait lying on its side is no ID photo"
    for failure in failures:
        assert failure.message_key == f"review.check_{failure.rule}"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_rule_has_its_own_sentence_in_every_language(lang):
    kiosk = texts("kiosk", lang)
    sentences = [kiosk.get(f"review.check_{rule}") for rule in RULES]
    assert len(set(sentences)) == len(RULES)


@pytest.mark.parametrize("seed", range(40))
def test_drawn_portraits_pass_every_rule(seed):
    failures = FacePhotoCheck().check(synthetic_portrait(seed))
    assert failures == [], [(f.rule, f.value) for f in failures]


def test_each_rule_both_passes_and_fails_on_real_photographs(judged):
    for rule in RULES:
        kept = [c.name for c, v in judged if c.expected.get(rule) is True and v[rule]]
        refused = [c.name for c, v in judged if c.expected.get(rule) is False and not v[rule]]
        assert kept, f"no real photograph meeting {rule} was accepted"
        assert refused, f"no real photograph breaking {rule} was refused"


def test_a_well_framed_real_portrait_passes_and_each_fault_fails_its_own_rule(judged):
    by_name = {case.name: verdict for case, verdict in judged}
    assert all(by_name["astronaut: well framed"].values())
    faults = {
        "astronaut: face small (26 mm)": "face_size",
        "astronaut: face large (41 mm)": "face_size",
        "astronaut: off to the right": "centred",
        "astronaut: too low in the frame": "centred",
        "astronaut: head tilted 10 degrees": "tilt",
        "astronaut: white backdrop": "background",
        "astronaut: dark backdrop": "background",
        "astronaut: eyes shut": "eyes",
        "two people side by side": "one_face",
        "a cat": "one_face",
    }
    for name, rule in faults.items():
        assert not by_name[name][rule], name


def test_readme_shows_the_per_rule_table_this_test_computes(judged):
    counts = table(judged)
    text = README.read_text(encoding="utf-8")
    block = re.search(r"<!-- facecheck-table -->\n(.*?)<!-- /facecheck-table -->", text, re.S)
    assert block, "README.md lacks the face check's table"
    shown = {
        row[0].strip("` "): (int(row[1]), int(row[2]))
        for row in (
            [cell.strip() for cell in line.strip("|").split("|")]
            for line in block.group(1).splitlines()
            if line.startswith("| `")
        )
    }
    assert shown == counts, f"update README.md's table to: {counts}"
