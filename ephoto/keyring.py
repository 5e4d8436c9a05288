"""Booth keys a service verifies signed uploads with (the registry, the collector), re-read when
the keys file changes."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path

from ephoto.wire import BoothKey, BoothKeysError, load_booth_keys

log = logging.getLogger("ephoto.keyring")


class KeyRing:
    """Booth keys from the keys file, re-read when the file changes (a booth added while the
    registry runs can upload at once).

    A file that breaks a rule when first read raises ``BoothKeysError`` (the service does not
    start on it); one edited badly while the service runs is logged once and the last good
    keys stay in force until the file is mended."""

    def __init__(self, path: Path | None, keys: Mapping[str, BoothKey] | None = None):
        self.path = path
        self._stamp: tuple[int, int] | None = None
        self._keys: dict[str, BoothKey] = dict(keys or {})
        self._secrets: dict[str, bytes] = {}
        self.refresh(at_start=True)

    def refresh(self, at_start: bool = False) -> None:
        if self.path is None:
            self._secrets = {k: v.secret for k, v in self._keys.items()}
            return
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            self._keys, self._secrets, self._stamp = {}, {}, None
            return
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp != self._stamp:
            try:
                keys = load_booth_keys(self.path)
            except BoothKeysError as exc:
                if at_start:
                    raise  # nothing good to keep: the service must not start on it
                log.error("%s; keeping the %d booth keys read before", exc, len(self._keys))
                self._stamp = stamp  # logged once per version of the file
                return
            self._keys = keys
            self._secrets = {k: v.secret for k, v in keys.items()}
            self._stamp = stamp

    def secrets(self) -> dict[str, bytes]:
        return self._secrets

    def get(self, booth_id: str) -> BoothKey | None:
        return self._keys.get(booth_id)

    def operators(self) -> set[str]:
        return {k.operator for k in self._keys.values()}
