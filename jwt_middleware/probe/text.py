"""The terminal report, and the progress bar drawn on stderr while the battery runs (only on a terminal)."""

from __future__ import annotations

from typing import TextIO

from .findings import Severity
from .runner import Report

__all__ = ["ProgressBar", "render_text", "summary_line"]

_WIDTH = 30
_CLASSES_SHOWN = 4


class ProgressBar:
    """`[#########.....]  120/303 alg-none` redrawn in place; nothing at all when `stream` is not a terminal."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self.enabled = stream.isatty()

    def __call__(self, done: int, total: int, label: str) -> None:
        if not self.enabled:
            return
        filled = _WIDTH * done // max(total, 1)
        self._stream.write(f"\r[{'#' * filled}{'.' * (_WIDTH - filled)}] {done:>4}/{total} {label:<24.24}")
        self._stream.flush()

    def close(self) -> None:
        if self.enabled:
            self._stream.write("\r" + " " * (_WIDTH + 40) + "\r")
            self._stream.flush()


def summary_line(report: Report, *, fail_on: Severity, exit_code: int) -> str:
    counts = report.counts()
    found = ", ".join(f"{n} {label}" for label, n in counts.items() if n) or "nothing"
    skipped = f", {report.skipped} skipped (cannot travel in an HTTP header)" if report.skipped else ""
    stopped = " (stopped early: --max-requests)" if not report.complete else ""
    operations = f", {report.operations} OpenAPI operation(s) checked" if report.operations else ""
    return (
        f"summary: {len(report.findings)} finding(s): {found}; {report.requests} requests{stopped}, "
        f"{report.forgeries_sent} forgeries sent{skipped}{operations}, {report.no_answer} unanswered, in "
        f"{report.duration:.1f} s; exit {exit_code} (--fail-on {fail_on.label})"
    )


def render_text(report: Report, *, fail_on: Severity, exit_code: int) -> str:
    lines = [
        f"jwt-probe: {report.target}",
        f"baseline: valid token -> {report.baseline_status}, no token -> {report.missing_status}",
    ]
    lines += [f"note: {note}" for note in report.notes]
    for finding in sorted(report.findings, key=lambda f: -f.severity):
        check = finding.check
        lines += [
            "",
            f"[{check.severity.label.upper()}] {check.id}: {check.title}",
            f"  target: {finding.target}; seen {finding.count} time(s) in {len(finding.classes)} class(es)",
        ]
        # One example per class, for the first few classes: the JSON and SARIF reports carry the rest.
        classes = finding.classes
        for attack in classes[:_CLASSES_SHOWN]:
            example = next(e for e in finding.examples if e.attack == attack)
            status = f" -> {example.status}" if example.status is not None else ""
            lines += [f"  - {example.name}: {example.sent}{status}", f"      {example.why}"]
        if len(classes) > _CLASSES_SHOWN:
            lines.append(f"  - and {len(classes) - _CLASSES_SHOWN} more classes (see --format json)")
        lines += [f"  reference: {check.reference}", f"  fix: {check.fix}"]
    lines += ["", summary_line(report, fail_on=fail_on, exit_code=exit_code)]
    return "\n".join(lines) + "\n"
