"""The operator's PIN: stored hashed, checked with a lockout after repeated wrong tries."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

ITERATIONS = 120_000


def hash_pin(pin: str, salt: bytes | None = None, iterations: int = ITERATIONS) -> str:
    """``pbkdf2-sha256$ITERATIONS$SALT$HASH`` for ``pin`` (salt and hash in hex)."""
    if not pin.isdigit() or not 4 <= len(pin) <= 12:
        raise ValueError(f"PIN must be 4 to 12 digits, got {len(pin)} character(s)")
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", pin.encode(), salt, iterations)
    return f"pbkdf2-sha256${iterations}${salt.hex()}${digest.hex()}"


def pin_matches(pin: str, stored: str) -> bool:
    try:
        scheme, iterations, salt_hex, digest_hex = stored.split("$")
    except ValueError:
        raise ValueError(
            f"stored PIN hash {stored[:20]!r}... is not scheme$iter$salt$hash"
        ) from None
    if scheme != "pbkdf2-sha256":
        raise ValueError(f"PIN hash scheme {scheme!r} is not supported; use pbkdf2-sha256")
    digest = hashlib.pbkdf2_hmac("sha256", pin.encode(), bytes.fromhex(salt_hex), int(iterations))
    return hmac.compare_digest(digest.hex(), digest_hex)


@dataclass(frozen=True)
class PinVerdict:
    accepted: bool
    tries_left: int
    locked_for: float  # seconds; 0 when not locked


class PinStore(Protocol):
    """Where the pad keeps its wrong-try count and lockout, so a restart does not clear them."""

    def load_pin_state(self) -> tuple[int, float]:
        """(wrong tries in a row, locked until: monotonic seconds, 0 when not locked)."""
        ...

    def save_pin_state(self, wrong: int, locked_until: float) -> None: ...


class MemoryPinStore:
    def __init__(self) -> None:
        self.state: tuple[int, float] = (0, 0.0)

    def load_pin_state(self) -> tuple[int, float]:
        return self.state

    def save_pin_state(self, wrong: int, locked_until: float) -> None:
        self.state = (wrong, locked_until)


class PinPad:
    """Checks PINs; after ``max_tries`` wrong ones in a row it refuses every PIN for a while.

    Time is monotonic seconds from the caller, so a clock change cannot unlock it. The count
    and the lockout live in ``store`` (the ledger on a booth), so restarting the booth does
    not unlock it either; a lockout read back that ends further away than a full lockout
    (the machine rebooted and its monotonic clock started again) is a full lockout from now.
    """

    def __init__(
        self,
        stored_hash: str | Callable[[], str],
        monotonic: Callable[[], float],
        max_tries: int = 5,
        lockout_seconds: float = 300.0,
        store: PinStore | None = None,
    ):
        self._hash = stored_hash
        self._monotonic = monotonic
        self.max_tries = max_tries
        self.lockout_seconds = lockout_seconds
        self._store = store or MemoryPinStore()

    @property
    def _wrong(self) -> int:
        return self._store.load_pin_state()[0]

    @property
    def _locked_until(self) -> float:
        locked_until = self._store.load_pin_state()[1]
        now = self._monotonic()
        if locked_until - now > self.lockout_seconds:
            locked_until = now + self.lockout_seconds
            self._store.save_pin_state(self._wrong, locked_until)
        return locked_until

    def locked_for(self) -> float:
        return max(0.0, self._locked_until - self._monotonic())

    def submit(self, pin: str) -> PinVerdict:
        locked = self.locked_for()
        if locked > 0:
            return PinVerdict(False, 0, locked)
        if callable(self._hash):  # hashed on first use, not while the booth starts
            self._hash = self._hash()
        if pin_matches(pin, self._hash):
            self._store.save_pin_state(0, 0.0)
            return PinVerdict(True, self.max_tries, 0.0)
        wrong = self._wrong + 1
        if wrong >= self.max_tries:
            self._store.save_pin_state(0, self._monotonic() + self.lockout_seconds)
            return PinVerdict(False, 0, self.lockout_seconds)
        self._store.save_pin_state(wrong, 0.0)
        return PinVerdict(False, self.max_tries - wrong, 0.0)
