"""Seals: the collector's electronic signature on each ePhoto file, and its check by the state.

A seal is a JWS (RFC 7515) in compact form, signed with the operator's Ed25519 key (alg
``Ed25519``, RFC 9864's name for EdDSA over Ed25519, RFC 8037). Its payload is the file's
metadata (:class:`ephoto.epfile.FileMeta`, which carries the SHA-256 of the photo and of the
signature) plus the time it was sealed and the collector that sealed it, as compact JSON. The
images travel beside the seal; the state checks the seal, then each image against its digest.
Any JOSE library, or ``cryptography`` alone, can verify a seal from the operator's public key.

Keys are kept as PEM files: the private key at mode 0600, written whole through a temporary
file; the public key is what the state is given for each operator prefix.
"""

from __future__ import annotations

import base64
import functools
import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import OKPKey

from ephoto.clock import ensure_utc, parse_utc
from ephoto.epfile import EphotoFile, FileMeta, FileRejected, sha256_hex

SEAL_ALGORITHM = "Ed25519"
SEAL_TYPE = "ephoto-seal+jws"
_REGISTRY = jws.JWSRegistry(algorithms=[SEAL_ALGORITHM])


class SealBroken(ValueError):
    """The seal does not verify, or the file does not match it; the message says which."""


class KeyFileError(ValueError):
    """A key file is missing, unreadable or not the expected kind of key."""


@dataclass(frozen=True)
class Seal:
    meta: FileMeta
    sealed_at: datetime
    collector_id: str
    key_id: str


# --- Keys ------------------------------------------------------------------------------------


def generate_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def private_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def public_pem(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def write_private_key(path: Path, key: Ed25519PrivateKey) -> None:
    """Write the key whole (temporary file, fsync, rename), mode 0600, never through a link."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(scratch, flags, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(private_pem(key))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(scratch, path)
    except BaseException:
        scratch.unlink(missing_ok=True)
        raise


def load_or_create_private_key(path: Path) -> Ed25519PrivateKey:
    """The key in ``path``, made on first use."""
    path = Path(path)
    if not path.exists():
        key = generate_key()
        write_private_key(path, key)
        return key
    return load_private_key(path)


def load_private_key(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    except OSError as exc:
        raise KeyFileError(f"cannot read key file {path}: {exc.strerror}") from None
    except (ValueError, TypeError):
        raise KeyFileError(f"key file {path} is not a PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"key file {path} holds a {type(key).__name__}, not an Ed25519 key")
    return key


def load_public_key(pem: bytes | str) -> Ed25519PublicKey:
    data = pem.encode() if isinstance(pem, str) else pem
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError):
        raise KeyFileError("not a PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise KeyFileError(f"a {type(key).__name__}, not an Ed25519 public key")
    return key


def key_id(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """A short, stable name for a key: the first 16 hex digits of its public key's SHA-256."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return sha256_hex(raw)[:16]


def _jwk(key: Ed25519PrivateKey | Ed25519PublicKey) -> OKPKey:
    return OKPKey.import_key(key)


# --- Sealing and checking --------------------------------------------------------------------


def seal_file(
    meta: FileMeta, key: Ed25519PrivateKey, sealed_at: datetime, collector_id: str
) -> str:
    """The compact JWS that seals ``meta`` (and through its digests, both images): RFC 7515's
    signing input (protected header and payload, base64url) signed with Ed25519, which joserfc
    or ``cryptography`` alone verify (:func:`open_seal`)."""
    payload = {
        **meta.to_dict(),
        "sealed_at": ensure_utc(sealed_at).isoformat().replace("+00:00", "Z"),
        "collector": collector_id,
    }
    body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    signing_input = _protected_header(key) + b"." + _b64url(body)
    return (signing_input + b"." + _b64url(key.sign(signing_input))).decode("ascii")


def _b64url(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


@functools.lru_cache(maxsize=8)
def _protected_header(key: Ed25519PrivateKey) -> bytes:
    """The seal's protected header, base64url-encoded, made once per key: the collector signs
    with one key for its whole life, and building the JOSE key object and header for each file
    cost more than the Ed25519 signature itself."""
    header = {"alg": SEAL_ALGORITHM, "kid": key_id(key), "typ": SEAL_TYPE}
    return _b64url(json.dumps(header, separators=(",", ":")).encode())


def open_seal(token: str, public_key: Ed25519PublicKey) -> Seal:
    """The sealed metadata, once the signature verifies; :class:`SealBroken` otherwise."""
    try:
        token_bytes = token.encode("ascii")
    except (UnicodeEncodeError, AttributeError):
        raise SealBroken("the seal is not a compact JWS") from None
    try:
        opened = jws.deserialize_compact(token_bytes, _jwk(public_key), registry=_REGISTRY)
    except JoseError as exc:
        raise SealBroken(f"the seal does not verify ({exc.error})") from None
    except ValueError:
        raise SealBroken("the seal is not a compact JWS") from None
    header = opened.headers()
    if header.get("typ") != SEAL_TYPE:
        raise SealBroken(f"the seal's type is {header.get('typ')!r}, not {SEAL_TYPE}")
    try:
        payload = json.loads(opened.payload)
        meta = FileMeta.from_dict(payload)
        sealed_at = parse_utc(payload["sealed_at"])
        collector = payload["collector"]
    except (ValueError, KeyError, TypeError, FileRejected) as exc:
        raise SealBroken(f"the seal's content is not a file's metadata ({exc})") from None
    return Seal(meta, sealed_at, str(collector), str(header.get("kid", "")))


def check_sealed_file(
    token: str,
    photo_jpeg: bytes,
    signature_png: bytes,
    public_key: Ed25519PublicKey,
    expected_code: str,
) -> EphotoFile:
    """The file, once its seal verifies, it is the expected number's, and both images match."""
    seal = open_seal(token, public_key)
    if seal.meta.code != expected_code:
        raise SealBroken(f"the seal is for another number ({seal.meta.code[-4:]})")
    if sha256_hex(photo_jpeg) != seal.meta.photo_sha256:
        raise SealBroken("the photo does not match the digest in the seal")
    if sha256_hex(signature_png) != seal.meta.signature_sha256:
        raise SealBroken("the signature does not match the digest in the seal")
    return EphotoFile(seal.meta, photo_jpeg, signature_png)
