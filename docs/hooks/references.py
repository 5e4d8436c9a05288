"""The documentation site's references, written from the code each time the site is built.

A MkDocs hook (``hooks:`` in mkdocs.yml): before the pages are read, it adds the reference pages
as generated files, so that no copy of them is kept that could drift from the code. Each page
is made from the thing it documents:

- every command and option, from the Typer app behind ``cabine`` (``typer.main.get_command``);
- every configuration key with its type, default and help, from the pydantic-settings schema;
- every HTTP path of the registry, the collector and the support desk, from each app's OpenAPI,
  the apps built by the factories their commands use, admin routes included;
- the scenario, fault schedule, kiosk script and sweep files' keys, from their models;
- the keys of ``metrics.json``, from the file a real (small) run of the simulator writes.

``tests/test_docs.py`` imports this module to compare the references with the code, and builds
the site with ``mkdocs build --strict``. Descriptions written here (the sweep file's keys and
the metrics) are checked against the code's own list: a key added or removed there fails the
build until this page says what it means.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel

GENERATED_NOTE = (
    '!!! note "Generated from the code"\n'
    "    This page is written by `docs/hooks/references.py` each time the site is built{source}; "
    "it cannot drift from the code, and it is not edited by hand.\n"
)


def _note(source: str) -> str:
    return GENERATED_NOTE.format(source=f", from {source}" if source else "")


def _cell(text: Any) -> str:
    """A value fit for one cell of a Markdown table."""
    value = " ".join(str(text).split())
    return value.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


# --- the command line --------------------------------------------------------------------------


@dataclass(frozen=True)
class ParamDoc:
    name: str  # --data, or ARGUMENT
    kind: str  # option or argument
    type: str
    required: bool
    default: str
    help: str


@dataclass(frozen=True)
class CommandDoc:
    path: str  # "cabine fleet run"
    help: str
    params: tuple[ParamDoc, ...]
    is_group: bool


def _param_doc(param: Any) -> ParamDoc:
    kind = param.param_type_name
    if kind == "argument":
        name = (param.metavar or param.name).upper()
    else:
        names = [*param.opts, *param.secondary_opts]
        name = " / ".join(names)
    default = param.default
    if callable(default) or default is None or kind == "argument" and param.required:
        shown = ""
    elif isinstance(default, list | tuple):
        shown = ", ".join(str(d) for d in default)
    else:
        shown = str(default)
    # Typer's own parameters describe their Python annotation; click's name their type.
    descriptor = getattr(param, "type_descriptor", None)
    if descriptor is not None:
        shown_type = type_name(descriptor.annotation)
    else:
        shown_type = getattr(getattr(param, "type", None), "name", "value")
    if kind == "option" and shown_type == "true or false" or getattr(param, "is_flag", False):
        shown_type = "flag"
    return ParamDoc(
        name=name,
        kind=kind,
        type=shown_type,
        required=bool(param.required),
        default=shown,
        help=getattr(param, "help", None) or "",
    )


def cli_commands() -> list[CommandDoc]:
    """Every command and group of ``cabine``, the root first, each with its parameters."""
    import typer.main

    from cabine.cli import app

    root = typer.main.get_command(app)

    def walk(command: Any, path: str) -> Iterator[CommandDoc]:
        params = tuple(
            _param_doc(p)
            for p in command.params
            if not getattr(p, "hidden", False) and p.name not in ("help",)
        )
        children = getattr(command, "commands", None) or {}
        yield CommandDoc(
            path=path,
            help=(command.help or command.short_help or "").strip(),
            params=params,
            is_group=bool(children),
        )
        for name, child in children.items():
            if not getattr(child, "hidden", False):
                yield from walk(child, f"{path} {name}")

    return list(walk(root, "cabine"))


def _anchor(path: str) -> str:
    return path.replace(" ", "-")


def cli_page() -> str:
    commands = cli_commands()
    lines = [
        "# Command-line reference",
        "",
        _note("the Typer app behind `cabine` (`cabine.cli:app`)"),
        "Every command takes `--help`. A bad argument, file or data folder ends a command with "
        "one line on stderr and exit code 2 ([Command line](../commands.md)).",
        "",
        "| command | what it does |",
        "|---|---|",
    ]
    for command in commands[1:]:
        first = command.help.split("\n\n")[0]
        lines.append(f"| [`{command.path}`](#{_anchor(command.path)}) | {_cell(first)} |")
    lines.append("")
    for command in commands:
        lines += [f"## `{command.path}` {{ #{_anchor(command.path)} }}", ""]
        if command.help:
            lines += [command.help.replace("\b\n", ""), ""]
        if command.is_group:
            lines += [
                "Subcommands: "
                + ", ".join(
                    f"[`{c.path}`](#{_anchor(c.path)})"
                    for c in commands
                    if c.path.startswith(command.path + " ")
                    and c.path.count(" ") == command.path.count(" ") + 1
                )
                + ".",
                "",
            ]
        if command.params:
            lines += ["| parameter | type | default | meaning |", "|---|---|---|---|"]
            for p in command.params:
                required = " (required)" if p.required else ""
                lines.append(
                    f"| `{_cell(p.name)}`{required} | {_cell(p.type)} | "
                    f"{'`' + _cell(p.default) + '`' if p.default else ''} | {_cell(p.help)} |"
                )
            lines.append("")
    return "\n".join(lines) + "\n"


# --- settings models ---------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyDoc:
    key: str  # dotted: registry.port
    type: str
    default: str
    help: str


def type_name(annotation: Any) -> str:
    """A field's type in words a configuration author reads."""
    origin = get_origin(annotation)
    args = get_args(annotation)
    if origin in (Union, types.UnionType):
        kinds = [type_name(a) for a in args if a is not type(None)]
        optional = ", optional" if type(None) in args else ""
        return " or ".join(kinds) + optional
    if origin is Literal:
        return " or ".join(json.dumps(a) for a in args)
    if origin is dict:
        return f"table of {type_name(args[1])}" if len(args) == 2 else "table"
    if origin in (list, tuple, set, frozenset):
        return f"list of {type_name(args[0])}" if args else "list"
    if getattr(annotation, "__name__", None) == "Annotated" or origin is not None:
        return type_name(args[0]) if args else str(annotation)
    if isinstance(annotation, type):
        return {
            "str": "text",
            "int": "integer",
            "float": "number",
            "bool": "true or false",
            "Path": "path",
            "datetime": "date and time (ISO 8601 with offset)",
            "date": "date",
        }.get(annotation.__name__, annotation.__name__)
    return str(annotation)


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _default_text(value: Any) -> str:
    from cabine.config import _toml_value

    if value is None:
        return "not set"
    try:
        return _toml_value(value)
    except TypeError:
        return repr(value)


