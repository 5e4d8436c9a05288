"""The collector's timing defaults, in a module of their own: the simulator's scenarios take them
without building the collector's settings models (about 25 ms of a simulation's start)."""

from __future__ import annotations

REGISTRATION_WINDOW_MINUTES = 5.0
"""Numbers wait this long after receipt, so that they leave for the state in batches."""
