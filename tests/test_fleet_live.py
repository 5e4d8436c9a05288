"""The live fleet: real booths (worker processes, each booth with its ledger and transmitter),
the real collector and registry on one session clock; every number reconciled from the
components' own records, and a reconciliation that fails when a record is wrong."""

from __future__ import annotations

import csv
import json
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cabine.cli import app
from ephoto.clock import ManualClock
from kiosk.ledger import Ledger
from simulation.live import FleetError, FleetOptions, booth_ids, check_options, plan_sales
from simulation.scenario import load_scenario, parse_scenario

runner = CliRunner()

SMALL = """
name = "small-fleet"
[run]
seed = 5
start = 2026-11-02
days = 2
[fleet]
booths = 3
[demand]
ephoto_per_booth_day = 4.0
other_per_booth_day = 2.0
wrong_product_share = 0.5
[booth]
batch_window_minutes = 15.0
[registry]
capacity_per_hour = 150.0
[registry.base_delay]
median_hours = 2.0
p95_hours = 6.0
[citizens]
lowercase_share = 0.2
confusable_share = 0.25
retry_share = 1.0
retry_after_hours = 4.0
double_use_share = 0.3
[citizens.first_attempt]
kind = "lognormal"
median_hours = 6.0
p95_hours = 20.0
[support]
report_share = 1.0
"""


def small_fleet(folder: Path, booths: int, days: int, *extra: str, citizens_days: float = 0.0):
    """``cabine fleet run`` of the small scenario at an hour a second, into ``folder/run``;
    by default the run ends once every number is at the state."""
    scenario = folder / "small.toml"
    scenario.write_text(SMALL, encoding="utf-8")
    out = folder / "run"
    argv = ["fleet", "run", str(scenario), "--booths", str(booths), "--days", str(days)]
    argv += ["--citizens-days", str(citizens_days)]
    result = runner.invoke(app, [*argv, "--out", str(out), "--scale", "3600", *extra])
    return out, result


@pytest.fixture(scope="module")
def fleet_run(tmp_path_factory) -> Path:
    """Three booths for two days, the buyers followed for the 72 h promise after the last sale
    (so that those refused for good write to the support desk)."""
    out, result = small_fleet(tmp_path_factory.mktemp("fleet"), 3, 2, citizens_days=3.0)
    assert result.exit_code == 0, result.output
    assert "reconciled" in result.output
    return out


def test_every_number_a_booth_sold_reached_the_state_once_with_the_booths_file(fleet_run):
    check = json.loads((fleet_run / "check.json").read_text())
    assert check["ok"] and check["booths"] == 3 and check["breaches"] == []
    rows = list(csv.DictReader((fleet_run / "numbers.csv").open()))
    assert len(rows) == check["numbers"] > 0
    sold = []
    for booth in booth_ids(3):
        ledger = Ledger(fleet_run / "booths" / booth / "booth.db", ManualClock(), booth_id=booth)
        try:
            sold += [(s.code, booth) for s in ledger.all_sales() if s.code]
        finally:
            ledger.engine.dispose()
    assert sorted((r["code"], r["booth"]) for r in rows) == sorted(sold)
    for row in rows:
        assert row["code"].startswith("9PMT") and len(row["code"]) == 22
        assert row["booth_photo_sha256"] == row["collector_photo_sha256"] != ""
        assert row["collector_sealed_at"] and row["registered_at"]
        assert row["issued_at"] < row["collector_received_at"] < row["registered_at"]
    money = list(csv.DictReader((fleet_run / "money.csv").open()))
    assert [m["booth"] for m in money] == list(booth_ids(3))
    assert all(m["paid_sales_cents"] == m["approved_cents"] != "0" for m in money)


