"""`--format json`: the report as one JSON document, described by `report.schema.json` (package data).

The schema is the contract for scripts that read the report; `format_version` changes when it does.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from jwt_middleware import __version__

from .findings import Finding, Severity
from .runner import Report

__all__ = ["FORMAT_VERSION", "as_dict", "render_json", "schema"]

FORMAT_VERSION = 1


def _finding(finding: Finding) -> dict[str, Any]:
    return {
        "id": finding.check.id,
        "title": finding.check.title,
        "severity": finding.severity.label,
        "target": finding.target,
        "count": finding.count,
        "classes": finding.classes,
        "reference": finding.check.reference,
        "fix": finding.check.fix,
        "examples": [
            {"name": e.name, "attack": e.attack, "sent": e.sent, "status": e.status, "why": e.why}
            for e in finding.examples
        ],
    }


def as_dict(report: Report, *, fail_on: Severity, exit_code: int) -> dict[str, Any]:
    """The report as plain data, worst findings first."""
    worst = report.worst
    findings = sorted(report.findings, key=lambda f: -f.severity)
    return {
        "format": "jwt-probe-report",
        "format_version": FORMAT_VERSION,
        "tool": {"name": "jwt-probe", "version": __version__},
        "target": report.target,
        "baseline": {"valid_token_status": report.baseline_status, "no_token_status": report.missing_status},
        "summary": {
            "findings": len(report.findings),
            "by_severity": report.counts(),
            "worst": worst.label if worst is not None else None,
            "requests": report.requests,
            "no_answer": report.no_answer,
            "throttled": report.throttled,
            "forgeries_sent": report.forgeries_sent,
            "forgeries_skipped": report.skipped,
            "operations": report.operations,
            "complete": report.complete,
            "duration_seconds": round(report.duration, 3),
            "fail_on": fail_on.label,
            "exit_code": exit_code,
        },
        "notes": list(report.notes),
        "findings": [_finding(f) for f in findings],
    }


def render_json(report: Report, *, fail_on: Severity, exit_code: int) -> str:
    return json.dumps(as_dict(report, fail_on=fail_on, exit_code=exit_code), indent=2) + "\n"


def schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of `--format json`."""
    text = resources.files(__package__).joinpath("report.schema.json").read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded
