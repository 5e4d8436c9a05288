"""The dependency rules of DESIGN section 2, checked by import-linter on the real tree, and shown
to fail on a copy of the tree with one violating module added."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = (
    "testkit",
    "cabine",
    "ephoto",
    "kiosk",
    "transmitter",
    "registry",
    "collector",
    "support",
    "simulation",
)
LINT = Path(sys.executable).with_name("lint-imports")


def run_linter(tree: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(LINT), str(tree / "pyproject.toml"), "--no-cache"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def copy_tree(tmp_path: Path) -> Path:
    tree = tmp_path / "tree"
    tree.mkdir()
    shutil.copy(ROOT / "pyproject.toml", tree)
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, tree / package, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
        )
    return tree


def test_the_real_tree_keeps_every_contract():
    result = run_linter(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "broken" not in result.stdout.lower().replace("0 broken", "")


@pytest.mark.parametrize(
    ("module", "source", "contract"),
    [
        ("ephoto/_violation.py", "import kiosk.catalog\n", "ephoto imports none of ours"),
        ("registry/_violation.py", "import transmitter\n", "registry imports only ephoto"),
        ("transmitter/_violation.py", "import kiosk\n", "transmitter never imports kiosk"),
        (
            "kiosk/_violation.py",
            "import transmitter.latency\n",
            "kiosk uses only the transmitter's outbox",
        ),
        (
            "collector/_violation.py",
            "import registry.store\n",
            "collector imports only ephoto and transmitter",
        ),
        (
            "collector/_violation.py",
            "import kiosk\n",
            "collector imports only ephoto and transmitter",
        ),
        ("support/_violation.py", "import pygame\n", "pygame only under kiosk.ui"),
        ("kiosk/_violation.py", "import simulation\n", "nothing imports simulation"),
        (
            "cabine/_violation.py",
            "import testkit.standin\n",
            "no installed package imports the test kit (it is not in the wheel)",
        ),
    ],
)
def test_a_violating_module_breaks_its_contract(tmp_path, module, source, contract):
    tree = copy_tree(tmp_path)
    (tree / module).write_text(source)
    result = run_linter(tree)
    assert result.returncode != 0
    assert f"{contract} BROKEN" in result.stdout, result.stdout
