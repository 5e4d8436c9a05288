"""The booth-to-registry signature convention: what verifies and what is rejected."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ephoto.wire import Batch, SignatureRejected, WireCode, sign_request, verify_request

NOW = datetime(2026, 6, 1, 8, tzinfo=UTC)
URL = "http://127.0.0.1:8700/v1/batches"
KEYS = {"booth-001": b"k" * 32}
BODY = Batch("b-1", "booth-001", (WireCode("9PMTAAAA", NOW, "ephoto-permis"),)).to_json()


def verify(headers, body=BODY, now=NOW, keys=KEYS, url=URL, method="POST"):
    return verify_request(method, url, headers.items(), body, keys, now)


def test_a_signed_batch_verifies_and_names_its_booth():
    headers = sign_request("POST", URL, BODY, "booth-001", KEYS["booth-001"], NOW)
    verified = verify(headers, now=NOW + timedelta(seconds=299))
    assert verified.booth_id == "booth-001" and verified.nonce


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (dict(keys={"booth-001": b"x" * 32}), "does not verify"),
        (dict(body=BODY + b" "), "Content-Digest does not match"),
        (dict(now=NOW + timedelta(seconds=301)), "more than 300 s"),
        (dict(now=NOW - timedelta(seconds=301)), "more than 300 s"),
        (dict(url="http://127.0.0.1:8700/v1/other"), "does not verify"),
        (dict(method="PUT"), "does not verify"),
        (dict(keys={}), "does not verify"),
    ],
)
def test_each_tampering_is_rejected_with_its_reason(change, reason):
    headers = sign_request("POST", URL, BODY, "booth-001", KEYS["booth-001"], NOW)
    with pytest.raises(SignatureRejected, match=reason):
        verify(headers, **change)


@pytest.mark.parametrize("years", [-3, 5])
def test_the_window_follows_the_verifiers_clock_not_the_wall_clock(years):
    # A scaled demo clock or the registry's QA clock can be years away from real time.
    now = NOW + timedelta(days=365 * years)
    headers = sign_request("POST", URL, BODY, "booth-001", KEYS["booth-001"], now)
    assert verify(headers, now=now + timedelta(seconds=300)).booth_id == "booth-001"
    with pytest.raises(SignatureRejected, match="more than 300 s"):
        verify(headers, now=now - timedelta(seconds=301))


def test_missing_signature_is_rejected():
    with pytest.raises(SignatureRejected, match="missing Signature"):
        verify({"Content-Digest": "sha-256=:AAAA:"})


def test_batch_json_round_trips():
    assert Batch.from_json(BODY) == Batch.from_json(Batch.from_json(BODY).to_json())


def test_a_signature_whose_expires_is_past_is_refused_though_created_is_fresh():
    """Issue 17 item 9: RFC 9421's expires is honoured on the verifier's clock."""
    expired = sign_request(
        "POST", URL, BODY, "booth-001", KEYS["booth-001"], NOW, expires=NOW - timedelta(seconds=60)
    )
    with pytest.raises(SignatureRejected, match="expired 60 s ago"):
        verify(expired)
    later = sign_request(
        "POST", URL, BODY, "booth-001", KEYS["booth-001"], NOW, expires=NOW + timedelta(seconds=60)
    )
    assert verify(later, now=NOW + timedelta(seconds=59)).booth_id == "booth-001"
    with pytest.raises(SignatureRejected, match="expired"):
        verify(later, now=NOW + timedelta(seconds=61))


def test_a_created_time_beyond_the_calendar_is_refused_not_crashed():
    far = sign_request("POST", URL, BODY, "booth-001", KEYS["booth-001"], NOW)
    far["Signature-Input"] = far["Signature-Input"].replace(
        f"created={int(NOW.timestamp())}", "created=99999999999999"
    )
    with pytest.raises(SignatureRejected):
        verify(far)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (None, "is a folder"),
        (b"\xff\xfe[booths]\n", "not UTF-8"),
        (b"[booths\n", "not valid TOML"),
        (b'[booths.b1]\nkey = "zz"\noperator = "9PMT"\n', "64 hexadecimal"),
    ],
)
def test_a_bad_keys_file_is_one_clear_error(tmp_path, content, reason):
    from ephoto.wire import BoothKeysError, load_booth_keys

    path = tmp_path / "keys.toml"
    if content is None:
        path.mkdir()
    else:
        path.write_bytes(content)
    with pytest.raises(BoothKeysError, match=reason):
        load_booth_keys(path)