def test_buyers_use_their_numbers_at_the_state_and_get_the_booths_file(fleet_run):
    rows = list(csv.DictReader((fleet_run / "numbers.csv").open()))
    used = [r for r in rows if r["used_at"]]
    assert used, "buyers tried their numbers within the run"
    for row in used:
        assert row["fetched_photo_sha256"] == row["booth_photo_sha256"]
        assert row["state"] == "used" and row["first_citizen_attempt_at"]
    attempts = list(csv.DictReader((fleet_run / "citizens.csv").open()))
    statuses = {a["status"] for a in attempts}
    assert "200" in statuses
    assert statuses & {"404", "422", "409"}, "typos, early tries or double uses were refused"
    by_code: dict[str, list[dict[str, str]]] = {}
    for attempt in attempts:
        by_code.setdefault(attempt["code"], []).append(attempt)
    for tries in by_code.values():
        for before, after in zip(tries, tries[1:], strict=False):
            if before["status"] == "422":  # malformed: the next try is typed in capitals
                assert after["typed"] == before["typed"].upper()


def test_each_booth_keeps_its_own_ledger_key_and_sheets(fleet_run):
    for booth in booth_ids(3):
        folder = fleet_run / "booths" / booth
        assert (folder / "booth.db").is_file()
        assert list((folder / "prints").glob("*.png")), f"{booth} printed no sheet"
        assert "[booths" in (folder / "keys.toml").read_text()
    assert (fleet_run / "logs" / "collector.log").is_file()


def test_refused_buyers_write_to_the_desk_which_decides_in_the_selling_booths_file(fleet_run):
    """Buyers refused for good (a mistyped number they kept typing) report to the real support
    desk once 72 h have passed; the desk finds the sale in the booth that sold it and its
    decisions, read back from the booths' files, are the answers the buyers got."""
    told = [r for r in csv.DictReader((fleet_run / "reports.csv").open()) if r["status"] == "200"]
    assert told, "refused buyers wrote to the desk within the run"
    numbers = {r["code"]: r for r in csv.DictReader((fleet_run / "numbers.csv").open())}
    decided = list(csv.DictReader((fleet_run / "support.csv").open()))
    assert len(decided) == len(told)
    attempts: dict[str, list[str]] = {}
    for attempt in csv.DictReader((fleet_run / "citizens.csv").open()):
        attempts.setdefault(attempt["code"], []).append(attempt["status"])
    for report in told:
        assert attempts[report["code"]][-1] in ("404", "422"), "refused at the last attempt"
        bought = datetime.fromisoformat(numbers[report["code"]]["issued_at"])
        assert datetime.fromisoformat(report["at"]) >= bought + timedelta(hours=72)
        same = [d for d in decided if d["typed"] == report["typed"]]
        assert [d["booth"] for d in same] == [report["booth"]]
        assert same[0]["code"] == report["code"]
        assert (same[0]["outcome"], same[0]["reason"]) == (report["outcome"], report["reason"])
    # A mistyped number the state had made active: the desk gives the right one.
    assert "typo" in {r["outcome"] for r in told}


def test_a_desk_decision_the_state_contradicts_is_a_breach(fleet_run, tmp_path):
    import shutil

    copy = tmp_path / "run"
    shutil.copytree(fleet_run, copy)
    decided = [r for r in csv.DictReader((copy / "support.csv").open()) if r["outcome"] == "typo"]
    report = decided[0]
    with sqlite3.connect(copy / "booths" / report["booth"] / "booth.db") as db:
        changed = db.execute(
            "UPDATE support_audit SET outcome = 'wait', reason = 'wait' WHERE typed = ?",
            (report["typed"],),
        ).rowcount
    assert changed == 1
    result = runner.invoke(app, ["fleet", "check", str(copy)])
    assert result.exit_code == 1, result.output
    assert f"support: {report['code']}: wait at" in result.output
    assert "the state had made it active already" in result.output
    assert "buyers told typo/typo, the desk recorded 0" in result.output