def model_keys(model: type[BaseModel], prefix: str = "") -> list[KeyDoc]:
    """Every leaf key of ``model``, dotted, with nested models walked as their sections."""
    keys: list[KeyDoc] = []
    nested: list[tuple[str, type[BaseModel]]] = []
    for name, info in model.model_fields.items():
        dotted = f"{prefix}{name}"
        if _is_model(info.annotation):
            nested.append((dotted, info.annotation))  # type: ignore[arg-type]
            continue
        default = info.get_default(call_default_factory=True)
        keys.append(
            KeyDoc(
                key=dotted,
                type=type_name(info.annotation),
                default="required" if info.is_required() else _default_text(default),
                help=info.description or "",
            )
        )
    for dotted, inner in nested:
        keys += model_keys(inner, f"{dotted}.")
    return keys


def _sections_table(keys: list[KeyDoc], env: bool) -> list[str]:
    lines: list[str] = []
    section = None
    for key in keys:
        head, _, _name = key.key.rpartition(".")
        if head != section:
            section = head
            title = f"`[{head}]`" if head else "Top level"
            header = "| key | type | default | meaning |"
            rule = "|---|---|---|---|"
            if env:
                header = "| key | type | default | environment | meaning |"
                rule = "|---|---|---|---|---|"
            lines += ["", f"## {title}", "", header, rule]
        cells = [f"`{key.key.rpartition('.')[2]}`", _cell(key.type), f"`{_cell(key.default)}`"]
        if env:
            cells.append(f"`CABINE_{key.key.upper().replace('.', '__')}`")
        cells.append(_cell(key.help))
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def config_keys() -> list[KeyDoc]:
    from cabine.config import Settings

    return model_keys(Settings)


