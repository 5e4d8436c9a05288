"""Fixtures shared by every test module."""

from __future__ import annotations

import pytest

pytest_plugins = ["tests.pgcluster", "tests.cupsserver"]

CHROMIUM = "/usr/bin/chromium"
"""Debian's Chromium (``tools/test.sh`` installs it); never a browser Playwright downloads."""

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium driven by Playwright, one per test module."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