def test_a_desk_refund_of_other_than_what_was_paid_is_a_breach(fleet_run, tmp_path):
    import shutil

    from support.desk import create_schema, open_booth_engine

    copy = tmp_path / "run"
    shutil.copytree(fleet_run, copy)
    booth = copy / "booths" / "booth-001" / "booth.db"
    engine = open_booth_engine(booth)
    create_schema(engine)  # the desk's tables, where no report reached this booth
    engine.dispose()
    with sqlite3.connect(booth) as db:
        sale, price = db.execute(
            "SELECT id, price_cents FROM sales WHERE status IN ('paid', 'printed') LIMIT 1"
        ).fetchone()
        db.execute(
            "INSERT INTO support_refunds (sale_id, sale_ref, amount_cents, reason, report_key,"
            " refunded_at, requeued) VALUES (?, ?, 1, 'refund_not_activated', 'k',"
            " '2026-11-06 10:00:00.000000', 0)",
            (sale, f"booth-001-{sale:06d}"),
        )
    result = runner.invoke(app, ["fleet", "check", str(copy)])
    assert result.exit_code == 1, result.output
    assert f"refund: booth-001-{sale:06d}: 1 cents refunded, {price} paid" in result.output
    money = {m["booth"]: m for m in csv.DictReader((copy / "money.csv").open())}
    assert money["booth-001"]["support_refund_cents"] == "1"


def test_a_number_missing_at_the_state_is_a_breach_named_by_its_number(fleet_run, tmp_path):
    import shutil

    copy = tmp_path / "run"
    shutil.copytree(fleet_run, copy)
    rows = list(csv.DictReader((copy / "numbers.csv").open()))
    lost = rows[0]["code"]
    with sqlite3.connect(copy / "registry" / "registry.sqlite") as db:
        assert db.execute("DELETE FROM codes WHERE code = ?", (lost,)).rowcount == 1
    result = runner.invoke(app, ["fleet", "check", str(copy)])
    assert result.exit_code == 1, result.output
    assert f"state: {lost}: not registered at the state" in result.output
    assert not json.loads((copy / "check.json").read_text())["ok"]


def test_the_sales_are_drawn_from_the_scenario_and_the_seed():
    scenario = parse_scenario({"run": {"seed": 3, "days": 2, "start": "2026-11-02"}})
    first = plan_sales(scenario, booth_ids(4))
    assert first == plan_sales(scenario, booth_ids(4))
    assert first != plan_sales(scenario.with_seed(4), booth_ids(4))
    assert {s.booth for s in first} == set(booth_ids(4))
    assert all(scenario.origin <= s.at < scenario.end for s in first)
    assert [s.at for s in first] == sorted(s.at for s in first)
    # 15 ePhoto and 20 other sales per booth-day by default: 4 booths x 2 days.
    assert 200 < len(first) < 360


@pytest.mark.parametrize(
    "change, message",
    [
        ({"booths": 0}, "at least one booth"),
        ({"days": 0}, "at least one day"),
        ({"scale": -1.0}, "--scale"),
    ],
)
def test_bad_fleet_options_are_refused_in_one_line(tmp_path, change, message):
    options = {
        "scenario": load_scenario("off-season"),
        "booths": 2,
        "days": 1,
        "out": tmp_path / "out",
        **change,
    }
    with pytest.raises(FleetError, match=message):
        check_options(FleetOptions(**options))


