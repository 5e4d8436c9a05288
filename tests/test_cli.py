"""The `cabine` command line: the catalogue and code tools QA scripts rely on."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from cabine.cli import app
from ephoto import code as codes

runner = CliRunner()


def test_version_and_help_list_the_subcommands():
    assert runner.invoke(app, ["--version"]).output.startswith("cabine ")
    out = runner.invoke(app, ["--help"]).output
    for name in ("products", "code", "config"):
        assert name in out


def test_products_json_lists_the_catalogue():
    result = runner.invoke(app, ["products", "--json"])
    assert result.exit_code == 0
    rows = json.loads(result.output)
    assert {r["id"] for r in rows if r["ephoto"]} == {"ephoto-permis", "ephoto-titre-sejour"}


def test_code_new_prints_n_valid_codes():
    result = runner.invoke(app, ["code", "new", "--count", "5", "--operator", "AB12"])
    lines = result.output.split()
    assert result.exit_code == 0 and len(lines) == 5
    assert all(codes.is_valid(c, prefixes=("AB12",)) for c in lines)


def test_code_new_bad_operator_is_a_clear_error():
    result = runner.invoke(app, ["code", "new", "--operator", "x"])
    assert result.exit_code == 2


def test_code_check_valid_exits_0():
    code = codes.generate().value
    result = runner.invoke(app, ["code", "check", code])
    assert result.exit_code == 0
    assert codes.group(code) in result.output


def test_code_check_json_lists_problems_and_candidates():
    code = codes.generate().value
    typo = code.lower()
    result = runner.invoke(app, ["code", "check", typo, "--json"])
    assert result.exit_code == 1
    payload = json.loads(result.output)
    assert payload["valid"] is False
    assert "lowercase" in [p["rule"] for p in payload["problems"]]
    assert code in payload["candidates"]


def test_code_check_human_text_names_each_problem():
    result = runner.invoke(app, ["code", "check", "9PMT123"])
    assert result.exit_code == 1
    assert "code has 7 characters, 22 expected" in result.output


def test_config_example_is_valid_toml_that_loads_back(tmp_path):
    import tomllib

    from cabine.config import load_settings

    result = runner.invoke(app, ["config", "example"])
    data = tomllib.loads(result.output)
    assert data["registry"]["port"] == 8700
    path = tmp_path / "cabine.toml"
    path.write_text(result.output.replace("port = 8700", "port = 8801"))
    assert load_settings(path).registry.port == 8801


def test_environment_overrides_the_file(tmp_path, monkeypatch):
    from cabine.config import load_settings

    path = tmp_path / "cabine.toml"
    path.write_text("[registry]\nport = 8801\n")
    monkeypatch.setenv("CABINE_REGISTRY__PORT", "8802")
    assert load_settings(path).registry.port == 8802


def test_the_committed_example_config_is_the_one_the_schema_generates():
    from pathlib import Path

    from cabine.config import example_toml

    committed = Path(__file__).resolve().parent.parent / "docs" / "cabine.example.toml"
    assert committed.read_text(encoding="utf-8") == example_toml(), (
        "docs/cabine.example.toml is stale: run `cabine config example --out docs/cabine.example.toml`"
    )
