"""``cabine collector``: bad arguments and missing keys end with exit code 2 and one line;
``public-key`` prints the sealing key's public half, made on first use and kept."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cabine.cli import app
from ephoto.seal import load_or_create_private_key, load_public_key, public_pem
from ephoto.wire import add_booth_key

runner = CliRunner()


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cabine.cli", "collector", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_public_key_prints_the_sealing_keys_public_half(tmp_path):
    result = runner.invoke(app, ["collector", "public-key", "--data", str(tmp_path)])
    assert result.exit_code == 0, result.output
    key = load_or_create_private_key(tmp_path / "collector-seal.pem")
    assert result.output.encode() == public_pem(key)
    load_public_key(result.output)
    again = runner.invoke(app, ["collector", "public-key", "--data", str(tmp_path)])
    assert again.output == result.output


@pytest.fixture()
def ready(tmp_path):
    """A data folder with the state's public key and the collector's registration key."""
    add_booth_key(tmp_path / "keys.toml", "collector-9PMT", "9PMT")
    state = load_or_create_private_key(tmp_path / "state.pem")
    (tmp_path / "state-fetch.pub.pem").write_bytes(public_pem(state))
    return tmp_path


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--db", "nonsense://x"], "nonsense"),
        (["--db", "postgresql://nobody@127.0.0.1:1/none"], "127.0.0.1:1/none"),
    ],
)
def test_a_bad_store_url_is_one_line_and_exit_code_2(ready, args, says):
    result = run("serve", "--data", str(ready), *args, cwd=ready)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0], result.stderr


def test_a_missing_state_key_is_one_line_and_exit_code_2(ready):
    (ready / "state-fetch.pub.pem").unlink()
    result = run("serve", "--data", str(ready), cwd=ready)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "state-fetch.pub.pem" in lines[0], result.stderr


def test_a_missing_registration_key_names_the_command_to_run(ready):
    (ready / "keys.toml").unlink()
    add_booth_key(ready / "keys.toml", "booth-001", "9PMT")
    result = run("serve", "--data", str(ready), cwd=ready)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "cabine booth-key collector-9PMT" in lines[0], result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["--port", "0"],
        ["--port", "70000"],
        ["--port", "http"],
        ["--workers", "0"],
        ["--workers", "many"],
    ],
)
def test_bad_options_are_one_line_and_exit_code_2(ready, args):
    result = run("serve", "--data", str(ready), *args, cwd=ready)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and args[0] in lines[0], result.stderr