def config_page() -> str:
    lines = [
        "# Configuration reference",
        "",
        _note("the schema `cabine.config.Settings` and each package's settings model"),
        "Values come from the environment (`CABINE_SECTION__KEY`), then the TOML file "
        "(`--config FILE`, `CABINE_CONFIG` or `./cabine.toml`), then these defaults. The "
        "same keys with their help make `cabine config example`, committed as "
        "[`docs/cabine.example.toml`](../cabine.example.toml). How the parts use them: "
        "[Configuration](../integrator/configuration.md).",
    ]
    lines += _sections_table(config_keys(), env=True)
    return "\n".join(lines) + "\n"


# --- the QA files: scenario, fault schedule, kiosk script, sweep --------------------------------


def scenario_keys() -> list[KeyDoc]:
    from simulation.scenario import Scenario

    return model_keys(Scenario)


def fault_keys() -> list[KeyDoc]:
    from simulation.live_faults import Fault

    return model_keys(Fault)


def script_keys() -> dict[str, str]:
    from kiosk.ui.script import _KINDS

    return {key: expected for key, (expected, _check) in _KINDS.items()}


def scenario_page() -> str:
    from simulation.live_faults import KILLS
    from simulation.scenario import SCENARIO_DIR

    bundled = ", ".join(f"`{p.stem}`" for p in sorted(SCENARIO_DIR.glob("*.toml")))
    lines = [
        "# Scenario, fault and script files",
        "",
        _note(
            "the models `simulation.scenario.Scenario`, `simulation.live_faults.Fault` and "
            "the kiosk script's checks"
        ),
        "## The scenario file",
        "",
        f"Used by `cabine simulate`, `cabine sweep`, `cabine plan capacity` and `cabine fleet "
        f"run`: a bundled name ({bundled}) or a TOML file. Every key is optional; a mistake is "
        "refused naming its key. How a run uses them: [Simulations](../qa/simulate.md).",
    ]
    lines += [line.replace("## ", "### ", 1) for line in _sections_table(scenario_keys(), False)]
    lines += [
        "",
        "## The fault schedule (`cabine fleet run --faults`)",
        "",
        "A list of `[[fault]]` tables; kills (" + ", ".join(f"`{k}`" for k in KILLS) + ") "
        "may last no time. How faults are applied: [The live fleet](../qa/fleet.md).",
        "",
        "| key | type | default | meaning |",
        "|---|---|---|---|",
    ]
    for key in fault_keys():
        lines.append(
            f"| `{key.key}` | {_cell(key.type)} | `{_cell(key.default)}` | {_cell(key.help)} |"
        )
    lines += [
        "",
        "## The kiosk script (`cabine kiosk --script`)",
        "",
        "A list of `[[step]]` tables, each with exactly one action; `timeout`, `seconds` and "
        "`mouse` are options of a step. Examples: [The booth](../operator/booth.md).",
        "",
        "| key | value |",
        "|---|---|",
    ]
    for key, expected in script_keys().items():
        lines.append(f"| `{key}` | {_cell(expected)} |")
    return "\n".join(lines) + "\n"


# What each key of a sweep file means; the keys must be exactly the parser's
# (simulation.sweep._TOP_KEYS), or the build fails.
SWEEP_KEYS = {
    "scenario": "The base scenario: a bundled name or a path, relative to the sweep file. "
    "Required.",
    "name": "A name for the sweep, shown in its report.",
    "seeds": "A count (the scenario's seed and the next ones, 1 to 10000) or a list of seeds; "
    "1 by default.",
    "vary": "A table: each dotted scenario key (quoted) and the list of its values.",
    "combine": '"grid" (every combination, the default) or "zip" (the lists paired in order).',
}


