"""Every bench in bench/ runs with the project's runtime dependencies alone: none imports the
test suite or pytest, directly or through what it imports (what benches and tests share lives in
``testkit``)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCHES = sorted((ROOT / "bench").glob("*.py"))
FORBIDDEN = ("tests", "pytest", "_pytest")


def imported_modules(source: str) -> list[tuple[int, str]]:
    """Every module ``source`` imports, at the top or inside a function, with its line."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return found


def forbidden_imports(source: str) -> list[str]:
    return [
        f"line {line}: {name}"
        for line, name in imported_modules(source)
        if name.split(".")[0] in FORBIDDEN
    ]


def test_there_are_benches_to_check() -> None:
    assert {p.name for p in BENCHES} >= {"transmit.py", "chaos.py", "registry.py"}


@pytest.mark.parametrize("bench", BENCHES, ids=lambda p: p.name)
def test_a_bench_names_neither_the_tests_nor_pytest(bench: Path) -> None:
    assert forbidden_imports(bench.read_text(encoding="utf-8")) == []


def test_the_scan_sees_a_bench_that_imports_the_tests() -> None:
    source = (
        "import sys\ndef main():\n    from tests.pgcluster import start_cluster\nimport pytest\n"
    )
    assert sorted(forbidden_imports(source)) == [
        "line 3: tests.pgcluster",
        "line 3: tests.pgcluster.start_cluster",
        "line 4: pytest",
    ]


# Run in a fresh interpreter where the test suite and pytest cannot be imported: the bench's own
# module code (its imports; main() is not called), then every module it imports anywhere.
BLOCKED_RUN = """
import importlib, importlib.abc, json, runpy, sys

BLOCKED = {blocked!r}

class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{{name}} is not a runtime dependency")
        return None

for name in list(sys.modules):
    if name.split(".")[0] in BLOCKED:
        del sys.modules[name]
sys.meta_path.insert(0, Refuse())
sys.path.insert(0, {root!r})
runpy.run_path({bench!r}, run_name="bench_import_check")
problems = []
for name in {modules!r}:
    try:
        importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] in BLOCKED:
            problems.append(f"{{name}}: {{exc}}")
    except ImportError as exc:
        if "not a runtime dependency" in str(exc):
            problems.append(f"{{name}}: {{exc}}")
print(json.dumps(problems))
"""


@pytest.mark.parametrize("bench", BENCHES, ids=lambda p: p.name)
def test_a_bench_imports_with_pytest_and_the_tests_out_of_reach(bench: Path) -> None:
    ours = ("cabine", "ephoto", "kiosk", "transmitter", "registry", "collector", "support")
    modules = sorted(
        {
            name
            for _, name in imported_modules(bench.read_text(encoding="utf-8"))
            if name.split(".")[0] in (*ours, "simulation", *FORBIDDEN)
        }
    )
    # "from package import name" also lists package.name, which may be a function: keep modules.
    modules = [m for m in modules if not _is_attribute(m)]
    program = BLOCKED_RUN.format(
        blocked=list(FORBIDDEN), root=str(ROOT), bench=str(bench), modules=modules
    )
    result = subprocess.run(
        [sys.executable, "-c", program],
        cwd=bench.parent,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


def _is_attribute(dotted: str) -> bool:
    """``package.module.name`` where ``name`` is not a module of ours (a function, a class)."""
    parent, _, last = dotted.rpartition(".")
    if not parent:
        return False
    base = ROOT.joinpath(*parent.split("."))
    return not ((base / f"{last}.py").is_file() or (base / last).is_dir())
