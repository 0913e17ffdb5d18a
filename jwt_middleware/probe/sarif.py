"""`--format sarif`: SARIF 2.1.0, the format GitHub code scanning (and other dashboards) ingest.

One rule per check that fired, one result per finding. Code scanning accepts only repository paths as locations,
so each result points at `artifact` (default: a path made of the target's host and path, e.g.
`127.0.0.1_8000/orders`; `--sarif-artifact app/main.py` points it at the code instead) and carries the real URL
in its properties. `partialFingerprints` keeps an alert the same alert from one run to the next.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import httpx

from jwt_middleware import __version__

from .findings import Finding, Severity
from .runner import Report

__all__ = ["SARIF_SCHEMA", "default_artifact", "render_sarif"]

SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
_LEVELS = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}
# GitHub maps security-severity to its own levels: >= 9.0 critical, 7.0-8.9 high, 4.0-6.9 medium, 0.1-3.9 low.
_SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "7.5",
    Severity.MEDIUM: "5.0",
    Severity.LOW: "2.0",
    Severity.INFO: "0.0",
}


def default_artifact(url: str) -> str:
    """A repository-style path naming the target: host (with `_port`) and path, no scheme or query."""
    parsed = httpx.URL(url)
    host = parsed.host + (f"_{parsed.port}" if parsed.port else "")
    return f"{host}{parsed.path}".rstrip("/") or host


def _rule(finding: Finding) -> dict[str, Any]:
    check = finding.check
    return {
        "id": check.id,
        "name": check.id.replace(".", "-"),
        "shortDescription": {"text": check.title},
        "fullDescription": {"text": f"{check.title}. Reference: {check.reference}."},
        "help": {"text": f"Fix: {check.fix}\nReference: {check.reference}"},
        "defaultConfiguration": {"level": _LEVELS[check.severity]},
        "properties": {
            "tags": ["security", "jwt", "authentication"],
            "security-severity": _SECURITY_SEVERITY[check.severity],
            "precision": "high",
        },
    }


def _message(finding: Finding) -> str:
    lines = [f"{finding.check.title} ({finding.count} request(s); classes: {', '.join(finding.classes)})."]
    lines += [f"- {e.name}: sent {e.sent}; {e.why}" for e in finding.examples]
    lines.append(f"Fix: {finding.check.fix}")
    return "\n".join(lines)


def render_sarif(report: Report, *, artifact: str, exit_code: int) -> str:
    """The report as a SARIF 2.1.0 log with one run."""
    findings = sorted(report.findings, key=lambda f: -f.severity)
    rule_ids = list(dict.fromkeys(f.check.id for f in findings))
    rules = [_rule(next(f for f in findings if f.check.id == rule_id)) for rule_id in rule_ids]
    results = []
    for finding in findings:
        fingerprint = hashlib.sha256(f"{finding.check.id}\n{finding.target}".encode()).hexdigest()
        results.append(
            {
                "ruleId": finding.check.id,
                "ruleIndex": rule_ids.index(finding.check.id),
                "level": _LEVELS[finding.severity],
                "message": {"text": _message(finding)},
                "locations": [
                    {
                        "physicalLocation": {"artifactLocation": {"uri": artifact}, "region": {"startLine": 1}},
                        "logicalLocations": [{"fullyQualifiedName": finding.target, "kind": "resource"}],
                    }
                ],
                "partialFingerprints": {"jwtProbeFinding/v1": fingerprint},
                "properties": {"target": finding.target, "count": finding.count, "classes": finding.classes},
            }
        )
    log = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "jwt-probe",
                        "version": __version__,
                        "semanticVersion": __version__,
                        "rules": rules,
                    }
                },
                "invocations": [
                    {
                        "executionSuccessful": True,
                        "exitCode": exit_code,
                        "properties": {
                            "target": report.target,
                            "requests": report.requests,
                            "forgeriesSkipped": report.skipped,
                            "complete": report.complete,
                        },
                    }
                ],
                "results": results,
            }
        ],
    }
    return json.dumps(log, indent=2) + "\n"
