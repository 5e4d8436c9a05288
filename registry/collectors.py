"""The state's client for the operators' collectors: fetch a number's file when it is used, and
check it before the number is consumed.

For each operator prefix the settings name a collector URL and the operator's public key. A
fetch is ``GET {url}/v1/files/{number}`` signed with the state's Ed25519 key
(:func:`ephoto.statefetch.sign_fetch`, key id :func:`ephoto.seal.key_id` of the state's key). The
outcome is one of three values, never an exception:

- :class:`Fetched`: the seal verifies with the operator's key, it is this number's, and both
  images match the digests it carries (:func:`ephoto.seal.check_sealed_file`);
- :class:`Unavailable`: the collector could not be reached, did not answer within the timeout,
  or answered 429 or 5xx; worth trying again after ``retry_after`` seconds;
- :class:`Refused`: the collector answered, but with no usable file: ``kind`` says why
  (``seal``: the seal does not verify; ``digest``: an image or the number does not match the
  seal; ``missing``: the collector does not have the file, 404 or 410; ``denied``: it refused
  the state's signature, 401 or 403; ``answer``: anything else that is not a file). Trying again
  will not help; the operator must act.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ephoto.epfile import EphotoFile
from ephoto.seal import (
    KeyFileError,
    SealBroken,
    check_sealed_file,
    key_id,
    load_public_key,
    open_seal,
)
from ephoto.statefetch import FetchedFile, fetch_path, sign_fetch

# A file is at most 132 kB of images, base64 and a seal: anything far bigger is not a file.
MAX_ANSWER_BYTES = 1_000_000
MAX_RETRY_AFTER_SECONDS = 3600

SEAL = "seal"
DIGEST = "digest"
MISSING = "missing"
DENIED = "denied"
ANSWER = "answer"
REFUSAL_KINDS = (SEAL, DIGEST, MISSING, DENIED, ANSWER)


@dataclass(frozen=True)
class Fetched:
    """A file whose seal and digests were checked: what the state may show and keep."""

    file: EphotoFile
    seal: str
    sealed_at: datetime
    collector_id: str


@dataclass(frozen=True)
class Unavailable:
    reason: str
    retry_after: int


@dataclass(frozen=True)
class Refused:
    kind: str
    reason: str


FetchOutcome = Fetched | Unavailable | Refused


@dataclass(frozen=True)
class Collector:
    """One operator's collector as the state knows it."""

    prefix: str
    url: str
    public_key: Ed25519PublicKey


def load_collector(prefix: str, url: str, public_key_file: Path) -> Collector:
    """Raises :class:`ephoto.seal.KeyFileError` naming the file when the key cannot be read."""
    try:
        pem = Path(public_key_file).read_bytes()
    except OSError as exc:
        raise KeyFileError(
            f"collector {prefix}: cannot read public key file {public_key_file}: {exc.strerror}"
        ) from None
    try:
        key = load_public_key(pem)
    except KeyFileError as exc:
        raise KeyFileError(f"collector {prefix}: {public_key_file} is {exc}") from None
    return Collector(prefix, url.rstrip("/"), key)


class CollectorClient:
    """Fetches and checks files from the collectors of the operators it knows (thread-safe)."""

    def __init__(
        self,
        collectors: Mapping[str, Collector],
        state_key: Ed25519PrivateKey,
        *,
        timeout_seconds: float = 3.0,
        retry_after_seconds: int = 30,
        transport: httpx.BaseTransport | None = None,
    ):
        self.collectors = dict(collectors)
        self.state_key = state_key
        self.key_id = key_id(state_key)
        self.retry_after_seconds = retry_after_seconds
        self.http = httpx.Client(
            timeout=httpx.Timeout(timeout_seconds),
            transport=transport,
            follow_redirects=False,
        )

    def close(self) -> None:
        self.http.close()

    def knows(self, code: str) -> bool:
        """Whether the number's operator has a collector: only then is its file fetched."""
        return code[:4] in self.collectors

    def fetch(self, code: str, now: datetime) -> FetchOutcome:
        """Fetch ``code``'s file from its operator's collector and check it.

        ``now`` is the shared clock the signature is dated with (not the registry's QA offset:
        the collector checks it against its own clock, as the registry does with booths).
        """
        collector = self.collectors[code[:4]]
        url = collector.url + fetch_path(code)
        headers = sign_fetch(url, self.key_id, self.state_key, now)
        try:
            with self.http.stream("GET", url, headers=headers) as response:
                status = response.status_code
                if status == 200:
                    body = _read_bounded(response)
                    if body is None:
                        return Refused(ANSWER, f"the answer is over {MAX_ANSWER_BYTES} bytes")
                else:
                    body = b""
                retry_after = response.headers.get("retry-after")
        except httpx.TimeoutException:
            return Unavailable(
                f"collector {collector.prefix} did not answer in time", self.retry_after_seconds
            )
        except httpx.TransportError as exc:
            return Unavailable(
                f"collector {collector.prefix} cannot be reached ({type(exc).__name__})",
                self.retry_after_seconds,
            )
        if status == 429 or status >= 500:
            return Unavailable(
                f"collector {collector.prefix} answered {status}", self._retry_after(retry_after)
            )
        if status in (404, 410):
            return Refused(MISSING, f"collector {collector.prefix} answered {status}: no file")
        if status in (401, 403):
            return Refused(
                DENIED, f"collector {collector.prefix} refused the state's signature ({status})"
            )
        if status != 200:
            return Refused(ANSWER, f"collector {collector.prefix} answered {status}")
        return check_answer(body, code, collector)

    def _retry_after(self, header: str | None) -> int:
        """The collector's Retry-After in seconds when it gives a number, else the default."""
        if header is not None and header.strip().isdigit():
            return max(1, min(int(header.strip()), MAX_RETRY_AFTER_SECONDS))
        return self.retry_after_seconds


def _read_bounded(response: httpx.Response) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > MAX_ANSWER_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def check_answer(body: bytes, code: str, collector: Collector) -> FetchOutcome:
    """The collector's 200 answer for ``code``, checked: seal first, then number and digests."""
    try:
        data = json.loads(body)
        if not isinstance(data, dict):
            raise ValueError("the answer is not a JSON object")
        fetched = FetchedFile.from_json_dict(data)
    except ValueError as exc:
        return Refused(ANSWER, f"collector {collector.prefix}: {exc}")
    try:
        seal = open_seal(fetched.seal, collector.public_key)
    except SealBroken as exc:
        return Refused(SEAL, str(exc))
    if fetched.code != code:
        return Refused(DIGEST, f"the answer is for another number ({fetched.code[-4:]})")
    try:
        file = check_sealed_file(
            fetched.seal, fetched.photo_jpeg, fetched.signature_png, collector.public_key, code
        )
    except SealBroken as exc:
        return Refused(DIGEST, str(exc))
    return Fetched(file, fetched.seal, seal.sealed_at, seal.collector_id)
