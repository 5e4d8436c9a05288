"""The booth keys the registry verifies uploads with: see :mod:`ephoto.keyring` (shared with the
collector)."""

from ephoto.keyring import KeyRing as KeyRing
