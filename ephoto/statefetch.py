"""The state's fetch of an ePhoto file from the operator's collector, and how it is signed.

cabine's own convention (no interface is public): when a citizen uses a number, the state sends
``GET /v1/files/{number}`` to the collector of the number's operator. The request is signed with
HTTP Message Signatures (RFC 9421) using the state's Ed25519 key, covering ``@method`` and
``@path`` with ``created``, ``nonce`` and ``keyid``; the collector holds the state's public key
and answers nobody else. The answer is JSON: the number, its seal (see :mod:`ephoto.seal`) and the
two images in base64. A signature more than 300 real seconds from the collector's clock is stale.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from http_message_signatures import HTTPMessageSigner, HTTPSignatureKeyResolver, algorithms
from http_message_signatures.exceptions import HTTPMessageSignaturesException

from ephoto.clock import ensure_utc
from ephoto.wire import SIGNATURE_WINDOW, SignatureRejected, _ClockVerifier, _Headers, _Message

FETCH_PATH = "/v1/files/{code}"
FETCH_COMPONENTS = ("@method", "@path")
FETCH_LABEL = "state"


def fetch_path(code: str) -> str:
    return FETCH_PATH.format(code=code)


class _Ed25519Keys(HTTPSignatureKeyResolver):
    def __init__(
        self,
        public: Mapping[str, Ed25519PublicKey] | None = None,
        private: Mapping[str, Ed25519PrivateKey] | None = None,
    ):
        self._public = public or {}
        self._private = private or {}

    def resolve_public_key(self, key_id: str) -> Ed25519PublicKey | None:
        return self._public.get(key_id)

    def resolve_private_key(self, key_id: str) -> Ed25519PrivateKey:
        return self._private[key_id]


def sign_fetch(
    url: str, key_id: str, key: Ed25519PrivateKey, now: datetime, nonce: str | None = None
) -> dict[str, str]:
    """The headers (Signature-Input, Signature) that sign the state's GET of ``url``."""
    message = _Message("GET", url, _Headers())
    signer = HTTPMessageSigner(
        signature_algorithm=algorithms.ED25519, key_resolver=_Ed25519Keys(private={key_id: key})
    )
    signer.sign(
        message,
        key_id=key_id,
        created=ensure_utc(now),
        nonce=nonce or secrets.token_urlsafe(16),
        label=FETCH_LABEL,
        covered_component_ids=FETCH_COMPONENTS,
    )
    return dict(message.headers)


@dataclass(frozen=True)
class VerifiedFetch:
    key_id: str
    created: datetime
    nonce: str


def verify_fetch(
    url: str,
    headers: Iterable[tuple[str, str]],
    keys: Mapping[str, Ed25519PublicKey],
    now: datetime,
    window: timedelta = SIGNATURE_WINDOW,
) -> VerifiedFetch:
    """Check the state's signature on a fetch; :class:`SignatureRejected` with the reason.

    Remembering nonces for ``window`` (replays) is the caller's job.
    """
    message = _Message("GET", url, _Headers(headers))
    if "signature" not in message.headers or "signature-input" not in message.headers:
        raise SignatureRejected("missing Signature or Signature-Input header")
    verifier = _ClockVerifier(
        signature_algorithm=algorithms.ED25519, key_resolver=_Ed25519Keys(public=keys)
    )
    try:
        results = verifier.verify(message, max_age=None, require_components=FETCH_COMPONENTS)
    except HTTPMessageSignaturesException as exc:
        raise SignatureRejected(f"signature does not verify: {exc}") from None
    except Exception as exc:  # the library raises cryptography's InvalidSignature bare
        raise SignatureRejected(f"signature does not verify: {type(exc).__name__}") from None
    if len(results) != 1:
        raise SignatureRejected(f"expected one signature, found {len(results)}")
    params = results[0].parameters
    key_id, created, nonce = params.get("keyid"), params.get("created"), params.get("nonce")
    if not isinstance(key_id, str) or key_id not in keys:
        raise SignatureRejected(f"unknown key {key_id!r}")
    if not isinstance(created, int):
        raise SignatureRejected("signature has no created time")
    if not isinstance(nonce, str) or not nonce:
        raise SignatureRejected("signature has no nonce")
    created_at = datetime.fromtimestamp(created, ensure_utc(now).tzinfo)
    skew = abs((ensure_utc(now) - created_at).total_seconds())
    if skew > window.total_seconds():
        raise SignatureRejected(
            f"signature created {skew:.0f} s away from the collector's clock "
            f"(more than {window.total_seconds():.0f} s)"
        )
    return VerifiedFetch(key_id, created_at, nonce)


@dataclass(frozen=True)
class FetchedFile:
    """What the collector answers: the seal and the two images, not yet checked."""

    code: str
    seal: str
    photo_jpeg: bytes
    signature_png: bytes

    def to_json_dict(self) -> dict[str, str]:
        return {
            "code": self.code,
            "seal": self.seal,
            "photo_jpeg": base64.b64encode(self.photo_jpeg).decode("ascii"),
            "signature_png": base64.b64encode(self.signature_png).decode("ascii"),
        }

    @classmethod
    def from_json_dict(cls, data: Mapping[str, Any]) -> FetchedFile:
        """Raises ValueError naming the field when the answer is not a fetched file."""
        values = {}
        for name in ("code", "seal", "photo_jpeg", "signature_png"):
            value = data.get(name)
            if not isinstance(value, str):
                raise ValueError(f"the collector's answer has no {name}")
            values[name] = value
        try:
            photo = base64.b64decode(values["photo_jpeg"], validate=True)
            signature = base64.b64decode(values["signature_png"], validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("the collector's answer carries images that are not base64") from None
        return cls(values["code"], values["seal"], photo, signature)
