"""JUnit XML for ``cabine scenarios run --junit FILE``: one test case per FAQ scenario, in the
format CI servers (GitLab, Jenkins, GitHub's test reporters) read: a ``<failure>`` with the
scenario's failed checks, its summary and every check in ``<system-out>``."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from simulation.faq import PASSED, Outcome

SUITE = "cabine.scenarios"


@dataclass(frozen=True)
class TimedOutcome:
    outcome: Outcome
    seconds: float


def junit_xml(results: Sequence[TimedOutcome], started: datetime, hostname: str = "") -> str:
    failures = sum(1 for r in results if r.outcome.status != PASSED)
    total = sum(r.seconds for r in results)
    suites = ET.Element(
        "testsuites", name="cabine", tests=str(len(results)), failures=str(failures)
    )
    suites.set("time", f"{total:.3f}")
    suite = ET.SubElement(
        suites,
        "testsuite",
        name=SUITE,
        tests=str(len(results)),
        failures=str(failures),
        errors="0",
        skipped="0",
        time=f"{total:.3f}",
        timestamp=started.isoformat(timespec="seconds"),
    )
    if hostname:
        suite.set("hostname", hostname)
    for result in results:
        outcome = result.outcome
        case = ET.SubElement(
            suite, "testcase", classname=SUITE, name=outcome.name, time=f"{result.seconds:.3f}"
        )
        if outcome.status != PASSED:
            failure = ET.SubElement(
                case, "failure", message=outcome.detail or outcome.summary, type=outcome.status
            )
            failure.text = "\n".join(
                f"{c.what}: expected {c.expected!r}, got {c.actual!r}"
                for c in outcome.checks
                if not c.ok
            ) or (outcome.detail or outcome.summary)
        out = ET.SubElement(case, "system-out")
        lines = [outcome.summary]
        lines += [
            f"{'ok' if c.ok else 'FAILED'}: {c.what}: expected {c.expected!r}, got {c.actual!r}"
            for c in outcome.checks
        ]
        out.text = "\n".join(lines)
    ET.indent(suites)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
    )


def write_junit(path: Path, results: Sequence[TimedOutcome], started: datetime) -> None:
    import socket

    path.write_text(junit_xml(results, started, socket.gethostname()), encoding="utf-8")
