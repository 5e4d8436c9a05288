"""Scripted sessions (issue 17, item 5): a script is checked whole before its first step; a
mistake ends `cabine kiosk --script` with exit 2 and one line naming the step and the field,
before the booth has done anything."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.ui.script import ScriptError, check_steps, load_script

ROOT = Path(__file__).resolve().parent.parent

GOOD = '[[step]]\ntap = "start"\n[[step]]\nwait_for = "language"\ntimeout = 5\n'

MISTAKES = {
    "unknown state": ('[[step]]\nwait_for = "paymnet"\n', "step 2: wait_for = 'paymnet'"),
    "wait not a number": ('[[step]]\nwait = "two"\n', "step 2: wait = 'two'"),
    "timeout not a number": ('[[step]]\nwait_for = "review"\ntimeout = "x"\n', "timeout"),
    "unknown key": ('[[step]]\ntap = "start"\ncolour = "red"\n', "unknown key 'colour'"),
    "two actions": ('[[step]]\ntap = "start"\nwait = 1\n', "step 2 must have exactly one"),
    "pin not digits": ("[[step]]\npin = 1234\n", "step 2: pin = 1234"),
    "unknown expect": ('[[step]]\nexpect = "finished"\n', "step 2: expect"),
}


@pytest.mark.parametrize("name", sorted(MISTAKES))
def test_a_mistake_anywhere_is_named_before_the_first_step(tmp_path, name):
    text, expected = MISTAKES[name]
    path = tmp_path / "s.toml"
    path.write_text('[[step]]\ntap = "start"\n' + text)
    with pytest.raises(ScriptError) as raised:
        load_script(path)
    message = str(raised.value)
    assert expected in message and "\n" not in message, message


def test_a_toml_syntax_error_is_one_line_naming_the_place(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('[[step]]\ntap = "start\n')
    with pytest.raises(ScriptError) as raised:
        load_script(path)
    assert "not valid TOML" in str(raised.value) and "line 2" in str(raised.value)


def test_a_valid_script_passes_and_steps_given_as_a_list_are_checked_too(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(GOOD)
    assert load_script(path) == [{"tap": "start"}, {"wait_for": "language", "timeout": 5}]
    with pytest.raises(ScriptError, match="step 1: wait = 'soon'"):
        check_steps([{"wait": "soon"}])


@pytest.mark.parametrize("name", ["unknown state", "wait not a number"])
def test_cabine_kiosk_exits_2_with_one_line_and_runs_nothing(tmp_path, name):
    text, expected = MISTAKES[name]
    script = tmp_path / "s.toml"
    script.write_text(GOOD + text)
    data = tmp_path / "data"
    result = subprocess.run(
        [sys.executable, "-m", "cabine.cli", "kiosk", "--data", str(data), "--script", str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "SDL_VIDEODRIVER": "dummy", "COLUMNS": "60"},
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and expected.replace("step 2", "step 3") in lines[0], result.stderr
    assert "Traceback" not in result.stderr
    assert not (data / "booth.db").exists(), "no step ran: the booth never started"