def sweep_page() -> str:
    from simulation.sweep import _TOP_KEYS, FIGURES, TARGET_FIGURES

    if set(SWEEP_KEYS) != set(_TOP_KEYS):
        raise ValueError(
            f"docs/hooks/references.py: SWEEP_KEYS {sorted(SWEEP_KEYS)} differ from the sweep "
            f"file's keys {sorted(_TOP_KEYS)}"
        )
    lines = [
        "# Sweep file reference",
        "",
        _note("`simulation.sweep`"),
        "`cabine sweep SWEEP.toml` runs a scenario over parameters and seeds "
        "([Sweeps and capacity planning](../qa/sweeps.md)). Any value key of "
        "[the scenario](scenario.md) can be varied by its dotted path.",
        "",
        "| key | meaning |",
        "|---|---|",
    ]
    lines += [f"| `{key}` | {_cell(SWEEP_KEYS[key])} |" for key in sorted(_TOP_KEYS)]
    lines += [
        "",
        "## The columns of `results.csv`",
        "",
        "`run` (the run's key), one column per varied key, `seed`, then the figures of the run "
        "(as in [`metrics.json`](metrics.md)) and `run_seconds`:",
        "",
    ]
    lines += [f"- `{figure}`" for figure in FIGURES]
    lines += [
        "",
        "## Targets of `cabine plan capacity --target`",
        "",
        "| target | figure |",
        "|---|---|",
    ]
    lines += [f"| `{name}` | `{figure}` |" for name, figure in TARGET_FIGURES.items()]
    return "\n".join(lines) + "\n"


# --- metrics.json -------------------------------------------------------------------------------

# What each top-level key of metrics.json means; the keys must be exactly those a run writes,
# or the build fails.
METRICS = {
    "scenario": "The scenario's name.",
    "seed": "The seed of the run.",
    "codes_issued": "ePhoto numbers sold.",
    "other_sales": "Sales of products without a number.",
    "wrong_product_sales": "Of those, sales to customers who needed an ePhoto.",
    "activation_hours": "Hours from purchase to activation at the state: mean and percentiles.",
    "share_active_within_72h": "Share of numbers active within 72 h of purchase (the FAQ's "
    "promise).",
    "registry_wait_hours_mean": "Mean hours a number waits in the state's queue.",
    "registry_wait_hours": "Hours in the state's queue: mean and percentiles.",
    "activation_by_stage": "The activation delay split along its stages (booth, collector, "
    "state queue, base delay; they add up number by number), each with its share of the mean.",
    "backlog_max": "The state's largest queue, in numbers.",
    "registry_pending_mean": "Numbers pending at the state, averaged over time.",
    "by_month": "Per month of purchase: numbers, p95 activation and the share within 72 h.",
    "citizen_attempts": "What the registry answered citizens' checks, by answer.",
    "reports": "Problem reports filed with the support desk.",
    "claims": "The support desk's decisions, by decision.",
    "claim_reasons": "The support desk's decisions, by reason.",
    "wall_seconds": "Seconds the simulation took.",
    "record": "What was run: cabine's version, the command line, the seeds, and the scenario "
    "with every parameter after defaults (its keys: [the scenario reference](scenario.md)).",
}
# Values listed as one table, not key by key: the run record's scenario has the scenario
# reference's keys.
NOT_FLATTENED = {"record.scenario"}


def _flatten(value: Any, prefix: str) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict) and prefix not in NOT_FLATTENED:
        for key, inner in value.items():
            yield from _flatten(inner, f"{prefix}.{key}" if prefix else key)
    elif isinstance(value, list) and value and isinstance(value[0], dict):
        yield from _flatten(value[0], f"{prefix}[]")
    else:
        yield prefix, value


# A small scenario: two days of three booths, so the build runs it in a second.
SAMPLE_SCENARIO = 'name = "docs-sample"\n[run]\ndays = 2\n[fleet]\nbooths = 3\n'


