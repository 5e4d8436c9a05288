"""``cabine compare RUN_A RUN_B``: two simulation runs side by side, figure by figure.

A run is the output folder of ``cabine simulate`` (``metrics.json``: one seed) or of ``cabine
sweep`` (``results.csv``: each combination of parameters over several seeds). Each figure of
:data:`simulation.sweep.FIGURES` is given for A and B (the mean across seeds), the difference
B - A, and whether that difference is beyond the seeds' noise: Welch's t-test across seeds at
p < 0.05, which needs two seeds or more on each side; with one seed the noise is unknown and
said so. The live fleet against the model is another comparison: ``cabine fleet compare``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ephoto.texts import DEFAULT_LANGUAGE, Texts, format_number, texts
from simulation.run_record import MIN_SEEDS, read_record
from simulation.sweep import FIGURES, RESULTS, read_results

METRICS = "metrics.json"
P_LIMIT = 0.05
BEYOND, WITHIN, UNKNOWN = "beyond", "within", "unknown"


class CompareError(ValueError):
    """A folder that cannot be compared; ``key`` and ``params`` give its words in
    ``assets/text/compare.*.toml`` ``[error]``."""

    def __init__(self, key: str, **params: Any) -> None:
        self.key = key
        self.params = params
        super().__init__(texts("compare", "en").get(f"error.{key}", **params))

    def text(self, lang: str) -> str:
        return texts("compare", lang).get(f"error.{self.key}", **self.params)


@dataclass(frozen=True)
class Group:
    params: dict[str, Any]
    seeds: list[int]
    values: dict[str, list[float]]  # figure -> one value per seed


@dataclass(frozen=True)
class RunFolder:
    folder: Path
    kind: str  # "simulate" or "sweep"
    scenario: str
    parameters: list[str]
    groups: list[Group]
    record: dict[str, Any] | None

    @property
    def seeds(self) -> list[int]:
        return sorted({seed for group in self.groups for seed in group.seeds})

    @property
    def fewest_seeds(self) -> int:
        return min(len(group.seeds) for group in self.groups)


def simulate_figures(metrics: dict[str, Any]) -> dict[str, float]:
    """A ``cabine simulate`` run's figures under the names of a sweep's table."""
    activation = metrics["activation_hours"]
    return {
        "codes_issued": metrics["codes_issued"],
        "share_active_within_72h": metrics["share_active_within_72h"],
        "activation_mean_hours": activation["mean"],
        "activation_p50_hours": activation["p50"],
        "activation_p95_hours": activation["p95"],
        "activation_p99_hours": activation["p99"],
        "activation_max_hours": activation["max"],
        "registry_wait_mean_hours": metrics["registry_wait_hours_mean"],
        "backlog_max": metrics["backlog_max"],
        "reports": metrics["reports"],
        "refunds": metrics.get("claims", {}).get("refund", 0),
    }


def load_run(folder: Path) -> RunFolder:
    """The figures of a ``cabine simulate`` or ``cabine sweep`` output folder."""
    if not folder.is_dir():
        raise CompareError("missing", folder=folder)
    if (folder / METRICS).is_file():
        try:
            metrics = json.loads((folder / METRICS).read_text(encoding="utf-8"))
            figures = simulate_figures(metrics)
            seed = int(metrics["seed"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            reason = f"{type(exc).__name__}: {exc}" if isinstance(exc, KeyError) else exc
            raise CompareError("unreadable", folder=folder, file=METRICS, reason=reason) from None
        group = Group({}, [seed], {name: [float(figures[name])] for name in FIGURES})
        return RunFolder(
            folder, "simulate", str(metrics.get("scenario", folder.name)), [], [group],
            metrics.get("record"),
        )  # fmt: skip
    if (folder / RESULTS).is_file():
        try:
            rows = read_results(folder)
            with open(folder / RESULTS, encoding="utf-8") as handle:
                header = handle.readline().strip().split(",")
            parameters = header[1 : header.index("seed")]
            groups: dict[str, Group] = {}
            for row in rows:
                params = {name: row[name] for name in parameters}
                key = json.dumps(params, sort_keys=True)
                group = groups.setdefault(key, Group(params, [], {f: [] for f in FIGURES}))
                group.seeds.append(int(row["seed"]))
                for name in FIGURES:
                    group.values[name].append(float(row[name]))
            record = read_record(folder)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise CompareError("unreadable", folder=folder, file=RESULTS, reason=exc) from None
        if not groups:
            raise CompareError("unreadable", folder=folder, file=RESULTS, reason="no rows")
        scenario = (record or {}).get("scenario", {}).get("name", folder.name)
        return RunFolder(folder, "sweep", str(scenario), parameters, list(groups.values()), record)
    raise CompareError("not_a_run", folder=folder)


def noise_verdict(a: list[float], b: list[float]) -> tuple[str, float | None]:
    """Whether B's mean differs from A's beyond the seeds' noise, with the p-value of
    Welch's t-test; unknown (None) with fewer than two seeds on a side."""
    if len(a) < 2 or len(b) < 2:
        return UNKNOWN, None
    if float(_spread(a)) == 0.0 and float(_spread(b)) == 0.0:
        same = _mean(a) == _mean(b)
        return (WITHIN, 1.0) if same else (BEYOND, 0.0)
    from scipy.stats import ttest_ind

    p = float(ttest_ind(a, b, equal_var=False).pvalue)
    return (BEYOND if p < P_LIMIT else WITHIN), p


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def _spread(values: list[float]) -> float:
    mean = _mean(values)
    return sum((v - mean) ** 2 for v in values)


