"""The terminal (issue 26 section 2): at 80 columns no table cuts or splits an id, a number or a
value, only names and sentences wrap between words; every command that lists or reports has
--json for programs."""

from __future__ import annotations

import json

import pytest
from rich.console import Console
from typer.testing import CliRunner

from cabine.cli import app
from cabine.tables import text_column, whole_table
from ephoto.texts import texts
from kiosk.catalog import load_catalog

LANGS = ("fr", "en")


def invoke(*args: str, columns: int = 80):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, list(args), env={"COLUMNS": str(columns)})


def table_cells(output: str) -> list[list[str]]:
    """The cells of each body line of a rich table (box characters removed)."""
    return [
        [cell.strip() for cell in line.strip("│").split("│")]
        for line in output.splitlines()
        if line.startswith("│")
    ]


@pytest.mark.parametrize("lang", LANGS)
def test_products_keeps_every_id_and_price_whole_at_80_columns(lang):
    result = invoke("products", "--lang", lang)
    assert result.exit_code == 0, result.output
    assert max(len(line) for line in result.stdout.splitlines()) <= 80
    cells = table_cells(result.stdout)
    ids = [row[0] for row in cells if row[0]]
    prices = [row[4] for row in cells if row[4]]
    catalog = list(load_catalog())
    assert ids == [p.id for p in catalog]  # not "ephoto-per…"
    assert prices == [p.price.format(lang) for p in catalog]
    # A name wraps between words, never inside one.
    words = {word for p in catalog for word in p.name(lang).split()}
    for row in cells:
        if row[1]:
            assert set(row[1].split()) <= words, row[1]


def test_products_shows_the_layout_when_the_terminal_is_wide_and_json_always():
    wide = invoke("products", columns=140)
    assert "layout" in wide.stdout and "ephoto-id" in wide.stdout
    rows = json.loads(invoke("products", "--json").stdout)
    assert {row["layout"] for row in rows} >= {"ephoto-id", "id-sheet"}


@pytest.mark.parametrize("lang", LANGS)
def test_the_demos_ledger_keeps_sale_ids_and_ephoto_numbers_whole_at_80_columns(lang):
    t = texts("demo", lang)
    catalog = load_catalog()
    columns = [t.get(f"run.column_{c}") for c in ("sale", "product", "status", "price", "number")]
    rows = [
        [
            "booth-001-000042",
            catalog.get("id-card-adult").name(lang),
            t.get("run.status.printed"),
            catalog.get("id-card-adult").price.format(lang),
            t.get("run.no_number"),
        ],
        [
            "booth-001-000043",
            catalog.get("ephoto-titre-sejour").name(lang),
            t.get("run.status.refund_due"),
            catalog.get("ephoto-titre-sejour").price.format(lang),
            "9PMTBE8V52MTM1BF7K2QXA",
        ],
    ]
    console = Console(width=80, record=True, force_terminal=False)
    console.print(whole_table(t.get("run.ledger_title"), columns, rows))
    output = console.export_text()
    assert max(len(line) for line in output.splitlines()) <= 80
    cells = table_cells(output)
    assert "9PMTBE8V52MTM1BF7K2QXA" in [row[4] for row in cells]
    assert [row[0] for row in cells if row[0]] == ["booth-001-000042", "booth-001-000043"]
    assert t.get("run.no_number") in [row[4] for row in cells]
    # The product's name is the column that wraps.
    assert text_column(rows) == 1


def test_a_column_holding_a_long_token_never_wraps_even_beside_sentences():
    rows = [["a", "(pas de numéro ePhoto)"], ["b", "9PMTBE8V52MTM1BF7K2QXA"]]
    assert text_column(rows) is None
    rows = [["Photos d'identité carte d'identité adulte", "8,00 €"]]
    assert text_column(rows) == 0


@pytest.mark.parametrize("lang", LANGS)
def test_the_sweep_summary_keeps_mean_and_band_on_one_line_at_80_columns(tmp_path, lang):
    from simulation.sweep import Estimate, parse_sweep
    from simulation.sweep_report import REPORT_FIGURES
    from simulation.sweep_summary import summary_table

    sweep = parse_sweep(
        {
            "scenario": "off-season",
            "seeds": 5,
            "vary": {"registry.capacity_per_hour": [100.0, 150.0, 200.0, 250.0]},
        },
        "sweep.toml",
        tmp_path,
    )
    big = Estimate(146806.0, 10870.0, 5)
    groups = [
        ({"registry.capacity_per_hour": c}, {f: big for f in REPORT_FIGURES})
        for c in (100.0, 150.0, 200.0, 250.0)
    ]
    console = Console(width=80, record=True, force_terminal=False)
    console.print(summary_table(sweep, groups, texts("sweep", lang), lang, 80))
    output = console.export_text()
    assert max(len(line) for line in output.splitlines()) <= 80
    whole = "146,806 ± 10,870" if lang == "en" else "146\u202f806 ± 10\u202f870"
    assert output.count(whole) == 4 * (len(REPORT_FIGURES) - 1)  # each but the share
    for capacity in ("100.0", "150.0", "200.0", "250.0"):
        assert capacity in output
    assert "registry.capacity_per_hour" in output


@pytest.mark.parametrize(
    "args",
    [
        ("products", "--json"),
        ("code", "check", "9PMT FJ96 B05I", "--json"),
        ("scenarios", "list", "--json"),
        ("simulate", "--list", "--json"),
    ],
    ids=lambda args: " ".join(args[:2]),
)
def test_listing_commands_print_json_a_program_can_read(args):
    result = invoke(*args)
    assert result.exit_code in (0, 1), result.output
    assert json.loads(result.stdout)


def test_transmitter_status_prints_json(tmp_path):
    from transmitter.outbox import booth_db_url, create_schema, open_outbox_engine

    engine = open_outbox_engine(booth_db_url(tmp_path))
    create_schema(engine)
    engine.dispose()
    result = invoke("transmitter", "status", "--data", str(tmp_path), "--json")
    assert result.exit_code == 0, result.output
    status = json.loads(result.stdout)
    assert status["in_flight"] == 0 and status["last_error"] is None


@pytest.mark.parametrize("lang", LANGS)
def test_simulate_json_is_the_summary_with_its_files(tmp_path, lang):
    scenario = tmp_path / "small.toml"
    scenario.write_text("[run]\nseed = 3\nstart = 2026-09-01\ndays = 5\n[fleet]\nbooths = 20\n")
    out = tmp_path / "out"
    result = invoke(
        "simulate", str(scenario), "--out", str(out), "--no-plots", "--json", "--lang", lang
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    metrics = json.loads((out / "metrics.json").read_text())
    assert summary["codes_issued"] == metrics["codes_issued"]
    assert summary["files"]["report"] == str(out / "report.html")