def metrics_sample() -> dict[str, Any]:
    """The metrics.json ``cabine simulate`` writes, for a small scenario."""
    with tempfile.TemporaryDirectory(prefix="cabine-docs-") as tmp_name:
        tmp = Path(tmp_name)
        (tmp / "docs-sample.toml").write_text(SAMPLE_SCENARIO, encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith("CABINE_")}
        command = ["simulate", "docs-sample.toml", "--out", "out", "--no-plots", "--lang", "en"]
        # The installed command, as a user types it (the run record keeps the command line).
        installed = Path(sys.executable).with_name("cabine")
        program = [str(installed)] if installed.is_file() else [sys.executable, "-m", "cabine.cli"]
        done = subprocess.run(
            [*program, *command],
            cwd=tmp,
            env=env,
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise RuntimeError(f"cabine {' '.join(command)} failed:\n{done.stderr}")
        return json.loads((tmp / "out" / "metrics.json").read_text(encoding="utf-8"))


def metrics_page() -> str:
    sample = metrics_sample()
    if set(sample) != set(METRICS):
        raise ValueError(
            "docs/hooks/references.py: METRICS must describe exactly the keys of metrics.json; "
            f"undescribed: {sorted(set(sample) - set(METRICS))}, "
            f"gone: {sorted(set(METRICS) - set(sample))}"
        )
    lines = [
        "# `metrics.json` reference",
        "",
        _note(
            "the `metrics.json` that `cabine simulate` writes for a small scenario "
            "(3 booths, 2 days)"
        ),
        "`cabine simulate` writes `metrics.json` beside its report "
        "([Reading a report](../qa/reading-a-report.md)).",
        "",
        "| key | meaning |",
        "|---|---|",
    ]
    lines += [f"| `{key}` | {_cell(METRICS[key])} |" for key in sample]
    lines += [
        "",
        "## Every value, with one run's figures",
        "",
        "`[]` marks a list of tables (one per month); tables whose keys are answers or decisions "
        "list only those the run met.",
        "",
        "| key | kind | in this run |",
        "|---|---|---|",
    ]
    for key, value in _flatten(sample, ""):
        kind = type(value).__name__.replace("str", "text").replace("float", "number")
        kind = kind.replace("int", "integer").replace("dict", "table")
        shown = "every key of the scenario" if key in NOT_FLATTENED else json.dumps(value)
        lines.append(f"| `{key}` | {kind} | `{_cell(shown)}` |")
    return "\n".join(lines) + "\n"


# --- HTTP APIs ----------------------------------------------------------------------------------

SERVICES = ("registry", "collector", "support")


@dataclass(frozen=True)
class ServedPath:
    method: str
    path: str
    summary: str
    in_schema: bool


@dataclass(frozen=True)
class ServiceDoc:
    spec: dict[str, Any]
    served: tuple[ServedPath, ...]  # every route the app serves, in the schema or not


def _served(app: Any) -> tuple[ServedPath, ...]:
    from starlette.routing import Mount

    def flat(routes: Any) -> Iterator[Any]:
        for route in routes:
            # FastAPI 0.16x keeps an included router as one entry that lists its routes.
            contexts = getattr(route, "effective_route_contexts", None)
            if contexts is not None:
                yield from contexts()
            else:
                yield route

    served = []
    for route in flat(app.routes):
        if isinstance(route, Mount):
            served.append(ServedPath("GET", f"{route.path}/{{path}}", "static files", False))
            continue
        doc = (getattr(route, "endpoint", None) and route.endpoint.__doc__) or ""
        for method in sorted(getattr(route, "methods", None) or ()):
            if method == "HEAD":
                continue
            served.append(
                ServedPath(
                    method,
                    re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path),  # {code:path}: {code}
                    " ".join(doc.split("\n\n")[0].split()),
                    bool(getattr(route, "include_in_schema", False)),
                )
            )
    return tuple(served)


