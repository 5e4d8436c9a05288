"""Where the shared assets folder (fonts, images, product text, catalogue) lives."""

from __future__ import annotations

import os
from pathlib import Path


def assets_dir() -> Path:
    """The ``assets/`` folder: ``CABINE_ASSETS`` if set, else the one shipped with the code."""
    override = os.environ.get("CABINE_ASSETS")
    if override:
        return Path(override)
    here = Path(__file__).resolve().parent
    for candidate in (here.parent / "assets", here / "assets"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"cabine assets folder not found next to {here}")


def asset(*parts: str) -> Path:
    return assets_dir().joinpath(*parts)