def test_a_fleet_refuses_an_output_folder_that_is_not_empty(tmp_path):
    (tmp_path / "leftover").write_text("x")
    result = runner.invoke(
        app, ["fleet", "run", "off-season", "--booths", "2", "--out", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert "is not empty" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["leftover"]


FAULTS = """
[[fault]]
kind = "collector_kill"
at = 6.0

[[fault]]
kind = "uplink_down"
booth = "booth-002"
at = 8.0
hours = 10.0

[[fault]]
kind = "registry_5xx"
at = 10.0
hours = 6.0
share = 0.5

[[fault]]
kind = "worker_kill"
worker = 1
at = 20.0
hours = 2.0

[[fault]]
kind = "registry_kill"
at = 30.0
hours = 1.0

[[fault]]
kind = "printer_out_of_paper"
booth = "booth-003"
at = 32.0
hours = 6.0

[[fault]]
kind = "collector_corrupt"
at = 14.0
hours = 12.0
"""


def test_a_fleet_under_faults_reconciles_with_nothing_lost(tmp_path):
    """A collector killed, a booth cut off for 10 h, the registry refusing half the batches,
    a booth worker killed, the registry killed, a printer out of paper and the collector handing
    out corrupted files: every number still reaches the collector and the state once, with its
    booth's bytes, no use takes a bad file, and every euro is accounted for."""
    faults = tmp_path / "faults.toml"
    faults.write_text(FAULTS, encoding="utf-8")
    out, result = small_fleet(tmp_path, 3, 2, "--faults", str(faults))
    assert result.exit_code == 0, result.output
    check = json.loads((out / "check.json").read_text())
    assert check["ok"] and check["breaches"] == [] and check["numbers"] > 0
    events = json.loads((out / "faults.json").read_text())
    kinds = [e["fault"]["kind"] for e in events if "started" in e]
    assert sorted(kinds) == sorted(
        [
            "collector_kill",
            "uplink_down",
            "registry_5xx",
            "worker_kill",
            "registry_kill",
            "printer_out_of_paper",
            "collector_corrupt",
        ]
    )
    assert len([e for e in events if "ended" in e]) == 7
    # The cut-off booth's numbers sold during the outage left only once it was over.
    run = json.loads((out / "run.json").read_text())
    start = datetime.fromisoformat(run["start"] + "T00:00:00+01:00")
    window = (start + timedelta(hours=8), start + timedelta(hours=18))
    rows = list(csv.DictReader((out / "numbers.csv").open()))
    held = [
        r
        for r in rows
        if r["booth"] == "booth-002"
        and window[0] <= datetime.fromisoformat(r["issued_at"]) < window[1]
    ]
    assert held, "the scenario sells at booth-002 during its outage"
    for row in held:
        received = datetime.fromisoformat(row["collector_received_at"].replace("Z", "+00:00"))
        assert received >= window[1], row
    progress = json.loads((out / "plans" / "worker-01.progress.json").read_text())
    assert progress["finished"], "the killed worker was started again and sold to the end"
    # While the collector handed out corrupted files, the state refused every use (502: no
    # usable file), and no used number's fetched file differs from its booth's (the check).
    corrupt = (start + timedelta(hours=14, minutes=30), start + timedelta(hours=25, minutes=30))
    during = [
        a
        for a in csv.DictReader((out / "citizens.csv").open())
        if corrupt[0] <= datetime.fromisoformat(a["at"]) < corrupt[1]
    ]
    assert "502" in {a["status"] for a in during}, "buyers tried numbers while files were bad"
    assert "200" not in {a["status"] for a in during}
    # Out of paper from hour 32 to 38: booth-003 turned its customers away, then sold again.
    paper = (start + timedelta(hours=32), start + timedelta(hours=38))
    scenario = parse_scenario(run["resolved_scenario"])
    planned = [s.at for s in plan_sales(scenario, booth_ids(3)) if s.booth == "booth-003"]
    ledger = Ledger(out / "booths" / "booth-003" / "booth.db", ManualClock(), booth_id="booth-003")
    try:
        opened = [s.opened_at for s in ledger.all_sales()]
    finally:
        ledger.engine.dispose()
    away = [at for at in planned if paper[0] + timedelta(minutes=1) <= at < paper[1]]
    assert away, "the scenario has customers at booth-003 while its paper is out"
    assert not [at for at in opened if paper[0] + timedelta(minutes=2) <= at < paper[1]]
    assert [at for at in opened if at >= paper[1]], "refilled, the booth sold again"
    turned = json.loads((out / "plans" / "worker-02.progress.json").read_text())["ended"]
    assert turned.get("maintenance", 0) == len(away), turned


@pytest.mark.parametrize(
    "text, message",
    [
        ('[[fault]]\nkind = "meteor"\nat = 1\n', "line 1: kind"),
        (
            '[[fault]]\nkind = "collector_kill"\nat = 1\n\n[[fault]]\nkind = "uplink_down"\n'
            'at = 2\nhours = 1\nbooth = "booth-099"\n',
            "line 5: booth",
        ),
        ('[[fault]]\nkind = "registry_5xx"\nat = 1\n', "needs hours"),
        ('[[fault]]\nkind = "worker_kill"\nat = 1\nworker = 9\n', "worker: 9"),
        ("[oops]\n", "unknown table"),
        ("[[fault]\n", "not valid TOML"),
    ],
)
def test_a_faults_file_with_a_mistake_is_refused_naming_line_and_key(tmp_path, text, message):
    faults = tmp_path / "faults.toml"
    faults.write_text(text, encoding="utf-8")
    result = runner.invoke(
        app,
        [
            "fleet",
            "run",
            "off-season",
            "--booths",
            "3",
            "--out",
            str(tmp_path / "out"),
            "--faults",
            str(faults),
        ],
    )
    assert result.exit_code == 2, result.output
    assert message in result.output and len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_the_model_replayed_on_the_live_sales_matches_where_it_is_deterministic(fleet_run):
    """Given the live sales, the booth's window, the collector's window and the state's queue
    are deterministic in the model: they must agree with the live chain (the queue number by
    number); the stochastic stages are compared by their laws and reported."""
    result = runner.invoke(app, ["fleet", "compare", str(fleet_run), "--lang", "en"])
    assert result.exit_code in (0, 1), result.output
    data = json.loads((fleet_run / "compare.json").read_text())
    stages = {s["stage"]: s for s in data["stages"]}
    assert set(stages) == {"booth", "collector", "state", "activation"}
    assert stages["booth"]["agrees"] and stages["collector"]["agrees"], result.output
    assert data["queue_live_minus_model_hours"]["agrees"]
    assert abs(data["queue_live_minus_model_hours"]["worst"]) < 1 / 60
    for s in stages.values():
        assert s["live"]["count"] > 0 and (fleet_run / s["qq"]).is_file()
    html = (fleet_run / "compare.html").read_text()
    assert "Live fleet against the simulator" in html and "KS statistic" in html


def test_simulate_replay_runs_the_model_on_the_live_sales_number_by_number(fleet_run, tmp_path):
    """``cabine simulate --replay``: the model takes the live run's sales (each number's issue
    time and booth) and gives each number its times; seeded, so the same seed gives the same
    file."""
    first, second, other = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for out, seed in ((first, "1"), (second, "1"), (other, "2")):
        argv = ["simulate", "--replay", str(fleet_run / "numbers.csv"), "--out", str(out)]
        result = runner.invoke(app, [*argv, "--seed", seed, "--json"])
        assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    live = list(csv.DictReader((fleet_run / "numbers.csv").open()))
    model = list(csv.DictReader((first / "replay.csv").open()))
    assert summary["numbers"] == len(model) == len(live)
    assert sorted(r["code"] for r in model) == sorted(r["code"] for r in live)
    for row in model:
        issued = datetime.fromisoformat(row["issued_at"])
        received = datetime.fromisoformat(row["collector_received_at"])
        registered = datetime.fromisoformat(row["registered_at"])
        active = datetime.fromisoformat(row["active_at"])
        assert received >= issued + timedelta(minutes=15)  # the scenario's batch window
        assert registered - received == timedelta(minutes=5)  # the collector's window
        assert active > datetime.fromisoformat(row["processing_end"]) >= registered
    assert (first / "replay.csv").read_bytes() == (second / "replay.csv").read_bytes()
    assert (first / "replay.csv").read_bytes() != (other / "replay.csv").read_bytes()
    assert set(summary["stages_hours"]) == {"booth", "collector", "state", "activation"}
    shown = runner.invoke(app, ["simulate", "--replay", str(fleet_run), "--out", str(other)])
    assert shown.exit_code == 0 and "activation" in shown.output, shown.output


@pytest.mark.parametrize(
    "argv, message",
    [
        (["simulate", "--replay", "{tmp}"], "not a live fleet's record"),
        (["simulate", "off-season", "--replay", "{run}"], "give no scenario file"),
    ],
)
def test_bad_replay_sources_are_refused_in_one_line(fleet_run, tmp_path, argv, message):
    argv = [a.format(tmp=tmp_path, run=fleet_run) for a in argv]
    result = runner.invoke(app, argv)
    assert result.exit_code == 2 and message in result.output, result.output


def test_a_deliberately_wrong_model_is_flagged(fleet_run):
    """The check can fail: the model's batch window doubled is caught on the booth stage."""
    result = runner.invoke(
        app,
        ["fleet", "compare", str(fleet_run), "--set", "booth.batch_window_minutes=30"],
    )
    assert result.exit_code == 1, result.output
    data = json.loads((fleet_run / "compare.json").read_text())
    booth = next(s for s in data["stages"] if s["stage"] == "booth")
    assert not booth["agrees"] and booth["ks"] >= 0.15
    assert data["overrides"] == {"booth": {"batch_window_minutes": 30}}
    assert "diffère" in (fleet_run / "compare.html").read_text()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--set", "nonsense"], "SECTION.KEY=VALUE"),
        (["--set", "booth.batch_window_minutes=-5"], "batch_window_minutes"),
        (["--lang", "de"], "--lang"),
    ],
)
def test_bad_compare_options_are_refused_in_one_line(fleet_run, args, message):
    result = runner.invoke(app, ["fleet", "compare", str(fleet_run), *args])
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_compare_refuses_a_folder_that_is_not_a_run(tmp_path):
    result = runner.invoke(app, ["fleet", "compare", str(tmp_path)])
    assert result.exit_code == 2 and "fleet run" in result.output