def service_doc(service: str) -> ServiceDoc:
    """The OpenAPI of ``service`` and every path it serves, its app built by the factory its
    command uses, admin routes on, in a throwaway folder."""
    with tempfile.TemporaryDirectory(prefix="cabine-docs-") as tmp_name:
        tmp = Path(tmp_name)
        if service == "registry":
            from ephoto.settings import ClockSettings
            from registry.app import app_from_runtime
            from registry.settings import RegistryRuntime, RegistrySettings

            registry = RegistrySettings(
                db_url=f"sqlite:///{tmp / 'registry.sqlite'}",
                keys_file=tmp / "keys.toml",
                admin_enabled=True,
                admin_token="docs",
            )
            app = app_from_runtime(RegistryRuntime(registry=registry, clock=ClockSettings()))
        elif service == "collector":
            from collector.app import app_from_runtime as collector_app
            from collector.settings import CollectorRuntime, CollectorSettings
            from ephoto.seal import generate_key, public_pem
            from ephoto.settings import ClockSettings

            (tmp / "state-fetch.pub.pem").write_bytes(public_pem(generate_key()))
            settings = CollectorSettings(
                db_url=f"sqlite:///{tmp / 'collector.sqlite'}",
                admin_enabled=True,
                admin_token="docs",
            )
            app = collector_app(
                CollectorRuntime(collector=settings, clock=ClockSettings(), data_dir=tmp)
            )
        elif service == "support":
            from ephoto.clock import ManualClock
            from kiosk.catalog import load_catalog
            from kiosk.ledger import Ledger
            from support.desk import open_desk
            from support.settings import SupportSettings
            from support.web import create_app

            Ledger(tmp / "booth.db", ManualClock(), booth_id="booth-001").dispose()
            with open_desk(
                tmp / "booth.db",
                "http://127.0.0.1:9",
                "docs",
                ManualClock(),
                load_catalog(),
                booth_id="booth-001",
            ) as desk:
                app = create_app(desk, SupportSettings())
                return ServiceDoc(app.openapi(), _served(app))
        else:
            raise ValueError(f"unknown service {service!r}")
        return ServiceDoc(app.openapi(), _served(app))


def openapi(service: str) -> dict[str, Any]:
    return service_doc(service).spec


def http_paths(service: str) -> list[tuple[str, str]]:
    """(METHOD, path) of every route ``service`` serves, in its OpenAPI schema or not."""
    return [(s.method, s.path) for s in service_doc(service).served]


