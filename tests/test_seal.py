"""Seals and the state's fetch signature: they verify, with an independent library too, and a
change anywhere breaks them."""

from __future__ import annotations

import base64
import json
import os
import stat
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ephoto.seal import (
    SealBroken,
    check_sealed_file,
    generate_key,
    load_or_create_private_key,
    load_public_key,
    open_seal,
    public_pem,
    seal_file,
)
from ephoto.statefetch import fetch_path, sign_fetch, verify_fetch
from ephoto.wire import SignatureRejected
from tests.test_epfile import booth_file

NOW = datetime(2026, 9, 14, 12, 0, tzinfo=UTC)


def b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_a_seal_verifies_and_gives_back_the_files_metadata():
    key = generate_key()
    file = booth_file()
    token = seal_file(file.meta, key, NOW, "collector-9PMT")
    seal = open_seal(token, key.public_key())
    assert seal.meta == file.meta
    assert seal.sealed_at == NOW and seal.collector_id == "collector-9PMT"
    assert (
        check_sealed_file(token, file.photo_jpeg, file.signature_png, key.public_key(), file.code)
        == file
    )


def test_a_seal_verifies_with_cryptography_alone():
    """An independent verifier needs only the public key and RFC 7515's compact form."""
    key = generate_key()
    file = booth_file()
    token = seal_file(file.meta, key, NOW, "collector-9PMT")
    header, payload, signature = token.split(".")
    public = load_public_key(public_pem(key))
    assert isinstance(public, Ed25519PublicKey)
    public.verify(b64url(signature), f"{header}.{payload}".encode())
    assert json.loads(b64url(header))["alg"] == "Ed25519"
    assert json.loads(b64url(payload))["photo_sha256"] == file.meta.photo_sha256
    with pytest.raises(InvalidSignature):
        public.verify(b64url(signature), f"{header}.{payload}x".encode())


def test_another_operators_key_does_not_open_the_seal():
    token = seal_file(booth_file().meta, generate_key(), NOW, "c")
    with pytest.raises(SealBroken):
        open_seal(token, generate_key().public_key())


def test_a_changed_payload_breaks_the_seal():
    key = generate_key()
    header, payload, signature = seal_file(booth_file().meta, key, NOW, "c").split(".")
    data = json.loads(b64url(payload))
    data["procedure"] = "titre-sejour"
    forged = base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")
    with pytest.raises(SealBroken):
        open_seal(f"{header}.{forged}.{signature}", key.public_key())


def test_an_image_that_does_not_match_the_seal_is_refused():
    key = generate_key()
    file, other = booth_file(1), booth_file(2)
    token = seal_file(file.meta, key, NOW, "c")
    with pytest.raises(SealBroken, match="photo"):
        check_sealed_file(token, other.photo_jpeg, file.signature_png, key.public_key(), file.code)
    with pytest.raises(SealBroken, match="another number"):
        check_sealed_file(token, file.photo_jpeg, file.signature_png, key.public_key(), other.code)


def test_garbage_is_not_a_seal():
    with pytest.raises(SealBroken):
        open_seal("not.a.seal", generate_key().public_key())


def test_the_private_key_is_made_once_and_kept_secret(tmp_path):
    path = tmp_path / "keys" / "seal.pem"
    key = load_or_create_private_key(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert public_pem(load_or_create_private_key(path)) == public_pem(key)


def test_the_states_fetch_signature_verifies_and_nothing_else_does():
    state = generate_key()
    url = "http://127.0.0.1:8720" + fetch_path("9PMTABCDEFGHJKLMNPQRS1")
    headers = sign_fetch(url, "state", state, NOW)
    verified = verify_fetch(url, headers.items(), {"state": state.public_key()}, NOW)
    assert verified.key_id == "state"
    with pytest.raises(SignatureRejected):  # another key
        verify_fetch(url, headers.items(), {"state": generate_key().public_key()}, NOW)
    with pytest.raises(SignatureRejected):  # another number
        verify_fetch(url.replace("RS1", "RS2"), headers.items(), {"state": state.public_key()}, NOW)
    with pytest.raises(SignatureRejected):  # stale
        verify_fetch(url, headers.items(), {"state": state.public_key()}, NOW + timedelta(hours=1))
    with pytest.raises(SignatureRejected):  # unsigned
        verify_fetch(url, [], {"state": state.public_key()}, NOW)
