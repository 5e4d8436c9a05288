"""The documentation (README.md, mkdocs.yml and docs/) is tested like the code (issue 27).

- The site builds with ``mkdocs build --strict``, so a broken link or a page missing from the
  navigation fails; a copy with one broken link is shown failing.
- The references written by ``docs/hooks/references.py`` list every command and option of the
  Typer app, every configuration key, every HTTP path each service serves, every key of the
  scenario, sweep, fault and script files, and every key of ``metrics.json``.
- Every fenced example in the pages is run or checked: ``console`` blocks are run (``$ cabine
  ...``), unless marked ``.no-run``, which are checked against the Typer app (a renamed command
  or option fails); ``bash`` blocks are checked the same way; ``toml`` blocks are parsed and
  validated by the model their title names (``cabine.toml``, ``scenario.toml``, ``sweep.toml``,
  ``faults.toml``, ``script.toml``). Every ``cabine ...`` written inline names a command and
  options that exist.
- The README stays short and opens with its two commands.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, get_args

import pytest
import typer.main

from cabine.cli import app

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
README = ROOT / "README.md"
PAGES = sorted(p for p in DOCS.rglob("*.md") if "hooks" not in p.relative_to(DOCS).parts)
README_COMMANDS = (
    "python3 -m venv .venv && .venv/bin/pip install -q -e . && .venv/bin/cabine demo",
    "bash tools/test.sh",
)
# Inline mentions of a command or option that does not exist yet, each said so on its page
# (none today; a test checks that each entry is still missing from the app).
NOT_BUILT: dict[str, str] = {}


def references() -> ModuleType:
    """The site's hook, ``docs/hooks/references.py``, imported as MkDocs imports it."""
    if "docs_references" in sys.modules:
        return sys.modules["docs_references"]
    spec = importlib.util.spec_from_file_location(
        "docs_references", DOCS / "hooks" / "references.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


# --- fenced blocks ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Block:
    page: Path
    line: int
    lang: str
    classes: frozenset[str]
    title: str | None
    text: str

    @property
    def name(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def fenced_blocks(page: Path) -> list[Block]:
    """The fenced blocks of ``page``: ```lang title="x"``` or ``` { .lang .class }```."""
    found: list[Block] = []
    lines = page.read_text(encoding="utf-8").splitlines()
    start: int | None = None
    header = ""
    for number, line in enumerate(lines, 1):
        if start is None and line.startswith("```"):
            start, header = number, line[3:].strip()
        elif start is not None and line.rstrip() == "```":
            if header.startswith("{"):
                classes = re.findall(r"\.([\w-]+)", header)
                lang, rest = (classes[0] if classes else ""), classes[1:]
            else:
                lang = header.split()[0] if header else ""
                rest = []
            title = re.search(r'title="([^"]*)"', header)
            found.append(
                Block(
                    page,
                    start,
                    lang,
                    frozenset(rest),
                    title.group(1) if title else None,
                    "\n".join(lines[start : number - 1]),
                )
            )
            start = None
    assert start is None, f"{page}: the block opened at line {start} is never closed"
    return found


BLOCKS = [block for page in [README, *PAGES] for block in fenced_blocks(page)]


def blocks_of(*langs: str) -> list[Any]:
    return [pytest.param(b, id=b.name) for b in BLOCKS if b.lang in langs]


def test_every_fenced_block_says_what_it_holds():
    known = {"console", "bash", "toml", "mermaid", "text"}
    unknown = [b.name for b in BLOCKS if b.lang not in known]
    assert not unknown, f"blocks with no known language (one of {sorted(known)}): {unknown}"


# --- commands against the Typer app -------------------------------------------------------------

ROOT_COMMAND = typer.main.get_command(app)


def _is_flag(param: Any) -> bool:
    descriptor = getattr(param, "type_descriptor", None)
    return bool(
        getattr(param, "is_flag", False)
        or param.secondary_opts
        or (descriptor is not None and descriptor.annotation is bool)
    )


def command_problem(words: list[str]) -> str | None:
    """Why ``cabine WORDS`` is not a valid command line of the Typer app, or None."""
    command, path, index = ROOT_COMMAND, ["cabine"], 0
    while index < len(words) and words[index] in (getattr(command, "commands", None) or {}):
        command = command.commands[words[index]]  # type: ignore[attr-defined]
        path.append(words[index])
        index += 1
    rest = words[index:]
    if "--help" in rest:
        return None
    subcommands = getattr(command, "commands", None) or {}
    if subcommands and not getattr(command, "invoke_without_command", False):
        if not rest:
            return f"`{' '.join(path)}` needs a subcommand ({', '.join(subcommands)})"
        if not rest[0].startswith("-"):
            return f"`{' '.join(path)}` has no subcommand {rest[0]!r}"
    options = {
        name: param
        for param in command.params
        if param.param_type_name == "option"
        for name in (*param.opts, *param.secondary_opts)
    }
    given: set[str] = set()
    positionals = 0
    i = 0
    while i < len(rest):
        token = rest[i]
        if token.startswith("-") and not re.fullmatch(r"-\d+(\.\d+)?", token):
            name, eq, _value = token.partition("=")
            param = options.get(name)
            if param is None:
                return f"`{' '.join(path)}` has no option {name}"
            given.add(param.name)
            if not _is_flag(param) and not eq:
                if i + 1 >= len(rest):
                    return f"`{' '.join(path)}`: {name} needs a value"
                i += 1
        else:
            positionals += 1
        i += 1
    arguments = [p for p in command.params if p.param_type_name == "argument"]
    if not any(p.nargs == -1 for p in arguments) and positionals > len(arguments):
        return f"`{' '.join(path)}` takes {len(arguments)} argument(s), given {positionals}"
    missing = [
        p.opts[0]
        for p in command.params
        if p.param_type_name == "option" and p.required and p.name not in given
    ]
    if missing:
        return f"`{' '.join(path)}` needs {', '.join(missing)}"
    required_args = [p for p in arguments if p.required]
    if positionals < len(required_args):
        names = ", ".join((p.metavar or p.name).upper() for p in required_args)
        return f"`{' '.join(path)}` needs its argument(s) {names}"
    return None


def test_the_command_check_refuses_what_the_app_refuses():
    assert command_problem(["code", "new", "--count", "3"]) is None
    assert (
        command_problem(["code", "new", "--cuont", "3"])
        == "`cabine code new` has no option --cuont"
    )
    assert command_problem(["code", "renew"]) == "`cabine code` has no subcommand 'renew'"
    assert command_problem(["code"]) is not None
    assert command_problem(["code", "new", "--count"]) == "`cabine code new`: --count needs a value"
    assert command_problem(["sheet", "--out", "x.png"]) == "`cabine sheet` needs --product"
    assert command_problem(["code", "check"]) is not None
    assert command_problem(["code", "check", "A", "B"]) is not None


def shell_commands(block: Block) -> list[list[str]]:
    """Each command of a block: ``$ `` lines of a console block, every line of a bash block,
    split on ``&&``."""
    lines = block.text.splitlines()
    if block.lang == "console":
        lines = [line[2:] for line in lines if line.startswith("$ ")]
    commands = []
    for line in lines:
        for part in line.split("&&"):
            if part.strip():
                commands.append(shlex.split(part))
    return commands


def is_cabine(program: str) -> bool:
    return program in ("cabine", ".venv/bin/cabine")


@pytest.mark.parametrize("block", blocks_of("console", "bash"))
def test_every_shell_command_of_the_docs_names_real_commands_and_options(block: Block):
    commands = shell_commands(block)
    assert commands, f"{block.name}: a shell block with no command"
    for words in commands:
        program = words[0]
        if is_cabine(program):
            problem = command_problem(words[1:])
            assert problem is None, f"{block.name}: {' '.join(words)}: {problem}"
        elif program == "bash":
            assert (ROOT / words[1]).is_file(), f"{block.name}: {words[1]} does not exist"
        else:
            assert block.lang == "bash", f"{block.name}: a console block runs only cabine"
            found = shutil.which(program) or (ROOT / program).exists()
            assert found, f"{block.name}: {program} is not installed"


RUN_BLOCKS = [
    pytest.param(b, id=b.name) for b in BLOCKS if b.lang == "console" and "no-run" not in b.classes
]


@pytest.mark.parametrize("block", RUN_BLOCKS)
def test_every_console_example_runs(block: Block, tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CABINE_")}
    env["SDL_VIDEODRIVER"] = "dummy"
    for words in shell_commands(block):
        assert is_cabine(words[0]), f"{block.name}: {words[0]}"
        done = subprocess.run(
            [sys.executable, "-m", "cabine.cli", *words[1:]],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, f"{block.name}: {' '.join(words)}:\n{done.stderr[-2000:]}"
        wrote = any(tmp_path.iterdir())
        assert done.stdout.strip() or wrote, f"{block.name}: {' '.join(words)} did nothing"


def test_the_docs_run_some_commands_and_only_check_the_long_ones():
    assert len(RUN_BLOCKS) >= 5
    assert any("no-run" in b.classes for b in BLOCKS)


INLINE = re.compile(r"`(cabine [^`]+)`")


def inline_mentions() -> list[tuple[Path, str]]:
    return [
        (page, match.group(1))
        for page in [README, *PAGES]
        for match in INLINE.finditer(page.read_text(encoding="utf-8"))
    ]


def inline_problems(mention: str) -> list[str]:
    """Why an inline ``cabine ...`` (brackets and alternatives allowed, as in a usage line)
    names no command, or an option its command does not have."""
    command, path = ROOT_COMMAND, ["cabine"]
    for word in mention.split()[1:]:
        children = getattr(command, "commands", None) or {}
        if word not in children:
            break
        command, path = children[word], [*path, word]
    if len(path) == 1:
        return [f"`{mention}`: no such command"]
    names = {n for p in command.params for n in (*p.opts, *p.secondary_opts)} | {"--help"}
    return [
        f"`{mention}`: `{' '.join(path)}` has no {option}"
        for option in re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", mention)
        if option not in names
    ]


def test_the_inline_check_refuses_a_renamed_command_or_option():
    assert inline_problems("cabine fleet run SCENARIO --booths N [--scale S]") == []
    assert inline_problems("cabine scenarios run NAME\\|--all [--json]") == []
    assert inline_problems("cabine fleet run SCENARIO --boths N") == [
        "`cabine fleet run SCENARIO --boths N`: `cabine fleet run` has no --boths"
    ]
    assert inline_problems("cabine simulator x") == ["`cabine simulator x`: no such command"]


def test_every_inline_cabine_command_names_a_real_command_and_its_options():
    problems = []
    for page, mention in inline_mentions():
        if mention in NOT_BUILT:
            assert inline_problems(mention), f"{mention} exists now: document it"
            assert page.relative_to(DOCS).as_posix() == NOT_BUILT[mention]
            text = page.read_text(encoding="utf-8")
            before = text[: text.index(f"`{mention}`")]
            assert "Not yet built" in before[-400:], f"{page}: {mention} is not said to be unbuilt"
            continue
        problems += [f"{page.name}: {problem}" for problem in inline_problems(mention)]
    assert not problems, "\n".join(problems)
    assert len(inline_mentions()) > 50


# --- TOML examples ------------------------------------------------------------------------------


def unknown_keys(data: dict[str, Any], model: Any, prefix: str = "") -> list[str]:
    """The keys of ``data`` that ``model`` (a pydantic model) has no field for, dotted."""
    unknown = []
    for key, value in data.items():
        info = model.model_fields.get(key)
        if info is None:
            unknown.append(prefix + key)
        elif isinstance(value, dict) and hasattr(info.annotation, "model_fields"):
            unknown += unknown_keys(value, info.annotation, f"{prefix}{key}.")
    return unknown


def check_toml(title: str | None, text: str, folder: Path) -> None:
    """Parse and validate one TOML example as the program reads the file its title names."""
    path = folder / (title or "untitled.toml")
    path.write_text(text + "\n", encoding="utf-8")
    tomllib.loads(text)
    if title == "cabine.toml":
        from cabine.config import Settings, load_settings

        # The schema ignores a key it does not know inside a section, so each key of the
        # example is looked up in the schema too: a renamed key fails here.
        unknown = unknown_keys(tomllib.loads(text), Settings)
        assert not unknown, f"cabine.toml example: keys the schema does not have: {unknown}"
        load_settings(path)
    elif title == "scenario.toml":
        from simulation.scenario import load_scenario

        load_scenario(path)
    elif title == "sweep.toml":
        from simulation.sweep import load_sweep

        load_sweep(path)
    elif title == "faults.toml":
        from simulation.live_faults import load_faults

        faults = load_faults(path, tuple(f"booth-{n:03d}" for n in range(1, 11)), workers=4)
        assert faults
    elif title == "script.toml":
        from kiosk.ui.script import load_script

        assert load_script(path)
    else:
        raise AssertionError(f"a TOML example must name the file it shows (title=...), got {title}")


@pytest.mark.parametrize("block", blocks_of("toml"))
def test_every_toml_example_is_valid_for_the_file_it_shows(
    block: Block, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    for name in [k for k in os.environ if k.startswith("CABINE_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    check_toml(block.title, block.text, tmp_path)


@pytest.mark.parametrize(
    ("title", "text", "refusal"),
    [
        ("cabine.toml", "[kiosk]\nprinterr = 'cups:Q'", "kiosk.printerr"),
        ("cabine.toml", "[kiosk]\nprinter = 7", "printer"),
        ("scenario.toml", "[demand]\nseason = { '13' = 1.2 }", "month '13'"),
        ("sweep.toml", 'scenario = "summer-peak"\n[vary]\n"registry.capacity" = [1.0]', "capacity"),
        (
            "faults.toml",
            '[[fault]]\nkind = "uplink_down"\nbooth = "booth-999"\nat = 1.0\nhours = 1.0',
            "booth-999",
        ),
        ("script.toml", '[[step]]\nwait_for = "nowhere"', "wait_for"),
        ("other.toml", "a = 1", "must name the file"),
    ],
)
def test_a_toml_example_with_a_mistake_fails_its_check(
    title: str, text: str, refusal: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    from pydantic import ValidationError

    from kiosk.ui.script import ScriptError
    from simulation.live_faults import FaultError
    from simulation.scenario import ScenarioError
    from simulation.sweep import SweepError

    monkeypatch.chdir(tmp_path)
    refused = (AssertionError, ValidationError, ScenarioError, SweepError, FaultError, ScriptError)
    with pytest.raises(refused, match=re.escape(refusal)):
        check_toml(title, text, tmp_path)


def test_every_kind_of_toml_file_has_an_example():
    titles = {b.title for b in BLOCKS if b.lang == "toml"}
    assert titles == {"cabine.toml", "scenario.toml", "sweep.toml", "faults.toml", "script.toml"}


# --- the references against the code -----------------------------------------------------------


def command_paths(command: Any, path: str = "cabine") -> list[tuple[str, Any]]:
    found = [(path, command)]
    for name, child in (getattr(command, "commands", None) or {}).items():
        if not getattr(child, "hidden", False):
            found += command_paths(child, f"{path} {name}")
    return found


def section(page: str, heading: str) -> str:
    start = page.index(heading)
    end = page.find("\n## ", start + len(heading))
    return page[start : end if end != -1 else len(page)]


def test_the_cli_reference_lists_every_command_and_option():
    page = references().cli_page()
    commands = command_paths(ROOT_COMMAND)
    assert len(commands) > 30
    for path, command in commands:
        heading = f"## `{path}`"
        assert heading in page, f"the CLI reference lacks {path}"
        text = section(page, heading)
        for param in command.params:
            if getattr(param, "hidden", False) or param.name == "help":
                continue
            names = [*param.opts, *param.secondary_opts]
            if param.param_type_name == "argument":
                names = [(param.metavar or param.name).upper()]
            for name in names:
                assert name in text, f"the CLI reference of {path} lacks {name}"


def example_keys() -> set[str]:
    """Every key of ``cabine config example``, dotted: the schema's own documented file."""
    from cabine.config import example_toml

    keys, table = set(), ""
    for line in example_toml().splitlines():
        header = re.fullmatch(r"\[([\w.]+)\]", line)
        if header:
            table = header.group(1)
            continue
        # A key at its default, or one with no default: "# name = ...  (type; not set)".
        key = re.match(r"(\w+) = ", line) or re.match(r"# (\w+) = \.\.\.  \(", line)
        if key:
            keys.add(f"{table}.{key.group(1)}" if table else key.group(1))
    return keys


def test_the_configuration_reference_lists_every_key_of_the_schema():
    page = references().config_page()
    keys = example_keys()
    assert len(keys) > 80
    for key in keys:
        table, _, name = key.rpartition(".")
        heading = f"## `[{table}]`" if table else "## Top level"
        assert heading in page, f"the configuration reference lacks the section of {key}"
        assert f"| `{name}` |" in section(page, heading), f"the configuration reference lacks {key}"
        env = f"CABINE_{key.upper().replace('.', '__')}"
        assert env in page, f"the configuration reference lacks {env}"


@pytest.mark.parametrize("service", ["registry", "collector", "support"])
def test_each_http_reference_lists_every_path_its_service_serves(service: str):
    refs = references()
    page = refs.http_page(service)
    doc = refs.service_doc(service)
    served = {(s.method, s.path) for s in doc.served}
    in_schema = {
        (method.upper(), path) for path, items in doc.spec["paths"].items() for method in items
    }
    assert in_schema <= served
    assert len(in_schema) >= 3
    for method, path in served:
        row = re.compile(rf"\| `{method}` \| \[?`{re.escape(path)}`")
        assert row.search(page), f"the {service} reference lacks {method} {path}"


def test_the_http_references_cover_the_admin_api_and_the_pages():
    refs = references()
    assert ("POST", "/admin/clock") in refs.http_paths("registry")
    assert ("GET", "/") in refs.http_paths("registry")
    assert ("GET", "/v1/files/{code}") in refs.http_paths("collector")
    assert ("POST", "/v1/reports") in refs.http_paths("support")


def model_leaf_keys(model: Any, prefix: str = "") -> list[str]:
    keys = []
    for name, info in model.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and hasattr(annotation, "model_fields"):
            keys += model_leaf_keys(annotation, f"{prefix}{name}.")
        else:
            keys.append(f"{prefix}{name}")
    return keys


def test_the_scenario_reference_lists_every_key_of_the_scenario_fault_and_script_files():
    from kiosk.ui.script import ACTIONS
    from simulation.live_faults import Fault
    from simulation.scenario import Scenario

    page = references().scenario_page()
    for key in model_leaf_keys(Scenario):
        table, _, name = key.rpartition(".")
        heading = f"### `[{table}]`" if table else "### Top level"
        assert f"| `{name}` |" in section(page, heading), f"the scenario reference lacks {key}"
    faults = section(page, "## The fault schedule")
    for key in Fault.model_fields:
        assert f"| `{key}` |" in faults, f"the fault reference lacks {key}"
    script = section(page, "## The kiosk script")
    for key in (*ACTIONS, "timeout", "seconds", "mouse"):
        assert f"| `{key}` |" in script, f"the script reference lacks {key}"


def test_the_sweep_reference_lists_every_key_column_and_target():
    from simulation.sweep import _TOP_KEYS, FIGURES, TARGET_FIGURES

    page = references().sweep_page()
    for key in _TOP_KEYS:
        assert f"| `{key}` |" in page
    for figure in FIGURES:
        assert f"- `{figure}`" in page
    for target in TARGET_FIGURES:
        assert f"| `{target}` |" in page


def test_the_sweep_reference_refuses_a_key_it_does_not_describe(monkeypatch):
    refs = references()
    monkeypatch.setattr(
        refs, "SWEEP_KEYS", {k: v for k, v in refs.SWEEP_KEYS.items() if k != "name"}
    )
    with pytest.raises(ValueError, match="SWEEP_KEYS"):
        refs.sweep_page()


def test_the_metrics_reference_lists_every_key_of_a_real_metrics_json():
    refs = references()
    sample = refs.metrics_sample()
    page = refs.metrics_page()
    for key, _value in refs._flatten(sample, ""):
        assert f"| `{key}` |" in page, f"the metrics reference lacks {key}"
    for key in sample:
        assert f"| `{key}` | {refs._cell(refs.METRICS[key])} |" in page


def test_the_metrics_reference_refuses_a_key_it_does_not_describe(monkeypatch):
    refs = references()
    described = dict(refs.METRICS)
    del described["backlog_max"]
    monkeypatch.setattr(refs, "METRICS", described)
    with pytest.raises(ValueError, match="undescribed: \\['backlog_max'\\]"):
        refs.metrics_page()


# Written like a configuration key, but something else.
NOT_KEYS = {"registry.sqlite": "the registry's database file", "registry.batches": "a logger"}


def test_every_configuration_key_the_guides_name_exists():
    """``kiosk.operator_pin_hash`` written in a guide is a key of the schema, unless it names a
    module (``transmitter.latency``)."""
    keys = {key.key for key in references().config_keys()}
    sections = {key.split(".")[0] for key in keys if "." in key}
    named, problems = 0, []
    for page in [README, *PAGES]:
        for section_name, key in re.findall(r"`([a-z_]+)\.([a-z_0-9]+)`", page.read_text()):
            dotted = f"{section_name}.{key}"
            if section_name not in sections or dotted in NOT_KEYS:
                continue
            named += 1
            if dotted not in keys and importlib.util.find_spec(dotted) is None:
                problems.append(f"{page.relative_to(ROOT)}: `{dotted}` is no key of the schema")
    assert not problems, "\n".join(problems)
    assert named > 10


# --- hand-written tables that follow the code ---------------------------------------------------


def test_the_command_line_table_names_every_command():
    rows = [
        line.split(" | ")[0]
        for line in (DOCS / "commands.md").read_text(encoding="utf-8").splitlines()
        if line.startswith("| `cabine")
    ]
    # "cabine transmitter [run]" names both the group and its subcommand.
    named = [re.sub(r"\[([\w-]+)\]", r"\1", m) for row in rows for m in INLINE.findall(row)]
    missing = [
        path
        for path, command in command_paths(ROOT_COMMAND)[1:]
        if not getattr(command, "commands", None)
        or getattr(command, "invoke_without_command", False)
        if not any(name == path or name.startswith(path + " ") for name in named)
    ]
    assert not missing, f"docs/commands.md's table lacks {missing}"


def test_the_operator_guide_explains_every_screen_of_the_sale():
    from kiosk.sale import State

    text = (DOCS / "operator" / "index.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- screens-table -->\n(.*?)<!-- /screens-table -->", text, re.S)
    assert block, "docs/operator/index.md lacks the screens' table"
    shown = re.findall(r"^\| `(\w+)` \|", block.group(1), re.M)
    assert sorted(shown) == sorted(s.value for s in State)


def test_the_live_fleet_page_shows_every_kind_of_fault():
    from simulation.live_faults import Kind

    text = (DOCS / "qa" / "fleet.md").read_text(encoding="utf-8")
    missing = [kind for kind in get_args(Kind) if kind not in text]
    assert not missing, f"docs/qa/fleet.md does not show the faults {missing}"


def test_every_test_and_bench_the_docs_name_exists():
    named = set()
    for page in [README, *PAGES]:
        named |= set(re.findall(r"(?:tests|bench|tools)/[\w/]+\.(?:py|sh)", page.read_text()))
    assert len(named) > 30
    missing = sorted(n for n in named if not (ROOT / n).is_file() and "NAME" not in n)
    assert not missing, f"the docs name files that do not exist: {missing}"


def test_every_picture_the_docs_show_exists_and_every_picture_is_shown():
    # MkDocs's strict build does not check pictures, only links.
    shown = set()
    for page in [README, *PAGES]:
        for target in re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", page.read_text(encoding="utf-8")):
            picture = (page.parent / target).resolve()
            assert picture.is_file(), (
                f"{page.relative_to(ROOT)} shows {target}, which does not exist"
            )
            shown.add(picture)
    pictures = {p.resolve() for p in DOCS.rglob("*.png")}
    assert len(pictures) >= 13
    assert pictures <= shown, f"pictures no page shows: {sorted(map(str, pictures - shown))}"


def test_the_readme_is_short_and_opens_with_its_two_commands():
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 150
    bash = [b.text for b in fenced_blocks(README) if b.lang == "bash"]
    assert tuple(bash[:2]) == README_COMMANDS
    first_prose = text.index("\n\n", text.index(README_COMMANDS[1]))
    assert text.index(README_COMMANDS[0]) < text.index(README_COMMANDS[1]) < first_prose
    assert text.startswith("# cabine\n\n```bash\n" + README_COMMANDS[0])
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert README_COMMANDS[1] in ci


# --- the site -----------------------------------------------------------------------------------


def build(config: Path, site: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config), "-d", str(site)],
        cwd=config.parent,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_site_builds_strict_with_every_reference_page(tmp_path: Path):
    done = build(ROOT / "mkdocs.yml", tmp_path / "site")
    assert done.returncode == 0, done.stderr[-3000:]
    for page in references().PAGES:
        html = tmp_path / "site" / page.removesuffix(".md") / "index.html"
        assert html.is_file(), f"the site lacks {page}"
    cli = (tmp_path / "site" / "reference" / "cli" / "index.html").read_text(encoding="utf-8")
    assert "cabine fleet run" in cli
    chain = (tmp_path / "site" / "chain" / "index.html").read_text(encoding="utf-8")
    assert 'class="mermaid"' in chain


def test_a_broken_link_fails_the_strict_build(tmp_path: Path):
    copy = tmp_path / "copy"
    shutil.copytree(DOCS, copy / "docs")
    shutil.copy(ROOT / "mkdocs.yml", copy / "mkdocs.yml")
    page = copy / "docs" / "qa" / "index.md"
    page.write_text(page.read_text() + "\nSee [the lost page](lost.md).\n", encoding="utf-8")
    done = build(copy / "mkdocs.yml", tmp_path / "site")
    assert done.returncode != 0
    assert "lost.md" in done.stderr
