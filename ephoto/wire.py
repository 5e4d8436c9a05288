"""The booth-to-registry wire protocol: batch format and request signatures.

cabine's own convention (the real protocol is not public): a JSON POST to ``/v1/batches``,
signed per booth with HTTP Message Signatures (RFC 9421), HMAC-SHA256, covering ``@method``,
``@path`` and ``content-digest`` (RFC 9530), with ``created``, ``nonce`` and ``keyid`` (the booth
id) as signed parameters. A signature more than 300 real seconds away from the verifier's clock
is stale (the verifier scales the window when it runs on a scaled demo clock), and one whose
optional ``expires`` parameter is past on the verifier's clock is refused too.
Replay detection (remembering nonces for the window) is the verifier's job.

Signing time comes from the caller's Clock, never from the library's wall-clock default.
"""

from __future__ import annotations

import json
import re
import secrets
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from http_message_signatures import (
    HTTPMessageSigner,
    HTTPMessageVerifier,
    HTTPSignatureKeyResolver,
    algorithms,
)
from http_message_signatures.exceptions import HTTPMessageSignaturesException, InvalidSignature

from ephoto.clock import ensure_utc, parse_utc
from ephoto.private import private_folder, write_private

BATCH_PATH = "/v1/batches"
COVERED_COMPONENTS = ("@method", "@path", "content-digest")
SIGNATURE_WINDOW = timedelta(seconds=300)
SIGNATURE_LABEL = "booth"


@dataclass(frozen=True)
class WireCode:
    code: str
    issued_at: datetime
    product: str


@dataclass(frozen=True)
class Batch:
    """One upload: a batch id (idempotency key), the booth, and its codes."""

    batch_id: str
    booth_id: str
    codes: tuple[WireCode, ...]

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "batch_id": self.batch_id,
                "booth_id": self.booth_id,
                "codes": [
                    {
                        "code": c.code,
                        "issued_at": ensure_utc(c.issued_at).isoformat().replace("+00:00", "Z"),
                        "product": c.product,
                    }
                    for c in self.codes
                ],
            },
            separators=(",", ":"),
        ).encode()

    @classmethod
    def from_json(cls, body: bytes) -> Batch:
        data = json.loads(body)
        return cls(
            batch_id=data["batch_id"],
            booth_id=data["booth_id"],
            codes=tuple(
                WireCode(c["code"], parse_utc(c["issued_at"]), c["product"]) for c in data["codes"]
            ),
        )


class SignatureRejected(Exception):
    """The request's signature is missing, wrong, stale or otherwise unacceptable."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True)
class VerifiedSignature:
    booth_id: str
    created: datetime
    nonce: str


class _Keys(HTTPSignatureKeyResolver):
    def __init__(self, keys: Mapping[str, bytes]):
        self._keys = keys

    def resolve_public_key(self, key_id: str) -> bytes | None:
        return self._keys.get(key_id)

    def resolve_private_key(self, key_id: str) -> bytes:
        return self._keys[key_id]


class _Headers(dict[str, str]):
    """Header mapping the library can read and write, with case-insensitive lookup."""

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and any(k.lower() == name.lower() for k in self)


class _ClockVerifier(HTTPMessageVerifier):
    """The library judges ``created`` against the wall clock; cabine judges it against the
    verifier's Clock (a scaled demo clock, the registry's QA clock) in :func:`verify_request`."""

    def validate_created_and_expires(self, sig_input, max_age=None):  # type: ignore[no-untyped-def]
        if "created" not in sig_input.params:
            raise InvalidSignature('Signature is missing a required "created" parameter')


@dataclass
class _Message:
    method: str
    url: str
    headers: _Headers


def sign_request(
    method: str,
    url: str,
    body: bytes,
    booth_id: str,
    key: bytes,
    now: datetime,
    nonce: str | None = None,
    expires: datetime | None = None,
) -> dict[str, str]:
    """The headers (Content-Digest, Signature-Input, Signature) that sign this request;
    ``expires``, when given, is signed as RFC 9421's ``expires`` parameter."""
    message = _Message(method.upper(), url, _Headers())
    signer = HTTPMessageSigner(
        signature_algorithm=algorithms.HMAC_SHA256, key_resolver=_Keys({booth_id: key})
    )
    signer.sign(
        message,
        key_id=booth_id,
        created=ensure_utc(now),
        expires=ensure_utc(expires) if expires is not None else None,
        nonce=nonce or secrets.token_urlsafe(16),
        label=SIGNATURE_LABEL,
        covered_component_ids=("@method", "@path"),
        body=body,
    )
    return dict(message.headers)


