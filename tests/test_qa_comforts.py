"""QA comforts (issue 26 section 6): the bundled scenarios and sweeps listed and named, a run
record with every result, two runs compared against the seeds' noise, JUnit for CI, warnings
and refusals that keep QA from reading too much into a run, in French and in English."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from markupsafe import escape
from typer.testing import CliRunner

from cabine.cli import app
from simulation.scenario import bundled_names

SMALL = """name = "small"
[run]
seed = 5
start = 2026-09-01
days = 8
[fleet]
booths = 20
[registry]
capacity_per_hour = 12.0
"""

WORDS = {
    "fr": {
        "list": "Scénarios fournis",
        "missing": "n'existe pas ; scénarios fournis :",
        "sweep_file": "est un fichier de balayage, pas un scénario",
        "not_empty": "n'est pas vide",
        "example_others": "Autres exemples :",
        "few_seeds": "Attention : 2 graine(s) par combinaison",
        "record": "Fiche de l'exécution",
        "beyond": "au-delà du bruit",
        "within": "dans le bruit",
        "unknown": "bruit inconnu",
        "few_seeds_compare": "Attention : A a 3 graine(s) par combinaison ; il en faut au moins 5",
        "changed": "Paramètres qui diffèrent (A → B) : registry.capacity_per_hour: 12.0 → 16.0",
    },
    "en": {
        "list": "Bundled scenarios",
        "missing": "does not exist; bundled scenarios:",
        "sweep_file": "is a sweep file, not a scenario",
        "not_empty": "is not empty",
        "example_others": "Other examples:",
        "few_seeds": "Warning: 2 seed(s) per combination",
        "record": "Run record",
        "beyond": "beyond noise",
        "within": "within noise",
        "unknown": "noise unknown",
        "few_seeds_compare": "Warning: A has 3 seed(s) per combination; at least 5 are needed",
        "changed": "Parameters that differ (A → B): registry.capacity_per_hour: 12.0 → 16.0",
    },
}
LANGS = ("fr", "en")


def invoke(*args: str) -> object:
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "80"})


def one_line_error(result) -> str:  # type: ignore[no-untyped-def]
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


# --- the bundled scenarios ------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGS)
def test_simulate_list_shows_every_bundled_scenario_whole_at_80_columns(lang):
    result = invoke("simulate", "--list", "--lang", lang)
    assert result.exit_code == 0, result.output
    assert WORDS[lang]["list"] in result.stdout
    for name in bundled_names():
        assert f" {name} " in result.stdout  # never cut to "national-su…"
    assert max(len(line) for line in result.stdout.splitlines()) <= 80
    listed = json.loads(invoke("simulate", "--list", "--json", "--lang", lang).stdout)
    assert [row["name"] for row in listed] == bundled_names()
    assert all(row["booths"] > 0 and row["description"] for row in listed)


@pytest.mark.parametrize("lang", LANGS)
def test_an_unknown_scenario_names_the_bundled_ones(lang):
    line = one_line_error(invoke("simulate", "summer_peak", "--lang", lang))
    assert "summer_peak" in line and WORDS[lang]["missing"] in line
    for name in bundled_names():
        assert name in line


@pytest.mark.parametrize("lang", LANGS)
def test_a_sweep_file_given_to_simulate_is_named_a_sweep_file(tmp_path, lang):
    sweep = tmp_path / "grid.toml"
    sweep.write_text('scenario = "off-season"\n[vary]\n"fleet.booths" = [5, 10]\n')
    line = one_line_error(invoke("simulate", str(sweep), "--lang", lang))
    assert WORDS[lang]["sweep_file"] in line and f"cabine sweep {sweep}" in line
    assert not (tmp_path / "simulation-out").exists()


@pytest.mark.parametrize("lang", LANGS)
def test_simulate_refuses_a_folder_that_is_not_empty_unless_forced(tmp_path, lang):
    (tmp_path / "small.toml").write_text(SMALL)
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("results of last week\n")
    args = ("simulate", str(tmp_path / "small.toml"), "--out", str(out), "--no-plots")
    line = one_line_error(invoke(*args, "--lang", lang))
    assert str(out) in line and WORDS[lang]["not_empty"] in line and "--force" in line
    assert not (out / "metrics.json").exists()
    forced = invoke(*args, "--lang", lang, "--force")
    assert forced.exit_code == 0, forced.output
    assert (out / "metrics.json").exists() and (out / "notes.txt").exists()


# --- the run record -------------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGS)
def test_metrics_and_report_record_version_command_seeds_and_the_resolved_scenario(tmp_path, lang):
    from ephoto import __version__

    (tmp_path / "small.toml").write_text(SMALL)
    out = tmp_path / "out"
    args = ["simulate", str(tmp_path / "small.toml"), "--out", str(out), "--no-plots"]
    result = invoke(*args, "--seed", "9", "--lang", lang)
    assert result.exit_code == 0, result.output
    record = json.loads((out / "metrics.json").read_text())["record"]
    assert record["cabine_version"] == __version__
    assert record["seeds"] == [9]
    assert record["command_line"] == (
        f"cabine simulate {tmp_path / 'small.toml'} --out {out} --seed 9 --no-plots --lang {lang}"
    )
    # Every parameter after defaults: keys the file does not set are there with their value.
    assert record["scenario"]["run"]["seed"] == 9
    assert record["scenario"]["citizens"]["max_attempts"] == 4
    assert record["scenario"]["registry"]["capacity_per_hour"] == 12.0
    html = (out / "report.html").read_text()
    assert escape(WORDS[lang]["record"]) in html and record["command_line"] in html
    assert f'<td style="text-align: left">{__version__}</td>' in html


@pytest.mark.parametrize("lang", LANGS)
def test_a_sweep_records_itself_and_warns_when_too_few_seeds_make_bands_meaningless(tmp_path, lang):
    from ephoto import __version__
    from simulation.sweep import read_results

    (tmp_path / "small.toml").write_text(SMALL)
    path = tmp_path / "sweep.toml"
    path.write_text('scenario = "small.toml"\nseeds = 2\n[vary]\n"fleet.booths" = [10, 20]\n')
    out = tmp_path / "out"
    # The runs are made first (no cluster needed to check what the command prints after).
    write_sweep_table_for(path, out)
    result = invoke("sweep", str(path), "--out", str(out), "--lang", lang)
    assert result.exit_code == 0, result.output
    assert WORDS[lang]["few_seeds"] in result.stderr
    rows = read_results(out)
    assert {row["cabine_version"] for row in rows} == {__version__}
    record = json.loads((out / "record.json").read_text())
    assert record["seeds"] == [5, 6] and record["parameters"] == {"fleet.booths": [10, 20]}
    assert record["scenario"]["citizens"]["max_attempts"] == 4
    assert record["invocations"][-1]["command_line"] == (
        f"cabine sweep {path} --out {out} --lang {lang}"
    )
    html = (out / "report.html").read_text()
    assert 'id="few-seeds"' in html and escape(WORDS[lang]["record"]) in html
    assert record["invocations"][-1]["command_line"] in html


def write_sweep_table_for(path: Path, out: Path) -> None:
    from simulation.sweep import ResultTable, load_sweep, run_figures, table_row

    sweep = load_sweep(path)
    table = ResultTable(out / "results.csv", sweep.columns)
    for spec in sweep.runs:
        table.append(table_row(spec, run_figures(spec.scenario)))


# --- example sweeps -------------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGS)
def test_sweep_example_prints_a_bundled_sweep_that_runs_as_written(tmp_path, lang):
    from simulation.run_record import MIN_SEEDS
    from simulation.sweep import bundled_sweeps, load_sweep

    result = invoke("sweep", "--example", "--lang", lang)
    assert result.exit_code == 0, result.output
    assert WORDS[lang]["example_others"] in result.stderr
    copy = tmp_path / "mine.toml"
    copy.write_text(result.stdout)
    sweep = load_sweep(copy)
    assert sweep.parameters and len(sweep.seeds) >= MIN_SEEDS
    for name in bundled_sweeps():
        printed = invoke("sweep", "--example", name).stdout
        (tmp_path / f"{name}.toml").write_text(printed)
        by_copy, by_name = load_sweep(tmp_path / f"{name}.toml"), load_sweep(name)
        assert [r.key for r in by_copy.runs] == [r.key for r in by_name.runs]
        assert len(by_name.seeds) >= MIN_SEEDS  # the examples show how many seeds it takes
    line = one_line_error(invoke("sweep", "--example", "nope", "--lang", lang))
    assert "nope" in line and all(name in line for name in bundled_sweeps())


# --- comparing two runs ---------------------------------------------------------------------


def test_the_noise_verdict_is_welchs_test_and_unknown_with_one_seed():
    from simulation.compare_runs import BEYOND, UNKNOWN, WITHIN, noise_verdict

    assert noise_verdict([10.0], [20.0]) == (UNKNOWN, None)
    verdict, p = noise_verdict([10.0, 10.4, 9.8, 10.1], [10.2, 9.9, 10.3, 10.0])
    assert verdict == WITHIN and p is not None and p > 0.05
    verdict, p = noise_verdict([10.0, 10.4, 9.8, 10.1], [12.0, 12.3, 11.8, 12.1])
    assert verdict == BEYOND and p is not None and p < 0.001
    assert noise_verdict([3.0, 3.0], [3.0, 3.0])[0] == WITHIN
    assert noise_verdict([3.0, 3.0], [4.0, 4.0])[0] == BEYOND


@pytest.mark.parametrize("lang", LANGS)
def test_compare_sets_two_sweeps_side_by_side_with_the_seeds_noise(tmp_path, lang):
    from simulation.compare_runs import load_run

    a, b = tmp_path / "a" / "out", tmp_path / "b" / "out"
    write_sweep_table_from(a, SMALL)
    # B: the same seeds with more registry capacity.
    write_sweep_table_from(b, SMALL.replace("12.0", "16.0"))
    html = tmp_path / "compare.html"
    result = invoke("compare", str(a), str(b), "--html", str(html), "--lang", lang)
    assert result.exit_code == 0, result.output
    words = WORDS[lang]
    assert words["changed"] in result.stdout.replace("\n", " ")
    assert words["beyond"] in result.stdout and words["within"] in result.stdout
    table = [line for line in result.stdout.splitlines() if line[:1] in "┏┃┡│└"]
    assert table and max(len(line) for line in table) <= 80
    data = json.loads(invoke("compare", str(a), str(b), "--json", "--lang", lang).stdout)
    (group,) = data["groups"]
    figures = {f["figure"]: f for f in group["figures"]}
    # The same seeds sell the same numbers: no difference at all in what was issued.
    assert figures["codes_issued"]["difference"] == 0
    assert figures["codes_issued"]["verdict"] == "within"
    # More capacity shortens the registry's queue well beyond the seeds' noise.
    wait = figures["registry_wait_mean_hours"]
    assert wait["difference"] < 0 and wait["verdict"] == "beyond" and wait["p_value"] < 0.05
    seeds_a = load_run(a).groups[0].values["registry_wait_mean_hours"]
    assert wait["a"] == pytest.approx(sum(seeds_a) / 3)
    assert data["changes"] == [{"parameter": "registry.capacity_per_hour", "a": 12.0, "b": 16.0}]
    page = html.read_text()
    assert f'<html lang="{lang}">' in page and words["beyond"] in page
    assert "cabine sweep sweep.toml --out out" in page
    # Three seeds a side: fewer than a difference needs to be told from noise, said on stderr.
    assert words["few_seeds_compare"] in result.stderr


def write_sweep_table_from(out: Path, scenario: str) -> None:
    """A real sweep's results.csv and record.json over seeds 5, 6 and 7 of ``scenario``, each
    run simulated here (no cluster needed)."""
    from simulation.sweep import ResultTable, parse_sweep, run_figures, table_row
    from simulation.sweep_summary import record_sweep

    out.parent.mkdir(parents=True)
    (out.parent / "small.toml").write_text(scenario)
    sweep = parse_sweep({"scenario": "small.toml", "seeds": [5, 6, 7]}, "sweep.toml", out.parent)
    table = ResultTable(out / "results.csv", sweep.columns)
    for spec in sweep.runs:
        table.append(table_row(spec, run_figures(spec.scenario)))
    record_sweep(sweep, out, "cabine sweep sweep.toml --out out")


@pytest.mark.parametrize("lang", LANGS)
def test_compare_two_simulate_runs_says_the_noise_is_unknown_with_one_seed(tmp_path, lang):
    (tmp_path / "a.toml").write_text(SMALL)
    (tmp_path / "b.toml").write_text(SMALL.replace("12.0", "16.0"))
    for name in ("a", "b"):
        done = invoke(
            "simulate", str(tmp_path / f"{name}.toml"), "--out", str(tmp_path / name), "--no-plots"
        )
        assert done.exit_code == 0, done.output
    result = invoke("compare", str(tmp_path / "a"), str(tmp_path / "b"), "--lang", lang)
    assert result.exit_code == 0, result.output
    assert WORDS[lang]["unknown"] in result.stdout
    data = json.loads(invoke("compare", str(tmp_path / "a"), str(tmp_path / "b"), "--json").stdout)
    assert {f["verdict"] for f in data["groups"][0]["figures"]} == {"unknown"}
    a = json.loads((tmp_path / "a" / "metrics.json").read_text())
    issued = next(f for f in data["groups"][0]["figures"] if f["figure"] == "codes_issued")
    assert issued["a"] == a["codes_issued"]


@pytest.mark.parametrize("lang", LANGS)
def test_compare_refuses_a_folder_that_is_no_run_in_one_line(tmp_path, lang):
    (tmp_path / "empty").mkdir()
    line = one_line_error(
        invoke("compare", str(tmp_path / "empty"), str(tmp_path / "empty"), "--lang", lang)
    )
    assert "metrics.json" in line and "results.csv" in line and str(tmp_path / "empty") in line


def test_compare_and_fleet_compare_say_in_their_help_which_comparison_they_make():
    top = invoke("compare", "--help").stdout
    assert "two simulation runs" in top and "cabine fleet compare" in top
    fleet = invoke("fleet", "compare", "--help").stdout
    assert "live run" in fleet


# --- JUnit for CI ---------------------------------------------------------------------------


def test_scenarios_run_junit_writes_one_case_per_scenario_and_exits_1_on_a_failure(
    tmp_path, monkeypatch
):
    import simulation.faq as faq

    def fake_run(name: str) -> faq.Outcome:
        if name == "expired":
            checks = [faq.Check("registry answer", "active", "expired")]
            return faq.Outcome(name, faq.FAILED, "expired", checks, "registry answer: mismatch")
        return faq.Outcome(name, faq.PASSED, f"{name}: fine", [faq.Check("x", 1, 1)])

    monkeypatch.setattr(faq, "run_scenario", fake_run)
    report = tmp_path / "junit.xml"
    result = invoke("scenarios", "run", "--all", "--junit", str(report))
    assert result.exit_code == 1
    root = ET.parse(report).getroot()
    suite = root.find("testsuite")
    assert suite is not None
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == list(faq.SCENARIOS)
    assert suite.get("tests") == str(len(faq.SCENARIOS)) and suite.get("failures") == "1"
    (failed,) = [c for c in cases if c.find("failure") is not None]
    failure = failed.find("failure")
    assert failed.get("name") == "expired" and failure is not None
    assert "expected 'expired', got 'active'" in (failure.text or "")

    monkeypatch.setattr(faq, "run_scenario", lambda name: fake_run("lowercase"))
    passed = invoke("scenarios", "run", "lowercase", "--junit", str(report))
    assert passed.exit_code == 0
    assert ET.parse(report).getroot().find("testsuite").get("failures") == "0"  # type: ignore[union-attr]


def test_scenarios_run_junit_into_a_missing_folder_is_refused_before_running(tmp_path):
    line = one_line_error(
        invoke("scenarios", "run", "--all", "--junit", str(tmp_path / "no" / "junit.xml"))
    )
    assert str(tmp_path / "no") in line


# --- plan capacity --------------------------------------------------------------------------


def test_a_missed_target_never_reads_as_the_limit_itself():
    from simulation.plan import figure_text, parse_target

    p95 = parse_target("p95<=72")
    assert figure_text(p95, 72.04) == "72.1 h"  # a miss, not "72.0 h"
    assert figure_text(p95, 72.0) == "72.0 h"  # met exactly
    assert figure_text(p95, 71.96) == "72.0 h"  # met
    assert figure_text(p95, 80.0) == "80.0 h"
    strict = parse_target("p95<72")
    assert figure_text(strict, 71.96) == "71.9 h"  # met, not "72.0 h"
    share = parse_target("share72>=0.95")
    assert figure_text(share, 0.9496) == "94.9%"  # a miss, not "95.0%"
    assert figure_text(share, 0.95) == "95.0%"


def test_plan_capacity_json_gives_the_answer_and_each_step(tmp_path):
    from simulation.plan import figure_text, parse_target

    (tmp_path / "small.toml").write_text(SMALL)
    result = invoke(
        "plan", "capacity", str(tmp_path / "small.toml"), "--target", "p95<=40",
        "--seeds", "1", "--workers", "1", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["capacity"] is not None and answer["verdict"]["meets"]
    assert answer["verdict"]["worst"] <= 40 and answer["toml"][0] == "[registry]"
    misses = [step for step in answer["steps"] if not step["meets"]]
    assert misses and all(step["worst"] > 40 for step in misses)
    target = parse_target("p95<=40")
    for step in misses:
        shown = figure_text(target, step["worst"])
        assert shown != "40.0 h" and shown in result.stderr.replace("\n", " ")


def test_sweep_json_gives_each_combinations_means_and_bands(tmp_path):
    from simulation.sweep import estimate, read_results

    (tmp_path / "small.toml").write_text(SMALL)
    path = tmp_path / "sweep.toml"
    path.write_text('scenario = "small.toml"\nseeds = 2\n[vary]\n"fleet.booths" = [10, 20]\n')
    out = tmp_path / "out"
    write_sweep_table_for(path, out)  # every run done: no cluster is started
    result = invoke("sweep", str(path), "--out", str(out), "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["parameters"] == ["fleet.booths"] and summary["seeds"] == [5, 6]
    assert [c["parameters"] for c in summary["combinations"]] == [
        {"fleet.booths": 10},
        {"fleet.booths": 20},
    ]
    rows = [r for r in read_results(out) if r["fleet.booths"] == 20]
    expected = estimate([r["backlog_max"] for r in rows])
    got = summary["combinations"][1]["figures"]["backlog_max"]
    assert got == {"mean": expected.mean, "half_width": expected.half_width}
    assert summary["files"]["report"] == str(out / "report.html")


@pytest.mark.parametrize("lang", LANGS)
def test_compare_refuses_two_sweeps_with_no_parameters_in_common(tmp_path, lang):
    from simulation.sweep import ResultTable, parse_sweep, run_figures, table_row

    (tmp_path / "small.toml").write_text(SMALL)
    folders = []
    for key, values in (("fleet.booths", [10]), ("registry.capacity_per_hour", [20.0])):
        sweep = parse_sweep(
            {"scenario": "small.toml", "seeds": [5], "vary": {key: values}}, "s.toml", tmp_path
        )
        out = tmp_path / key
        table = ResultTable(out / "results.csv", sweep.columns)
        for spec in sweep.runs:
            table.append(table_row(spec, run_figures(spec.scenario)))
        folders.append(str(out))
    line = one_line_error(invoke("compare", *folders, "--lang", lang))
    assert "fleet.booths" in line and "registry.capacity_per_hour" in line
    assert ("en commun" if lang == "fr" else "in common") in line


def test_scenarios_run_junit_of_a_real_scenario_records_its_checks(tmp_path):
    report = tmp_path / "junit.xml"
    result = invoke("scenarios", "run", "busy-season", "--junit", str(report))
    assert result.exit_code == 0, result.output
    suite = ET.parse(report).getroot().find("testsuite")
    assert suite is not None and suite.get("failures") == "0" and suite.get("tests") == "1"
    (case,) = suite.findall("testcase")
    assert case.get("name") == "busy-season" and case.find("failure") is None
    assert float(case.get("time") or 0) > 0
    out = case.find("system-out")
    assert out is not None and (out.text or "").splitlines()[0] in result.stdout
