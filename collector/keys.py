"""The collector's keys: its sealing key (made on first start), the state's public key that
signs fetches, and its own signing key for registering numbers with the state."""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from collector.settings import (
    KEYS_FILE,
    SEAL_KEY_FILE,
    STATE_KEY_FILE,
    CollectorSettings,
    collector_id,
)
from ephoto.seal import KeyFileError, key_id, load_private_key, load_public_key
from ephoto.wire import BoothKeysError, load_booth_keys

STATE_PRIVATE_KEY_FILE = "state-fetch.pem"
STATE_KEY_NAME = "state"


def keys_file(settings: CollectorSettings, data_dir: Path) -> Path:
    return settings.keys_file or Path(data_dir) / KEYS_FILE


def seal_key_file(settings: CollectorSettings, data_dir: Path) -> Path:
    return settings.seal_key_file or Path(data_dir) / SEAL_KEY_FILE


def state_key_path(settings: CollectorSettings, data_dir: Path) -> Path:
    """The configured state key file; by default its public key in the data folder, else the
    state's own key file there (the registry and the collector on one machine)."""
    if settings.state_public_key_file is not None:
        return settings.state_public_key_file
    public = Path(data_dir) / STATE_KEY_FILE
    private = Path(data_dir) / STATE_PRIVATE_KEY_FILE
    return private if not public.exists() and private.exists() else public


def load_state_keys(path: Path) -> dict[str, Ed25519PublicKey]:
    """The state's public key under the names a fetch may carry as ``keyid``: ``state`` and
    the key's own id (:func:`ephoto.seal.key_id`). A private key file gives its public key.
    Raises :class:`KeyFileError` naming the file."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise KeyFileError(
            f"cannot read the state's public key {path}: {exc.strerror}; give its PEM file "
            "in collector.state_public_key_file"
        ) from None
    if b"PRIVATE KEY" in data:
        public = load_private_key(path).public_key()
    else:
        try:
            public = load_public_key(data)
        except KeyFileError as exc:
            raise KeyFileError(f"state key file {path}: {exc}") from None
    return {STATE_KEY_NAME: public, key_id(public): public}


def registration_secret(path: Path, prefix: str) -> bytes:
    """The collector's key for signing registrations, from the registry's keys file."""
    name = collector_id(prefix)
    try:
        keys = load_booth_keys(path)
    except BoothKeysError as exc:
        raise KeyFileError(str(exc)) from None
    key = keys.get(name)
    if key is None:
        raise KeyFileError(f"{path} has no key for {name}: add one with `cabine booth-key {name}`")
    if key.operator != prefix:
        raise KeyFileError(f"{path}: {name} is for operator {key.operator}, not {prefix}")
    return key.secret