def _pairs(a: RunFolder, b: RunFolder) -> list[tuple[Group, Group]]:
    """The groups compared: equal parameter values; a run without parameters (one group)
    against each group of the other."""
    if not a.parameters and len(a.groups) == 1:
        return [(a.groups[0], group) for group in b.groups]
    if not b.parameters and len(b.groups) == 1:
        return [(group, b.groups[0]) for group in a.groups]
    keyed = {json.dumps(g.params, sort_keys=True): g for g in b.groups}
    pairs = [
        (g, keyed[key]) for g in a.groups if (key := json.dumps(g.params, sort_keys=True)) in keyed
    ]
    if not pairs:
        raise CompareError(
            "nothing_in_common",
            a=a.folder,
            b=b.folder,
            a_params=", ".join(a.parameters) or "-",
            b_params=", ".join(b.parameters) or "-",
        )
    return pairs


def _flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, dict) and value:
        for key, inner in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), inner, out)
    else:
        out[prefix] = value


def scenario_changes(a: RunFolder, b: RunFolder) -> list[dict[str, Any]] | None:
    """Every scenario parameter whose value differs from A to B (the name and description
    left out), from the runs' records; None when a run has no record."""
    if a.record is None or b.record is None:
        return None
    flat_a: dict[str, Any] = {}
    flat_b: dict[str, Any] = {}
    _flatten("", a.record.get("scenario", {}), flat_a)
    _flatten("", b.record.get("scenario", {}), flat_b)
    changes = []
    for key in sorted(set(flat_a) | set(flat_b)):
        if key in ("name", "description") or flat_a.get(key) == flat_b.get(key):
            continue
        changes.append({"parameter": key, "a": flat_a.get(key), "b": flat_b.get(key)})
    return changes


def compare_runs(a: RunFolder, b: RunFolder) -> dict[str, Any]:
    """The comparison as data (what ``--json`` prints and the HTML page shows)."""
    groups = []
    for group_a, group_b in _pairs(a, b):
        figures = []
        for name in FIGURES:
            values_a, values_b = group_a.values[name], group_b.values[name]
            mean_a, mean_b = _mean(values_a), _mean(values_b)
            verdict, p = noise_verdict(values_a, values_b)
            figures.append(
                {
                    "figure": name,
                    "a": mean_a,
                    "b": mean_b,
                    "difference": mean_b - mean_a,
                    "relative": (mean_b - mean_a) / abs(mean_a) if mean_a else None,
                    "p_value": p,
                    "verdict": verdict,
                }
            )
        groups.append(
            {
                "parameters_a": group_a.params,
                "parameters_b": group_b.params,
                "seeds_a": group_a.seeds,
                "seeds_b": group_b.seeds,
                "figures": figures,
            }
        )

    def side(run: RunFolder) -> dict[str, Any]:
        record = run.record or {}
        return {
            "folder": str(run.folder),
            "kind": run.kind,
            "scenario": run.scenario,
            "parameters": run.parameters,
            "seeds": run.seeds,
            "cabine_version": record.get("cabine_version"),
            "command_line": record.get("command_line"),
        }

    return {
        "a": side(a),
        "b": side(b),
        "changes": scenario_changes(a, b),
        "p_limit": P_LIMIT,
        "groups": groups,
    }


