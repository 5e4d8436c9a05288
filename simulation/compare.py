"""``cabine fleet compare``: a live fleet run set beside the simulator replayed on its sales.

For each stage (:data:`simulation.replay.STAGES`) the live and the model's durations are
summarised (mean, p50, p95, p99) and held against each other with the two-sample
Kolmogorov-Smirnov test (``scipy.stats.ks_2samp``). A stage agrees when its KS statistic is
within max(0.05, the two-sample 99 % critical value for the two sample sizes) and its mean
within 3 % of the live mean, one scheduler tick, or the 99 % uncertainty of the difference of
the two means (a small fleet's), whichever is largest.

The live chain at a compressed time scale sees time no finer than one poll of its services (a
tick: ``run.json``'s ``tick_seconds``, the poll in simulated time). Durations are therefore
compared at that resolution: both sides are counted in whole ticks before the KS test, so the
live chain's polling phase, an artefact of the scale, is not read as a fault of the model.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from simulation.replay import (
    STAGES,
    live_stages,
    model_stages,
    queue_given_arrivals,
    read_trace,
)

KS_FLOOR = 0.05
KS_99 = 1.628
"""c(alpha) of the two-sample KS test at alpha = 0.01."""
MEAN_SHARE = 0.03
Z_99 = 2.576
"""Two-sided 99 % quantile of the normal law, for the uncertainty of a difference of means."""


@dataclass(frozen=True)
class Summary:
    count: int
    mean: float
    p50: float
    p95: float
    p99: float

    @classmethod
    def of(cls, values: np.ndarray) -> Summary:
        if values.size == 0:
            nan = float("nan")
            return cls(0, nan, nan, nan, nan)
        p50, p95, p99 = (float(v) for v in np.percentile(values, [50, 95, 99]))
        return cls(int(values.size), float(values.mean()), p50, p95, p99)


@dataclass(frozen=True)
class StageComparison:
    stage: str
    live: Summary
    model: Summary
    ks: float
    p_value: float
    ks_limit: float
    mean_limit: float
    agrees: bool
    qq: str = ""


TICK_MARGIN = 1e-6


def ks_limit(n: int, m: int) -> float:
    """The largest KS statistic two samples of the same law give at the 99 % level."""
    if n == 0 or m == 0:
        return 1.0
    return max(KS_FLOOR, KS_99 * math.sqrt((n + m) / (n * m)))


def compare_stage(stage: str, live: np.ndarray, model: np.ndarray, tick: float) -> StageComparison:
    from scipy.stats import ks_2samp

    live = live[np.isfinite(live)]
    model = model[np.isfinite(model)]
    # Whole ticks, as the live chain sees them. A duration a whole number of ticks long (the
    # model's batch window of exactly one tick) must not fall one tick short of it by the
    # rounding of the division: hence the margin of a millionth of a tick.
    a, b = (
        (np.floor(live / tick + TICK_MARGIN), np.floor(model / tick + TICK_MARGIN))
        if tick > 0
        else (live, model)
    )
    if live.size and model.size:
        test = ks_2samp(a, b)
        statistic, p_value = float(test.statistic), float(test.pvalue)
    else:
        statistic, p_value = 1.0, 0.0
    summary_live, summary_model = Summary.of(live), Summary.of(model)
    # 3 % of the live mean, one tick, or what the samples' sizes leave uncertain at the 99 %
    # level, whichever is largest: a small fleet's mean is not known to 3 %. The live sample's
    # spread is taken as the model's if larger (the model's law is the one on trial: a few
    # live numbers can miss its tail and look tighter than they are).
    spread = (
        Z_99 * math.sqrt(max(live.var(), model.var()) / live.size + model.var() / model.size)
        if live.size > 1 and model.size > 1
        else 0.0
    )
    mean_limit = max(MEAN_SHARE * abs(summary_live.mean), tick, spread)
    limit = ks_limit(live.size, model.size)
    agrees = (
        bool(live.size and model.size)
        and statistic <= limit
        and abs(summary_live.mean - summary_model.mean) <= mean_limit
    )
    return StageComparison(
        stage, summary_live, summary_model, statistic, p_value, limit, mean_limit, agrees
    )


def compare_run(
    run_dir: Path, overrides: dict[str, Any] | None = None, lang: str = "fr", seed: int = 0
) -> tuple[list[StageComparison], dict[str, float]]:
    """Compare the run in ``run_dir`` with the model (changed by ``overrides``); write
    ``compare.json``, ``compare.html`` and a QQ plot per stage beside the run."""
    trace = read_trace(run_dir)
    live = live_stages(trace)
    model = model_stages(trace, overrides, seed)
    tick = trace.tick_hours
    stages = [compare_stage(s, live[s], model[s], tick) for s in STAGES]
    gaps = queue_given_arrivals(trace)
    def hours(value: float) -> float:
        """To the microhour, without the minus sign of a rounding error around zero."""
        return round(value, 6) + 0.0

    queue = {
        "p5": hours(float(np.percentile(gaps, 5))) if gaps.size else float("nan"),
        "p50": hours(float(np.percentile(gaps, 50))) if gaps.size else float("nan"),
        "p95": hours(float(np.percentile(gaps, 95))) if gaps.size else float("nan"),
        "worst": hours(float(np.abs(gaps).max())) if gaps.size else float("nan"),
        "agrees": bool(gaps.size == 0 or np.abs(gaps).max() <= max(tick, 1 / 60)),
    }
    stages = [_with_qq(s, live[s.stage], model[s.stage], run_dir, lang) for s in stages]
    _write(run_dir, trace, stages, queue, overrides or {}, lang)
    return stages, queue


def _with_qq(
    stage: StageComparison, live: np.ndarray, model: np.ndarray, run_dir: Path, lang: str
) -> StageComparison:
    from dataclasses import replace

    from ephoto.texts import texts
    from simulation.plotting import line_axes, save_png

    live, model = live[np.isfinite(live)], model[np.isfinite(model)]
    if not (live.size and model.size):
        return stage
    t = texts("fleet", lang)
    name = t.get(f"compare.stage_{stage.stage}")
    levels = np.linspace(0.01, 0.99, 99)
    x, y = np.quantile(live, levels), np.quantile(model, levels)
    top = float(max(x.max(), y.max())) * 1.05 or 1.0
    axes = line_axes(
        t.get("compare.qq_title", stage=name), t.get("compare.qq_x"), t.get("compare.qq_y"), lang
    )
    axes.plot(
        [0.0, top], [0.0, top], color="#8a939e", linewidth=1.2, label=t.get("compare.diagonal")
    )
    axes.plot(x, y, color="#1f5fa8", linewidth=2.0, marker="o", markersize=4.0)
    axes.set_xlim(0.0, top)
    axes.set_ylim(0.0, top)
    axes.legend(loc="upper left")
    path = run_dir / f"compare-{stage.stage}.png"
    save_png(axes, path)
    return replace(stage, qq=path.name)


def _write(
    run_dir: Path,
    trace: Any,
    stages: list[StageComparison],
    queue: dict[str, float],
    overrides: dict[str, Any],
    lang: str,
) -> None:
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    from ephoto.assets import asset
    from ephoto.texts import format_number, texts

    ok = all(s.agrees for s in stages) and bool(queue["agrees"])
    t = texts("fleet", lang)
    differing = [t.get(f"compare.stage_{s.stage}") for s in stages if not s.agrees]
    if not queue["agrees"]:
        differing.append(t.get("compare.queue"))
    summary = (
        t.get("compare.summary_agrees")
        if ok
        else t.get("compare.summary_differs", stages=", ".join(differing))
    )
    data = {
        "ok": ok,
        "overrides": overrides,
        "tick_hours": trace.tick_hours,
        "stages": [
            {
                "stage": s.stage,
                "live": s.live.__dict__,
                "model": s.model.__dict__,
                "ks": s.ks,
                "p_value": s.p_value,
                "ks_limit": s.ks_limit,
                "mean_limit_hours": s.mean_limit,
                "agrees": s.agrees,
                "qq": s.qq,
            }
            for s in stages
        ],
        "queue_live_minus_model_hours": queue,
    }
    (run_dir / "compare.json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    env = Environment(
        loader=FileSystemLoader(asset("templates", "fleet")),
        autoescape=select_autoescape(["html", "j2"]),
    )
    html = env.get_template("compare.html.j2").render(
        lang=lang,
        t=t,
        num=lambda value, digits=0: format_number(value, digits, lang),
        name=trace.scenario.name,
        numbers=int(trace.issued.size),
        booths=len(trace.booths),
        days=trace.scenario.run.days,
        scale=format_number(trace.scale, 0, lang),
        tick=format_number(trace.tick_hours * 60, 1, lang),
        overrides=json.dumps(overrides) if overrides else "",
        ok=ok,
        summary=summary,
        stages=stages,
        queue=queue,
    )
    (run_dir / "compare.html").write_text(html, encoding="utf-8")