def test_ctrl_c_stops_every_process_leaves_a_record_that_reconciles_and_resumes(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    scenario = tmp_path / "small.toml"
    scenario.write_text(SMALL, encoding="utf-8")
    out = tmp_path / "run"
    fleet = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cabine.cli",
            "fleet",
            "run",
            str(scenario),
            "--booths",
            "2",
            "--days",
            "2",
            "--scale",
            "3600",
            "--out",
            str(out),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    sold = 0
    while time.monotonic() < deadline and sold < 4:
        time.sleep(0.5)
        sold = (
            sum(
                json.loads(p.read_text())["done"]
                for p in (out / "plans").glob("*.progress.json")
                if p.stat().st_size
            )
            if (out / "plans").is_dir()
            else 0
        )
    assert sold >= 4, "the fleet sold within two minutes"
    children = [
        int(proc.name)
        for proc in Path("/proc").iterdir()
        if proc.name.isdigit() and _parent_of(proc) == fleet.pid
    ]
    assert len(children) >= 5, "registry, collector, citizens and two booth workers"
    fleet.send_signal(signal.SIGINT)
    _, err = fleet.communicate(timeout=120)
    assert fleet.returncode == 130, err
    assert f"cabine fleet check {out}" in err
    alive = [
        pid
        for pid in children
        if Path(f"/proc/{pid}").exists() and _parent_of(Path(f"/proc/{pid}")) is not None
    ]
    assert alive == [], alive
    result = runner.invoke(app, ["fleet", "check", str(out)])
    assert result.exit_code == 0, result.output
    check = json.loads((out / "check.json").read_text())
    assert check["ok"] and check["numbers"] >= 1

    # --resume goes on from where the clock stopped, with the run's own booths and days, and
    # serves every planned customer exactly once over the two sessions.
    stopped = datetime.fromisoformat(json.loads((out / "run.json").read_text())["stopped_at"])
    before = _opened(out, 2)
    argv = ["fleet", "run", str(scenario), "--out", str(out), "--resume", "--scale", "3600"]
    result = runner.invoke(app, [*argv, "--citizens-days", "0"])
    assert result.exit_code == 0 and "reconciled" in result.output, result.output
    run = json.loads((out / "run.json").read_text())
    assert run["finished"] and run["resumes"] == [stopped.isoformat()]
    planned = plan_sales(parse_scenario(run["resolved_scenario"]), booth_ids(2))
    after = _opened(out, 2)
    for booth in booth_ids(2):
        assert len(after[booth]) == len([s for s in planned if s.booth == booth]), booth
        assert after[booth][: len(before[booth])] == before[booth]
        assert all(at >= stopped for at in after[booth][len(before[booth]) :])
    again = runner.invoke(app, argv)
    assert again.exit_code == 2 and "went to its end" in again.output, again.output


def _opened(out: Path, booths: int) -> dict[str, list[datetime]]:
    """When each booth's sales opened, from its ledger."""
    opened = {}
    for booth in booth_ids(booths):
        ledger = Ledger(out / "booths" / booth / "booth.db", ManualClock(), booth_id=booth)
        try:
            opened[booth] = [s.opened_at for s in ledger.all_sales()]
        finally:
            ledger.engine.dispose()
    return opened


def _parent_of(proc: Path) -> int | None:
    """A live process's parent pid; None once it has ended (or is only a zombie)."""
    try:
        fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] == "Z" else int(fields[1])