def verify_request(
    method: str,
    url: str,
    headers: Iterable[tuple[str, str]],
    body: bytes,
    keys: Mapping[str, bytes],
    now: datetime,
    window: timedelta = SIGNATURE_WINDOW,
) -> VerifiedSignature:
    """Check a request's signature against the booth keys and the verifier's clock.

    Raises :class:`SignatureRejected` with the reason; replay (nonce already seen) is left
    to the caller, who must remember nonces for ``window``.
    """
    message = _Message(method.upper(), url, _Headers(headers))
    if "signature" not in message.headers or "signature-input" not in message.headers:
        raise SignatureRejected("missing Signature or Signature-Input header")
    if "content-digest" not in message.headers:
        raise SignatureRejected("missing Content-Digest header")
    verifier = _ClockVerifier(signature_algorithm=algorithms.HMAC_SHA256, key_resolver=_Keys(keys))
    try:
        results = verifier.verify(
            message, max_age=None, require_components=COVERED_COMPONENTS, body=body
        )
    except HTTPMessageSignaturesException as exc:
        raise SignatureRejected(f"signature does not verify: {exc}") from None
    if len(results) != 1:
        raise SignatureRejected(f"expected one signature, found {len(results)}")
    params = results[0].parameters
    booth_id = params.get("keyid")
    created = params.get("created")
    nonce = params.get("nonce")
    if not isinstance(booth_id, str) or booth_id not in keys:
        raise SignatureRejected(f"unknown booth key {booth_id!r}")
    if not isinstance(created, int):
        raise SignatureRejected("signature has no created time")
    if not isinstance(nonce, str) or not nonce:
        raise SignatureRejected("signature has no nonce")
    now_seconds = ensure_utc(now).timestamp()
    skew = abs(now_seconds - created)
    if skew > window.total_seconds():
        raise SignatureRejected(
            f"signature created {skew:.0f} s away from the registry's clock "
            f"(more than {window.total_seconds():.0f} s)"
        )
    expires = params.get("expires")
    if expires is not None:
        if not isinstance(expires, int):
            raise SignatureRejected("signature's expires parameter is not a whole number")
        if now_seconds >= expires:
            raise SignatureRejected(
                f"signature expired {now_seconds - expires:.0f} s ago on the registry's clock"
            )
    created_at = datetime.fromtimestamp(created, ensure_utc(now).tzinfo)
    return VerifiedSignature(booth_id=booth_id, created=created_at, nonce=nonce)


# --- Booth keys ----------------------------------------------------------------------------
# The keys file is shared by the registry (to verify) and a booth's transmitter (to sign):
#
#   [booths.booth-001]
#   key = "64 hex characters"     # the HMAC-SHA256 secret is the 32 bytes they encode
#   operator = "9PMT"             # the prefix every code from this booth must carry

BOOTH_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
KEY_BYTES = 32


class BoothKeysError(ValueError):
    """The keys file breaks a rule; the message names the file, the booth and the rule."""


@dataclass(frozen=True)
class BoothKey:
    booth_id: str
    secret: bytes
    operator: str

    def __repr__(self) -> str:  # never print a secret in a log
        return f"BoothKey(booth_id={self.booth_id!r}, operator={self.operator!r})"