def _schema_text(schema: dict[str, Any], defined: frozenset[str] = frozenset()) -> str:
    """A schema in words; a named schema links to its section when the OpenAPI defines it."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        return f"[{name}](#{name.lower()})" if name in defined else f"`{name}` (not defined)"
    if "anyOf" in schema:
        return " or ".join(_schema_text(s, defined) for s in schema["anyOf"])
    if schema.get("type") == "array":
        return f"list of {_schema_text(schema.get('items', {}), defined)}"
    if "enum" in schema:
        return " or ".join(json.dumps(v) for v in schema["enum"])
    if schema.get("type") == "object" and "additionalProperties" in schema:
        inner = schema["additionalProperties"]
        return "table of " + (_schema_text(inner, defined) if isinstance(inner, dict) else "values")
    return str(schema.get("type", "any"))


def undefined_schemas(spec: dict[str, Any]) -> list[str]:
    """Schemas the OpenAPI names (``$ref``) without defining them in its components."""
    defined = set(spec.get("components", {}).get("schemas", {}))
    named = set(re.findall(r'"#/components/schemas/([^"]+)"', json.dumps(spec)))
    return sorted(named - defined)


TITLES = {
    "registry": "The registry's HTTP API",
    "collector": "The collector's HTTP API",
    "support": "The support desk's HTTP API",
}
GUIDES = {
    "registry": "../integrator/registry.md",
    "collector": "../integrator/collector.md",
    "support": "../integrator/support.md",
}


def http_page(service: str) -> str:
    doc = service_doc(service)
    spec = doc.spec
    defined = frozenset(spec.get("components", {}).get("schemas", {}))
    info = spec.get("info", {})
    lines = [
        f"# {TITLES[service]}",
        "",
        _note(f"the app's own OpenAPI ({_cell(info.get('title', service))})"),
        f"{info.get('description', '')} How it behaves: [the guide]({GUIDES[service]}). "
        "Admin routes are shown as served with `admin_enabled = true` and a bearer token.",
        "",
        "| method | path | summary |",
        "|---|---|---|",
    ]
    operations = []
    for path, items in spec["paths"].items():
        for method, operation in items.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            operations.append((method.upper(), path, operation))
            anchor = f"{method}-{path}".lower().strip("/")
            anchor = "".join(c if c.isalnum() else "-" for c in anchor)
            summary = operation.get("summary", "")
            lines.append(f"| `{method.upper()}` | [`{path}`](#{anchor}) | {_cell(summary)} |")
    for method, path, operation in operations:
        anchor = f"{method}-{path}".lower().strip("/")
        anchor = "".join(c if c.isalnum() else "-" for c in anchor)
        lines += ["", f"## `{method} {path}` {{ #{anchor} }}", ""]
        if operation.get("description"):
            lines += [operation["description"].strip(), ""]
        # A path parameter declared by the route and by its dependency is listed twice.
        params = list({(p["name"], p["in"]): p for p in operation.get("parameters", [])}.values())
        if params:
            lines += ["| parameter | in | type | required | meaning |", "|---|---|---|---|---|"]
            for p in params:
                kind = _cell(_schema_text(p.get("schema", {}), defined))
                lines.append(
                    f"| `{p['name']}` | {p['in']} | {kind}"
                    f" | {'yes' if p.get('required') else 'no'} | "
                    f"{_cell(p.get('description', p.get('schema', {}).get('description', '')))} |"
                )
            lines.append("")
        body = operation.get("requestBody")
        if body:
            for content_type, content in body.get("content", {}).items():
                lines.append(
                    f"Body ({content_type}): {_schema_text(content.get('schema', {}), defined)}"
                )
            lines.append("")
        lines += ["| answer | meaning |", "|---|---|"]
        for status, answer in operation.get("responses", {}).items():
            lines.append(f"| {status} | {_cell(answer.get('description', ''))} |")
    outside = [s for s in doc.served if not s.in_schema]
    if outside:
        lines += [
            "",
            "## Served outside the schema",
            "",
            "Pages and files for a browser, and FastAPI's own description of the API.",
            "",
            "| method | path | what it serves |",
            "|---|---|---|",
        ]
        lines += [f"| `{s.method}` | `{s.path}` | {_cell(s.summary)} |" for s in outside]
    missing = undefined_schemas(spec)
    if missing:
        lines += [
            "",
            '!!! warning "Named but not defined"',
            "    The app's OpenAPI names "
            + ", ".join(f"`{name}`" for name in missing)
            + " without defining it in its components; the guide describes the body.",
        ]
    schemas = spec.get("components", {}).get("schemas", {})
    if schemas:
        lines += ["", "## Schemas"]
    for name, schema in schemas.items():
        lines += ["", f"### {name} {{ #{name.lower()} }}", ""]
        if schema.get("description"):
            lines += [" ".join(schema["description"].split()), ""]
        properties = schema.get("properties", {})
        required = set(schema.get("required", []))
        if properties:
            lines += ["| field | type | required | meaning |", "|---|---|---|---|"]
            for field, sub in properties.items():
                lines.append(
                    f"| `{field}` | {_cell(_schema_text(sub, defined))} | "
                    f"{'yes' if field in required else 'no'} | "
                    f"{_cell(sub.get('description', ''))} |"
                )
        elif "enum" in schema:
            lines.append("One of " + ", ".join(f"`{v}`" for v in schema["enum"]) + ".")
    return "\n".join(lines) + "\n"


# --- the hook -----------------------------------------------------------------------------------

PAGES: dict[str, Callable[[], str]] = {
    "reference/cli.md": cli_page,
    "reference/configuration.md": config_page,
    "reference/http-registry.md": lambda: http_page("registry"),
    "reference/http-collector.md": lambda: http_page("collector"),
    "reference/http-support.md": lambda: http_page("support"),
    "reference/scenario.md": scenario_page,
    "reference/sweep.md": sweep_page,
    "reference/metrics.md": metrics_page,
}


def on_files(files: Any, config: Any) -> Any:
    """MkDocs: add the reference pages, written now from the code."""
    from mkdocs.structure.files import File

    for uri, make in PAGES.items():
        files.append(File.generated(config, uri, content=make()))
    return files
