"""Secrets and personal data on disk (issue 18 item 11): booth keys, the demo's session file
(it holds the admin token), booth.db and the customers' portraits and signatures are created
0600 in 0700 folders whatever the umask, and never written through a symbolic link."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cabine.cli import app
from ephoto.private import PrivateFileError, private_file, private_folder, write_private

runner = CliRunner()


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


@pytest.fixture(autouse=True)
def open_umask():
    """The most permissive usual umask, so that only the code's own care makes files private."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_booth_key_writes_0600_and_never_through_a_link_at_its_scratch_name(tmp_path):
    keys = tmp_path / "keys.toml"
    victim = tmp_path / "victim.txt"
    victim.write_text("not yours\n")
    os.chmod(victim, 0o644)
    (tmp_path / "keys.toml.tmp").symlink_to(victim)  # the old scratch name, planted
    result = runner.invoke(app, ["booth-key", "booth-001", "--keys", str(keys)])
    assert result.exit_code == 0, result.output
    assert victim.read_text() == "not yours\n" and mode(victim) == 0o644
    assert mode(keys) == 0o600 and not keys.is_symlink()
    # A keys file left at 0644 by an older version becomes 0600 with the next key.
    os.chmod(keys, 0o644)
    assert runner.invoke(app, ["booth-key", "booth-002", "--keys", str(keys)]).exit_code == 0
    assert mode(keys) == 0o600
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp") and not p.is_symlink()]


def test_booth_key_makes_a_missing_keys_folder_0700(tmp_path):
    keys = tmp_path / "secrets" / "keys.toml"
    assert runner.invoke(app, ["booth-key", "booth-001", "--keys", str(keys)]).exit_code == 0
    assert mode(keys.parent) == 0o700 and mode(keys) == 0o600


def test_the_demo_session_file_with_its_admin_token_is_0600_and_replaces_a_link(tmp_path):
    from cabine.demo import DemoSession

    victim = tmp_path / "victim.json"
    victim.write_text("{}")
    data = tmp_path / "data"
    data.mkdir()
    (data / "demo-session.json").symlink_to(victim)
    session = DemoSession.open(data)
    assert session.admin_token
    path = data / "demo-session.json"
    assert not path.is_symlink() and mode(path) == 0o600
    assert victim.read_text() == "{}"
    assert session.admin_token in path.read_text()


def test_a_scripted_sale_leaves_booth_db_and_photos_private(tmp_path, monkeypatch):
    monkeypatch.setenv("CABINE_KIOSK__COUNTDOWN_SECONDS", "0")
    monkeypatch.setenv("CABINE_KIOSK__PAYMENT_SECONDS", "0.02")
    monkeypatch.setenv("CABINE_KIOSK__PRINT_SECONDS", "0.02")
    monkeypatch.delenv("CABINE_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    script = tmp_path / "portrait.toml"
    steps = [
        'tap = "start"',
        'tap_text = "English"',
        'tap_text = "Souvenir photos"',
        'tap = "product-portrait"',
        'tap = "accept"',
        'wait_for = "review"',
        'tap = "keep"',
        'wait_for = "payment"',
        'tap = "card"',
        'wait_for = "done"',
    ]
    script.write_text("\n".join(f"[[step]]\n{s}" for s in steps))
    data = tmp_path / "data"
    result = runner.invoke(
        app, ["kiosk", "--data", str(data), "--headless", "--script", str(script)]
    )
    assert result.exit_code == 0, result.output
    photos = list((data / "photos").iterdir())
    assert photos, "the sale kept no photo"
    for folder in (data, data / "photos", data / "prints", data / "sheets"):
        assert mode(folder) == 0o700, folder
    for path in [data / "booth.db", *photos]:
        assert mode(path) == 0o600, path
    for journal in data.glob("booth.db-*"):
        assert mode(journal) == 0o600, journal


def test_private_helpers_refuse_links_and_fix_modes(tmp_path):
    target = tmp_path / "target"
    target.write_text("x")
    link = tmp_path / "link"
    link.symlink_to(target)
    with pytest.raises(PrivateFileError):
        private_file(link)
    folder_link = tmp_path / "folder-link"
    folder_link.symlink_to(tmp_path)
    with pytest.raises(PrivateFileError):
        private_folder(folder_link)
    loose = tmp_path / "loose.db"
    loose.write_bytes(b"")
    os.chmod(loose, 0o666)
    assert mode(private_file(loose)) == 0o600
    written = write_private(tmp_path / "secret", b"s3cret")
    assert mode(written) == 0o600 and written.read_bytes() == b"s3cret"
