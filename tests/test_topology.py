"""One topology describes a live session: the processes, their folders, their keys and one
complete configuration file each; one process module starts, watches and stops them."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cabine.config import Settings, load_settings
from cabine.processes import ProcessGroup, ProcessSilent, ProcessStopped, child_environment
from cabine.topology import COLLECTOR, REGISTRY, SUPPORT, Topology
from collector.settings import KEYS_FILE, SEAL_KEY_FILE, STATE_KEY_FILE, collector_id
from ephoto.seal import load_or_create_private_key, public_pem
from ephoto.settings import ClockSettings
from ephoto.wire import load_booth_keys
from registry.settings import FETCH_KEY_FILE

EPOCH = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def fleet(tmp_path: Path, booths: tuple[str, ...] = ("b-01", "b-02", "b-03")) -> Topology:
    return Topology(
        data_dir=tmp_path / "run",
        clock=ClockSettings(epoch=EPOCH, scale=600.0),
        admin_token="admin-token-for-tests",
        base=Settings(),
        booths=booths,
        registry_port=18700,
        collector_port=18720,
        support_port=18710,
        shared=False,
    )


def test_each_process_reads_back_exactly_the_settings_the_topology_gave_it(tmp_path):
    topology = fleet(tmp_path)
    topology.wire()
    files = topology.write()
    assert set(files) == {REGISTRY, COLLECTOR, SUPPORT, "b-01", "b-02", "b-03"}
    for name, path in files.items():
        assert path.stat().st_mode & 0o077 == 0, f"{path} holds the admin token: 0600"
        assert load_settings(path) == topology.settings(name), name
    booth = load_settings(files["b-02"])
    assert booth.kiosk.booth_id == "b-02"
    assert booth.data_dir == tmp_path.resolve() / "run" / "booths" / "b-02"
    assert booth.transmitter.collector_url == "http://127.0.0.1:18720"
    assert booth.clock.epoch == EPOCH and booth.clock.scale == 600.0
    registry = load_settings(files[REGISTRY]).registry
    assert registry.collectors["9PMT"].url == "http://127.0.0.1:18720"
    assert load_settings(files[COLLECTOR]).collector.registry_url == "http://127.0.0.1:18700"


def test_a_booths_file_holds_no_services_admin_token(tmp_path):
    topology = fleet(tmp_path)
    topology.wire()
    booth = topology.write()["b-01"].read_text()
    assert "admin-token-for-tests" not in booth
    assert "admin-token-for-tests" in topology.config_file(REGISTRY).read_text()


def test_each_side_holds_the_half_of_each_key_it_needs_and_no_more(tmp_path):
    topology = fleet(tmp_path)
    topology.wire()
    run = tmp_path / "run"
    collector_keys = load_booth_keys(run / "collector" / KEYS_FILE)
    assert set(collector_keys) == {"b-01", "b-02", "b-03", collector_id("9PMT")}
    for booth in ("b-01", "b-02", "b-03"):
        own = load_booth_keys(run / "booths" / booth / KEYS_FILE)
        assert list(own) == [booth] and own[booth] == collector_keys[booth]
    registry_keys = load_booth_keys(run / "registry" / KEYS_FILE)
    assert list(registry_keys) == [collector_id("9PMT")]
    assert registry_keys[collector_id("9PMT")] == collector_keys[collector_id("9PMT")]
    state = load_or_create_private_key(run / "registry" / FETCH_KEY_FILE)
    seal = load_or_create_private_key(run / "collector" / SEAL_KEY_FILE)
    assert (run / "collector" / STATE_KEY_FILE).read_bytes() == public_pem(state)
    assert (run / "registry" / "collector-seal.pub.pem").read_bytes() == public_pem(seal)
    assert not (run / "collector" / FETCH_KEY_FILE).exists(), "the state's private key stays home"
    assert not (run / "registry" / SEAL_KEY_FILE).exists(), "the seal's private key stays home"


def test_wiring_twice_keeps_every_key(tmp_path):
    topology = fleet(tmp_path)
    topology.wire()
    run = tmp_path / "run"
    before = {p: p.read_bytes() for p in run.rglob("*.pem")} | {
        p: p.read_bytes() for p in run.rglob(KEYS_FILE)
    }
    topology.wire()
    assert {p: p.read_bytes() for p in before} == before


def test_the_shared_layout_puts_every_process_in_the_one_data_folder(tmp_path):
    topology = Topology(
        data_dir=tmp_path,
        clock=ClockSettings(),
        admin_token="t",
        base=Settings(),
        booths=("booth-001",),
    )
    assert {topology.folder(n) for n in (REGISTRY, COLLECTOR, SUPPORT, "booth-001")} == {
        tmp_path.resolve()
    }


@pytest.mark.parametrize("booths, message", [((), "at least one booth"), (("a", "a"), "distinct")])
def test_a_session_without_booths_or_with_one_id_twice_is_refused(tmp_path, booths, message):
    with pytest.raises(ValueError, match=message):
        fleet(tmp_path, booths)


def test_a_child_reads_its_file_and_none_of_the_parents_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("CABINE_LANG", "en")
    monkeypatch.setenv("CABINE_REGISTRY__PORT", "1")
    config = tmp_path / "child.toml"
    config.write_text('lang = "fr"\n')
    env = child_environment(config)
    assert env["CABINE_CONFIG"] == str(config.resolve())
    assert not [k for k in env if k.startswith("CABINE_") and k != "CABINE_CONFIG"]
    group = ProcessGroup(tmp_path / "logs")
    with group:
        child = group.start(
            "reader",
            [
                "-c",
                "from cabine.config import load_settings; s = load_settings(); "
                "print(s.lang, s.registry.port)",
            ],
            config=config,
            module=None,
        )
        assert child.popen.wait(timeout=60) == 0
    assert child.log.read_text().split() == ["fr", "8700"]


def test_a_child_that_ends_or_stays_silent_is_reported_with_its_log(tmp_path):
    group = ProcessGroup(tmp_path / "logs")
    with group:
        ended = group.start(
            "ended", ["-c", "print('bye'); raise SystemExit(3)"], config=None, module=None
        )
        ended.popen.wait(timeout=60)
        with pytest.raises(ProcessStopped) as stopped:
            group.check()
        assert stopped.value.code == 3 and "bye" in stopped.value.log_tail()
        silent = group.start(
            "silent",
            ["-c", "import time; time.sleep(60)"],
            config=None,
            url="http://127.0.0.1:9",  # discard: nothing answers there
            module=None,
        )
        with pytest.raises(ProcessSilent):
            silent.wait_serving(timeout=1.0)
    assert not silent.running(), "leaving the group stops every child"


def test_a_process_name_names_its_log_file_in_one_word(tmp_path):
    with pytest.raises(ValueError, match="one word"):
        ProcessGroup(tmp_path).start("support desk", ["x"], config=None)


def test_children_end_when_the_parent_is_killed(tmp_path):
    """A parent killed with SIGKILL cannot stop its children: Linux does (PR_SET_PDEATHSIG)."""
    import signal
    import subprocess
    import time

    script = tmp_path / "parent.py"
    script.write_text(
        "import sys, time\n"
        "from pathlib import Path\n"
        "from cabine.processes import ProcessGroup\n"
        f"g = ProcessGroup(Path({str(tmp_path / 'logs')!r}))\n"
        "c = g.start('sleeper', ['-c', 'import time; time.sleep(120)'], config=None, module=None)\n"
        "print(c.pid, flush=True)\n"
        "time.sleep(120)\n"
    )
    parent = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, text=True, cwd=os.getcwd()
    )
    assert parent.stdout is not None
    child_pid = int(parent.stdout.readline())
    parent.send_signal(signal.SIGKILL)
    parent.wait(timeout=10)
    deadline = time.monotonic() + 10
    status = Path(f"/proc/{child_pid}/status")
    while time.monotonic() < deadline:
        try:
            state = next(line for line in status.read_text().splitlines() if line[:6] == "State:")
        except FileNotFoundError:
            return
        if "Z" in state.split()[1]:  # ended, waiting for init to reap it
            return
        time.sleep(0.05)
    os.kill(child_pid, signal.SIGKILL)
    pytest.fail("the child outlived its killed parent")


def test_a_killed_child_is_started_again_in_its_place(tmp_path):
    with ProcessGroup(tmp_path / "logs") as group:
        first = group.start(
            "sleeper", ["-c", "import time; time.sleep(60)"], config=None, module=None
        )
        with pytest.raises(ValueError, match="still running"):
            group.restart(first)
        first.kill()
        with pytest.raises(ProcessStopped):
            group.check()
        again = group.restart(first)
        assert again.running() and again.pid != first.pid
        assert group.started == [again] and group.get("sleeper") is again
        group.check()
