"""Booth keys a service verifies signed uploads with (the registry, the collector), re-read when
the keys file changes."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from ephoto.wire import BoothKey, load_booth_keys


class KeyRing:
    """Booth keys from the keys file, re-read when the file changes (a booth added while the
    registry runs can upload at once)."""

    def __init__(self, path: Path | None, keys: Mapping[str, BoothKey] | None = None):
        self.path = path
        self._stamp: tuple[int, int] | None = None
        self._keys: dict[str, BoothKey] = dict(keys or {})
        self._secrets: dict[str, bytes] = {}
        self.refresh()

    def refresh(self) -> None:
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
            self._keys = load_booth_keys(self.path)
            self._secrets = {k: v.secret for k, v in self._keys.items()}
            self._stamp = stamp

    def secrets(self) -> dict[str, bytes]:
        return self._secrets

    def get(self, booth_id: str) -> BoothKey | None:
        return self._keys.get(booth_id)

    def operators(self) -> set[str]:
        return {k.operator for k in self._keys.values()}
