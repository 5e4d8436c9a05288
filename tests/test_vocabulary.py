"""The shared vocabulary (procedures, code states, sale references) is declared once, in ephoto."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from ephoto.vocabulary import (
    CODE_STATES,
    PROCEDURES,
    SITE_FOR_PROCEDURE,
    CodeState,
    Procedure,
    parse_sale_reference,
    sale_reference,
)

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("cabine", "ephoto", "kiosk", "registry", "simulation", "support", "transmitter")
HOME = ROOT / "ephoto" / "vocabulary.py"
# The modules that decide on a code's state; "pending" and the rest mean other things elsewhere
# (an outbox row is pending too).
STATE_MODULES = ("registry/store.py", "registry/citizen.py", "support/rules.py", "support/desk.py")


def _sources(names: tuple[str, ...] = PACKAGES) -> list[Path]:
    files: list[Path] = []
    for name in names:
        path = ROOT / name
        files.extend(sorted(path.rglob("*.py")) if path.is_dir() else [path])
    return [f for f in files if f != HOME]


def _string_constants(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    ]


def test_procedure_names_are_written_only_in_the_vocabulary() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{line}: {value!r}"
        for path in _sources()
        for line, value in _string_constants(path)
        if value in PROCEDURES
    ]
    assert found == [], "use ephoto.vocabulary.Procedure:\n" + "\n".join(found)


def _state_words_used_as_states(path: Path) -> list[str]:
    """A state word compared with, listed beside another, or named as a constant: the places
    that declare or test a code's state (a support outcome named "used", a member of another
    enum, is another word)."""

    def is_state(node: ast.AST) -> bool:
        return isinstance(node, ast.Constant) and node.value in CODE_STATES

    tree = ast.parse(path.read_text(encoding="utf-8"))
    hits: list[ast.AST] = [
        node.value for node in tree.body if isinstance(node, ast.Assign) and is_state(node.value)
    ]
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            hits += [n for n in (node.left, *node.comparators) if is_state(n)]
        elif isinstance(node, ast.Tuple | ast.List | ast.Set):
            states = [n for n in node.elts if is_state(n)]
            hits += states if len(states) >= 2 else []
    return [f"{path.name}:{n.lineno}: {n.value!r}" for n in hits]  # type: ignore[attr-defined]


def test_code_states_are_written_only_in_the_vocabulary() -> None:
    found = [
        hit
        for name in (*STATE_MODULES, "simulation/fleet.py", "simulation/claims.py")
        for hit in _state_words_used_as_states(ROOT / name)
    ]
    assert found == [], "use ephoto.vocabulary.CodeState:\n" + "\n".join(found)


def test_the_scan_sees_a_state_tested_by_hand(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text('if view.state == "used":\n    pass\nSTATES = ("pending", "active")\n')
    assert len(_state_words_used_as_states(probe)) == 3


def _formats_a_sale_reference(node: ast.JoinedStr) -> bool:
    """``f"{booth}-{number:06d}"``: a value, a dash, a zero-padded number."""
    parts = node.values
    for first, dash, number in zip(parts, parts[1:], parts[2:], strict=False):
        if (
            isinstance(first, ast.FormattedValue)
            and isinstance(dash, ast.Constant)
            and dash.value == "-"
            and isinstance(number, ast.FormattedValue)
            and isinstance(number.format_spec, ast.JoinedStr)
            and any(
                isinstance(v, ast.Constant) and v.value == "06d" for v in number.format_spec.values
            )
        ):
            return True
    return False


def test_sale_references_are_formatted_only_in_the_vocabulary() -> None:
    found = []
    for path in _sources((*PACKAGES, "bench")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        found += [
            f"{path.relative_to(ROOT)}:{node.lineno}"
            for node in ast.walk(tree)
            if isinstance(node, ast.JoinedStr) and _formats_a_sale_reference(node)
        ]
    assert found == [], "use ephoto.vocabulary.sale_reference:\n" + "\n".join(found)


def test_the_scan_sees_a_sale_reference_formatted_by_hand() -> None:
    node = ast.parse('f"{booth}-{sale:06d}"', mode="eval").body
    assert isinstance(node, ast.JoinedStr) and _formats_a_sale_reference(node)


def test_a_sale_reference_reads_back_as_printed_or_typed() -> None:
    assert sale_reference("booth-001", 42) == "booth-001-000042"
    assert parse_sale_reference("booth-001-000042") == ("booth-001", 42)
    assert parse_sale_reference("  42 ") == (None, 42)
    assert parse_sale_reference("booth 42") is None


def test_every_procedure_has_a_site_and_the_catalogue_uses_only_known_ones() -> None:
    from kiosk.catalog import load_catalog

    assert set(SITE_FOR_PROCEDURE) == set(PROCEDURES) == {p.value for p in Procedure}
    ephoto = [p for p in load_catalog().products if p.ephoto]
    assert {p.procedure for p in ephoto} == set(PROCEDURES)
    assert all(SITE_FOR_PROCEDURE[p.procedure or ""] == p.site for p in ephoto)


@pytest.mark.parametrize("state", list(CodeState))
def test_code_states_read_as_plain_words(state: CodeState) -> None:
    assert state == state.value and f"{state}" == state.value
