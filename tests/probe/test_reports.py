"""The probe's outputs: JSON against its shipped schema, SARIF against the official 2.1.0 schema, the text report,
and no token in any of them."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from jwt_middleware.probe import CHECKS, ProbeOptions, Severity, run
from jwt_middleware.probe.json_report import schema
from jwt_middleware.probe.redact import redact
from jwt_middleware.probe.text import ProgressBar

from ..conftest import make_app, signer_for
from ..live_server import serve
from . import fastapi_apps, vulnerable_apps
from .helpers import expired_token, foreign_token, pem_file, probe

pytestmark = pytest.mark.anyio

SARIF_SCHEMA = json.loads((Path(__file__).parent / "sarif" / "sarif-schema-2.1.0.json").read_text())


async def _leaky_run(tmp_path: Path, *argv: str) -> tuple[Any, str]:
    """A run with many findings of every kind of field: no signature check, on a token with personal data."""
    signer = signer_for("RS256")
    token = signer.token(email="alice@example.com", password_hint="x")
    run = await probe(
        vulnerable_apps.no_signature_check(signer),
        "--token",
        token,
        "--public-key",
        pem_file(signer, tmp_path),
        "--expired-token",
        expired_token(signer),
        "--foreign-token",
        foreign_token(signer),
        *argv,
    )
    return run, token


def _assert_no_token(text: str, token: str) -> None:
    header, payload, signature = token.split(".")
    assert token not in text
    assert payload not in text
    assert signature not in text
    assert header not in text  # the header is shown decoded, never as its segment


async def test_json_report_matches_its_schema(tmp_path: Path) -> None:
    run, token = await _leaky_run(tmp_path, "--format", "json")
    jsonschema.Draft202012Validator.check_schema(schema())
    jsonschema.validate(run.report, schema(), cls=jsonschema.Draft202012Validator)
    assert run.report["summary"]["exit_code"] == run.code == 1
    assert run.report["summary"]["worst"] == "critical"
    assert "personal-data" in run.finding_ids
    severities = [Severity.from_label(f["severity"]) for f in run.report["findings"]]
    assert severities == sorted(severities, reverse=True)  # worst first
    _assert_no_token(run.stdout + run.stderr, token)


async def test_json_examples_are_capped_per_class_and_counted(tmp_path: Path) -> None:
    run, _ = await _leaky_run(tmp_path, "--format", "json")
    [alg_none] = [f for f in run.report["findings"] if f["id"] == "forgery-accepted.alg-none"]
    assert alg_none["classes"] == ["alg-none"]
    assert len(alg_none["examples"]) == 3 < alg_none["count"]  # 16 casings x 3 shapes: shown once, counted all
    assert alg_none["reference"] == CHECKS["forgery-accepted.alg-none"].reference
    assert alg_none["examples"][0]["sent"].startswith('GET /orders with Bearer {"alg":')


def test_the_json_schema_rejects_a_report_that_breaks_it() -> None:
    # The schema can fail: a finding without its fix, or an unknown severity, is not a valid report.
    finding = {"id": "x", "title": "t", "severity": "severe", "target": "t", "count": 1, "classes": ["a"]}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"format": "jwt-probe-report", "findings": [finding]}, schema())


async def test_sarif_output_is_valid_sarif_2_1_0(tmp_path: Path) -> None:
    output = tmp_path / "probe.sarif"
    run, token = await _leaky_run(tmp_path, "--format", "sarif", "--output", str(output))
    assert run.code == 1
    assert run.stdout == ""  # the report went to the file; the summary line to stderr
    assert run.stderr.startswith("summary: ")
    log = json.loads(output.read_text())
    jsonschema.validate(log, SARIF_SCHEMA, cls=jsonschema.Draft4Validator)
    [sarif_run] = log["runs"]
    rules = [rule["id"] for rule in sarif_run["tool"]["driver"]["rules"]]
    assert len(rules) == len(set(rules))
    for result in sarif_run["results"]:
        assert rules[result["ruleIndex"]] == result["ruleId"]
        uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        assert "://" not in uri  # code scanning accepts repository paths only
        assert result["partialFingerprints"]["jwtProbeFinding/v1"]
    levels = {r["ruleId"]: r["level"] for r in sarif_run["results"]}
    assert levels["forgery-accepted.alg-none"] == "error"
    assert levels["personal-data"] == "note"
    _assert_no_token(output.read_text(), token)


def test_the_sarif_schema_can_fail() -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(
            {"version": "2.1.0", "runs": [{"results": []}]}, SARIF_SCHEMA, cls=jsonschema.Draft4Validator
        )


async def test_sarif_artifact_can_point_at_the_code(tmp_path: Path) -> None:
    run, _ = await _leaky_run(tmp_path, "--format", "sarif", "--sarif-artifact", "app/auth.py")
    uris = {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        for r in json.loads(run.stdout)["runs"][0]["results"]
    }
    assert uris == {"app/auth.py"}


async def test_text_report_names_each_class_once_and_ends_with_a_summary(tmp_path: Path) -> None:
    run, token = await _leaky_run(tmp_path)
    lines = run.stdout.splitlines()
    assert lines[0].startswith("jwt-probe: GET http://127.0.0.1:")
    assert lines[1] == "baseline: valid token -> 200, no token -> 401"
    assert sum(line.startswith("[CRITICAL] forgery-accepted.alg-none:") for line in lines) == 1
    assert lines[-1].startswith("summary: ")
    assert "exit 1 (--fail-on high)" in lines[-1]
    assert "skipped (cannot travel in an HTTP header)" in lines[-1]
    assert run.stderr == ""  # stderr is not a terminal here: no progress bar
    _assert_no_token(run.stdout, token)


def test_redact_shows_the_header_and_a_hash_only() -> None:
    token = signer_for("HS256").token()
    shown = redact(token)
    assert shown.startswith('{"alg":"HS256"')
    assert token.split(".")[1] not in shown
    assert redact("bm90IGpzb24.x.y").startswith("<header not JSON> sha256:")
    long_header = redact("eyJ" + "a" * 400 + ".x.y")
    assert len(long_header) < 130


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_draws_only_on_a_terminal() -> None:
    terminal, pipe = _Terminal(), io.StringIO()
    for stream in (terminal, pipe):
        bar = ProgressBar(stream)
        bar(150, 300, "alg-none")
        bar.close()
    assert "[###############...............]  150/300 alg-none" in terminal.getvalue()
    assert terminal.getvalue().endswith("\r")
    assert pipe.getvalue() == ""


async def test_run_is_usable_without_the_command_line() -> None:
    """`run()` is public: a caller that draws no progress bar passes none."""
    signer = signer_for("HS256")
    async with serve(make_app(algorithms=["HS256"], key=signer.public)) as base:
        report = await run(ProbeOptions(url=f"{base}/orders", token=signer.token(), rate=0, max_requests=30))
    assert report.worst is None
    assert report.requests == 30
    assert not report.complete


async def test_text_report_shows_a_few_classes_and_counts_the_rest(tmp_path: Path) -> None:
    signer = signer_for("RS256")
    run = await probe(
        vulnerable_apps.exception_echoed(signer), "--token", signer.token(), "--public-key", pem_file(signer, tmp_path)
    )
    block = run.stdout.split("[MEDIUM] error-text-leaked:")[1].split("\n\n")[0].splitlines()
    examples = [line for line in block if line.startswith("  - ")]
    assert len(examples) == 5  # four classes, one example each, then the count of the others
    assert examples[-1].startswith("  - and ")
    assert examples[-1].endswith(" more classes (see --format json)")
    assert "exit 0 (--fail-on high)" in run.stdout  # medium is under the default threshold


async def test_text_summary_counts_openapi_operations() -> None:
    signer = signer_for("RS256")
    run = await probe(fastapi_apps.forgot_dependency(signer), "--token", signer.token())
    assert ", 4 OpenAPI operation(s) checked," in run.stdout.splitlines()[-1]
    assert "[CRITICAL] unprotected-operation:" in run.stdout
