"""The README's first command on a fresh machine: every runtime dependency installs from a
wheel, with no compiler and no ``-dev`` package. The test command installs both (pycups, in the
``cups`` extra, builds against libcups), so only a resolve that refuses source builds shows what
a new user meets; pip asks the package index, as the first command does."""

from __future__ import annotations

import json
import subprocess
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def fresh_pip(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("fresh-venv")
    # The interpreter the project venv was made from, not the project venv itself.
    venv.EnvBuilder(with_pip=True).create(folder)
    return folder / "bin" / "pip"


def dry_run(pip: Path, target: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(pip),
            "install",
            "--dry-run",
            "--only-binary",
            ":all:",
            "--disable-pip-version-check",
            "--quiet",
            "--report",
            "-",
            "-e",
            target,
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )


def test_the_first_command_installs_every_runtime_dependency_from_a_wheel(fresh_pip):
    result = dry_run(fresh_pip, str(ROOT))
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    names = {item["metadata"]["name"].lower() for item in report["install"]}
    assert {"pygame-ce", "pillow", "opencv-python-headless", "numpy"} <= names
    # pycups has no wheel (it is the ``cups`` extra); pygame would shadow pygame-ce.
    assert "pycups" not in names and "pygame" not in names
    wheels = [
        item["download_info"]["url"]
        for item in report["install"]
        if item["metadata"]["name"].lower() != "cabine"
    ]
    assert all(url.endswith(".whl") for url in wheels), wheels


def test_the_cups_extra_is_the_one_that_needs_a_compiler(fresh_pip):
    """The check above can fail: the extra that builds from source is refused the same way."""
    result = dry_run(fresh_pip, f"{ROOT}[cups]")
    assert result.returncode != 0
    assert "pycups" in result.stderr.lower()

