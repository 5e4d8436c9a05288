"""`cabine kiosk`: the PIN hash helper, size checks, and a scripted headless session that
leaves a screenshot per state and a sale in the ledger."""

from __future__ import annotations

import sys

from typer.testing import CliRunner

from cabine.cli import app
from kiosk.operator import pin_matches

runner = CliRunner()


def test_hash_pin_prints_a_hash_the_pad_accepts():
    result = runner.invoke(app, ["kiosk", "--hash-pin", "482913"])
    assert result.exit_code == 0
    stored = result.output.strip()
    assert pin_matches("482913", stored) and not pin_matches("482914", stored)


def test_a_pin_that_is_not_digits_is_refused():
    result = runner.invoke(app, ["kiosk", "--hash-pin", "12ab"])
    assert result.exit_code == 2


def test_a_bad_window_size_is_refused_before_anything_opens(tmp_path):
    result = runner.invoke(app, ["kiosk", "--data", str(tmp_path), "--size", "wide"])
    assert result.exit_code == 2
    assert "1920x1080" in result.output


def test_a_scripted_headless_session_buys_a_portrait_with_a_screenshot_per_state(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("CABINE_KIOSK__COUNTDOWN_SECONDS", "0")
    monkeypatch.setenv("CABINE_KIOSK__PAYMENT_SECONDS", "0.02")
    monkeypatch.setenv("CABINE_KIOSK__PRINT_SECONDS", "0.02")
    monkeypatch.delenv("CABINE_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    script = tmp_path / "portrait.toml"
    script.write_text(
        "\n".join(
            [
                '[[step]]\ntap = "start"',
                '[[step]]\ntap_text = "English"',
                '[[step]]\ntap_text = "Souvenir photos"',
                '[[step]]\ntap = "product-portrait"',
                '[[step]]\ntap = "accept"',
                '[[step]]\nwait_for = "review"',
                '[[step]]\ntap = "keep"',
                '[[step]]\nwait_for = "payment"',
                '[[step]]\ntap = "card"',
                '[[step]]\nwait_for = "done"',
            ]
        )
    )
    shots = tmp_path / "shots"
    result = runner.invoke(
        app,
        [
            "kiosk",
            "--data",
            str(tmp_path / "data"),
            "--headless",
            "--script",
            str(script),
            "--screenshots",
            str(shots),
            "--size",
            "960x540",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "payment -> issuing -> printing -> done" in result.output
    names = sorted(p.name for p in shots.glob("*.png"))
    for state in ("attract", "language", "category", "product", "review", "payment", "done"):
        assert any(name.endswith(f"-{state}.png") for name in names), (state, names)
    assert len(list((tmp_path / "data" / "prints").glob("*.png"))) == 1


def test_a_script_step_that_cannot_be_done_fails_naming_the_buttons(tmp_path, monkeypatch):
    monkeypatch.delenv("CABINE_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    script = tmp_path / "bad.toml"
    script.write_text('[[step]]\ntap = "no-such-button"\ntimeout = 0.2\n')
    result = runner.invoke(
        app,
        ["kiosk", "--data", str(tmp_path / "data"), "--script", str(script), "--size", "800x600"],
    )
    assert result.exit_code == 1
    assert "no button 'no-such-button'" in result.output and "start" in result.output


def test_a_short_headless_session_ends_cleanly_while_the_detector_still_loads(tmp_path):
    """A script done within a frame or two ends the process while the photo check's detector
    may still be loading on its thread; the booth waits for it, so the C++ runtime does not
    abort the process (exit 134, "terminate called without an active exception")."""
    import os
    import subprocess
    import sys

    script = tmp_path / "one.toml"
    script.write_text('[[step]]\nexpect = "attract"\n[[step]]\nscreenshot = "start"\n')
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy"}
    env.pop("CABINE_CONFIG", None)
    for run in range(3):
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "cabine.cli",
                "kiosk",
                "--data",
                str(tmp_path / f"d{run}"),
                "--headless",
                "--script",
                str(script),
                "--screenshots",
                str(tmp_path / f"s{run}"),
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr[-400:]
        assert "terminate called" not in done.stderr


def test_a_cups_printer_without_pycups_is_refused_in_one_line_naming_the_extra(
    tmp_path, monkeypatch
):
    """pycups has no wheel, so it is the ``cups`` extra: a booth configured for a CUPS queue on
    a machine without it is told which extra to install, before anything starts."""
    monkeypatch.setitem(sys.modules, "cups", None)  # `import cups` now raises ImportError
    monkeypatch.setenv("CABINE_KIOSK__PRINTER", "cups:Selphy")
    result = runner.invoke(app, ["kiosk", "--data", str(tmp_path / "data"), "--headless"])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert "cabine[cups]" in lines[0] and "cups:Selphy" in lines[0]
    assert not (tmp_path / "data" / "booth.db").exists()