# --- words ----------------------------------------------------------------------------------


def value_text(
    figure: str, value: float, lang: str, signed: bool = False, row: Sequence[float] = ()
) -> str:
    """A figure's value as the reports write it: shares in % (differences in points), hours
    to the hundredth below 100, counts whole (to the tenth when a mean across seeds of the
    ``row`` the value is shown in is not whole)."""
    share = figure.startswith("share")
    scale = 100.0 if share else 1.0
    if share:
        digits = 1
    elif figure.endswith("_hours"):
        digits = 2 if abs(value) < 100 else 0
    else:
        whole = all(float(v).is_integer() or abs(v) >= 100 for v in (value, *row))
        digits = 0 if whole else 1
    text = format_number(abs(value) * scale if signed else value * scale, digits, lang)
    if signed:
        zero = format_number(0.0, digits, lang)
        text = ("-" if value < 0 and text != zero else "+" if text != zero else "±") + text
    unit = (" pt" if signed else " %") if share else ""
    return text + unit


def params_text(params: dict[str, Any]) -> str:
    return ", ".join(f"{name} = {value}" for name, value in params.items())


def group_title(group: dict[str, Any], words: Texts) -> str:
    params = {**group["parameters_a"], **group["parameters_b"]}
    return words(
        "compare.group_seeds",
        params=params_text(params) or words("compare.group_all"),
        seeds_a=len(group["seeds_a"]),
        seeds_b=len(group["seeds_b"]),
    )


def run_line(side_name: str, side: dict[str, Any], words: Texts) -> str:
    return words(
        "compare.run_line",
        side=side_name,
        folder=side["folder"],
        kind=words(f"compare.kind_{side['kind']}"),
        scenario=side["scenario"],
        seeds=", ".join(str(s) for s in side["seeds"]),
        version=side["cabine_version"] or words("compare.unknown_version"),
    )


def changes_text(changes: list[dict[str, Any]] | None, words: Texts) -> str:
    if changes is None:
        return words("compare.changed_unknown")
    if not changes:
        return words("compare.changed_none")
    listed = "; ".join(f"{c['parameter']}: {c['a']} → {c['b']}" for c in changes)
    return words("compare.changed", changes=listed)


def few_seed_warnings(a: RunFolder, b: RunFolder, words: Texts) -> list[str]:
    return [
        words("compare.few_seeds", side=side, seeds=run.fewest_seeds, minimum=MIN_SEEDS)
        for side, run in (("A", a), ("B", b))
        if run.fewest_seeds < MIN_SEEDS
    ]


def write_compare_html(
    comparison: dict[str, Any], path: Path, lang: str = DEFAULT_LANGUAGE
) -> Path:
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    from ephoto.assets import asset

    words = texts("compare", lang)
    env = Environment(
        loader=FileSystemLoader(asset("templates", "compare")),
        autoescape=select_autoescape(["html", "j2"]),
    )

    def p_text(p: float | None) -> str:
        if p is None:
            return "-"
        return "< " + format_number(0.001, 3, lang) if p < 0.001 else format_number(p, 3, lang)

    def relative_text(value: float | None) -> str:
        if value is None or math.isnan(value):
            return "-"
        return value_text("share", value, lang, signed=True).replace(" pt", " %")

    html = env.get_template("runs.html.j2").render(
        c=comparison,
        lang=lang,
        t=words,
        a_line=run_line("A", comparison["a"], words),
        b_line=run_line("B", comparison["b"], words),
        changes=changes_text(comparison["changes"], words),
        titles=[group_title(group, words) for group in comparison["groups"]],
        value=lambda figure, v, signed=False, row=(): value_text(figure, v, lang, signed, row),
        p_text=p_text,
        relative_text=relative_text,
        minimum=MIN_SEEDS,
    )
    path.write_text(html, encoding="utf-8")
    return path
