"""Keep the garbage collector's work proportional to what a request allocates.

A long-running service builds a large heap at start-up (modules, the app, schemas, compiled
statements) that lives until exit. CPython's collector still walks all of it in every full
collection, and a request that holds many container objects at once (a batch of 1000 codes:
models, tuples, rows) promotes enough of them to trigger full collections often: in the
registry that was a third of a 1000-code batch's time. Freezing the start-up heap takes it out of
every later collection; garbage made by requests is collected as before.
"""

from __future__ import annotations

import gc


def freeze_startup_objects() -> None:
    """Collect what start-up left behind, then freeze the rest (call once, when ready to
    serve)."""
    gc.collect()
    gc.freeze()
