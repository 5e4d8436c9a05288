"""The booth keys file shared by the registry and the transmitter: created, kept, checked."""

from __future__ import annotations

import stat

import pytest
from typer.testing import CliRunner

from cabine.cli import app
from ephoto.wire import BoothKeysError, add_booth_key, load_booth_keys


def test_a_new_booth_gets_a_random_32_byte_key_in_a_private_file(tmp_path):
    path = tmp_path / "keys.toml"
    first = add_booth_key(path, "booth-001", "9PMT")
    second = add_booth_key(path, "booth-002", "9PMT")
    assert len(first.secret) == 32 and first.secret != second.secret
    assert load_booth_keys(path) == {"booth-001": first, "booth-002": second}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert first.secret.hex() not in repr(first)


def test_adding_a_booth_twice_keeps_its_key(tmp_path):
    path = tmp_path / "keys.toml"
    assert add_booth_key(path, "booth-001", "9PMT") == add_booth_key(path, "booth-001", "9PMT")
    with pytest.raises(BoothKeysError, match="already in .* for operator 9PMT, not AB12"):
        add_booth_key(path, "booth-001", "AB12")


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ('[booths.b1]\nkey = "abc"\noperator = "9PMT"\n', "64 hexadecimal"),
        ('[booths.b1]\nkey = "' + "a" * 64 + '"\noperator = "9pmt"\n', "operator must be 4"),
        ("[booths\n", "not valid TOML"),
    ],
)
def test_a_bad_keys_file_names_the_booth_and_the_rule(tmp_path, text, rule):
    path = tmp_path / "keys.toml"
    path.write_text(text)
    with pytest.raises(BoothKeysError, match=rule):
        load_booth_keys(path)


def test_cabine_booth_key_writes_the_keys_file(tmp_path):
    path = tmp_path / "keys.toml"
    result = CliRunner().invoke(app, ["booth-key", "booth-042", "--keys", str(path)])
    assert result.exit_code == 0, result.output
    assert load_booth_keys(path)["booth-042"].operator == "9PMT"
    bad = CliRunner().invoke(app, ["booth-key", "bad id!", "--keys", str(path)])
    assert bad.exit_code == 2