def load_booth_keys(path: Path) -> dict[str, BoothKey]:
    """Every booth's key from a keys file; a missing file is an error, an empty one is not."""
    try:
        with Path(path).open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise BoothKeysError(f"keys file {path} does not exist") from None
    except IsADirectoryError:
        raise BoothKeysError(f"keys file {path} is a folder, not a file") from None
    except PermissionError:
        raise BoothKeysError(f"keys file {path} cannot be read (permission denied)") from None
    except OSError as exc:
        raise BoothKeysError(f"keys file {path} cannot be read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise BoothKeysError(f"keys file {path} is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise BoothKeysError(f"keys file {path} is not valid TOML: {exc}") from None
    booths = data.get("booths", {})
    if not isinstance(booths, dict):
        raise BoothKeysError(f"keys file {path}: [booths] must be a table of booths")
    keys: dict[str, BoothKey] = {}
    for booth_id, entry in booths.items():
        where = f"keys file {path}, booth {booth_id!r}"
        if not BOOTH_ID_PATTERN.match(booth_id):
            raise BoothKeysError(f"{where}: booth id must be 1-40 characters A-Z a-z 0-9 _ -")
        if not isinstance(entry, dict):
            raise BoothKeysError(f"{where}: expected a table with key and operator")
        key_text = entry.get("key")
        operator = entry.get("operator")
        if not isinstance(key_text, str) or not re.fullmatch(r"[0-9a-fA-F]{64}", key_text):
            raise BoothKeysError(f"{where}: key must be {2 * KEY_BYTES} hexadecimal characters")
        if not isinstance(operator, str) or not re.fullmatch(r"[A-Z0-9]{4}", operator):
            raise BoothKeysError(f"{where}: operator must be 4 characters from A-Z and 0-9")
        keys[booth_id] = BoothKey(booth_id, bytes.fromhex(key_text), operator)
    return keys


def add_booth_key(path: Path, booth_id: str, operator: str) -> BoothKey:
    """Give ``booth_id`` a fresh random key in the keys file (created if needed, mode 0600).

    A booth already in the file keeps its key, so running this twice is harmless; the file is
    rewritten whole through a temporary file, so a crash never leaves half a file.
    """
    path = Path(path)
    if not BOOTH_ID_PATTERN.match(booth_id):
        raise BoothKeysError(f"booth id {booth_id!r} must be 1-40 characters A-Z a-z 0-9 _ -")
    if not re.fullmatch(r"[A-Z0-9]{4}", operator):
        raise BoothKeysError(f"operator prefix {operator!r} must be 4 characters from A-Z and 0-9")
    keys = load_booth_keys(path) if path.exists() else {}
    existing = keys.get(booth_id)
    if existing is not None:
        if existing.operator != operator:
            raise BoothKeysError(
                f"booth {booth_id!r} is already in {path} for operator {existing.operator}, "
                f"not {operator}"
            )
        return existing
    keys[booth_id] = BoothKey(booth_id, secrets.token_bytes(KEY_BYTES), operator)
    _write_booth_keys(path, keys.values())
    return keys[booth_id]


def put_booth_keys(path: Path, given: Iterable[BoothKey]) -> None:
    """Copy keys made elsewhere into a keys file (created if needed): a booth's own key into
    its folder, the collector's registration key into the registry's file. A booth already in
    the file gets the given key."""
    path = Path(path)
    keys = load_booth_keys(path) if path.exists() else {}
    before = dict(keys)
    keys.update({key.booth_id: key for key in given})
    if keys != before or not path.exists():
        _write_booth_keys(path, keys.values())


def _write_booth_keys(path: Path, keys: Iterable[BoothKey]) -> None:
    lines = ["# Booth signing keys: keep this file secret (HMAC-SHA256, cabine wire protocol)."]
    for key in keys:
        lines += ["", f'[booths."{key.booth_id}"]', f'key = "{key.secret.hex()}"']
        lines.append(f'operator = "{key.operator}"')
    if not path.parent.exists():
        private_folder(path.parent)
    # 0600 whatever the umask, through a fresh temporary file that refuses a link left there.
    write_private(path, ("\n".join(lines) + "\n").encode())
