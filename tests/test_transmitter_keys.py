"""The booth signs with exactly the key the registry verifies with: both read the one keys file
through ``ephoto.wire``."""

from __future__ import annotations

import pytest

from ephoto.wire import add_booth_key
from ephoto.wire import load_booth_keys as registry_keys
from transmitter.service import load_booth_keys


def test_the_transmitter_reads_the_same_secret_the_registry_verifies_with(tmp_path):
    path = tmp_path / "keys.toml"
    add_booth_key(path, "booth-001", "9PMT")
    add_booth_key(path, "booth-002", "9PMT")
    expected = {booth: key.secret for booth, key in registry_keys(path).items()}
    assert load_booth_keys(path) == expected
    assert all(len(secret) == 32 for secret in expected.values())


def test_a_missing_or_empty_keys_file_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        load_booth_keys(tmp_path / "nope.toml")
    empty = tmp_path / "empty.toml"
    empty.write_text("")
    with pytest.raises(ValueError, match="no \\[booths.BOOTH_ID\\]"):
        load_booth_keys(empty)