def test_booth_groups_run_on_a_dask_cluster_and_reconcile(tmp_path):
    """With --scheduler the booth workers are long-lived tasks on a real scheduler's two
    workers (started by the test on loopback): the booths sell there, and the record
    reconciles as on one machine."""
    from tests.dask_cluster import dask_cluster

    with dask_cluster(tmp_path / "dask", workers=2) as cluster:
        pids = set(cluster.worker_pids())
        out, result = small_fleet(
            tmp_path, 2, 1, "--booths-per-worker", "1", "--scheduler", cluster.address
        )
        assert result.exit_code == 0, result.output
    check = json.loads((out / "check.json").read_text())
    assert check["ok"] and check["numbers"] > 0
    ran = {json.loads(p.read_text())["pid"] for p in (out / "plans").glob("*.progress.json")}
    assert ran and ran <= pids, (ran, pids)


def test_an_unreachable_scheduler_is_refused_before_anything_starts(tmp_path):
    from cabine.processes import free_port

    result = runner.invoke(
        app,
        [
            "fleet",
            "run",
            "off-season",
            "--booths",
            "2",
            "--out",
            str(tmp_path / "out"),
            "--scheduler",
            f"tcp://127.0.0.1:{free_port()}",
        ],
    )
    assert result.exit_code == 2, result.output
    assert "--scheduler" in result.output and len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_the_progress_line_shows_time_sales_stages_faults_and_lag():
    from cabine.cli.fleet import _progress_line

    line = _progress_line(
        {
            "now": datetime(2026, 11, 3, 14, 5),
            "sales_done": 40,
            "sales_planned": 90,
            "issued": 17,
            "at_collector": 15,
            "at_state": 12,
            "active": 9,
            "used": 4,
            "faults_started": 2,
            "faults_total": 7,
            "lag_p99_seconds": 90.0,
        }
    )
    for part in ("2026-11-03 14:05", "sales 40/90", "issued 17", "collector 15", "state 12"):
        assert part in line
    assert "active 9" in line and "used 4" in line
    assert "faults 2/7" in line and "lag p99 1.5 min" in line


def test_a_stage_a_whole_number_of_ticks_long_is_compared_in_the_right_tick():
    """At scale 700 the tick is 900.0000000000001 s: the model's batch window of exactly one
    tick must count as one tick, not fall into the tick before by the division's rounding."""
    import numpy as np

    from simulation.compare import compare_stage

    tick = 900.0000000000001 / 3600
    live = 0.25 + np.random.default_rng(1).uniform(0.002, 0.007, 400)
    right = compare_stage("booth", live, np.full(400 * 20, 0.25), tick)
    doubled = compare_stage("booth", live, np.full(400 * 20, 0.5), tick)
    assert right.agrees and right.ks == 0.0
    assert not doubled.agrees and doubled.ks == 1.0
