"""The `jwt-probe` command: parse the options, run the probe, write the report, exit 0, 1 or 2.

jwt-probe https://staging.example.com/orders --token "$TOKEN" --jwks-url https://login.example.com/jwks.json
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

import anyio
import httpx

from jwt_middleware import __version__

from .client import ForbiddenHost
from .findings import Severity
from .json_report import render_json
from .runner import BaselineFailed, ProbeOptions, Report, UsageError, run
from .sarif import default_artifact, render_sarif
from .text import ProgressBar, render_text, summary_line

__all__ = ["build_parser", "exit_code", "main", "run_cli"]

_DESCRIPTION = """\
Audit a live API's JWT validation: fire a battery of forged tokens at one protected endpoint and report each
kind of forgery it accepts, each crash, leak and malformed refusal, plus offline checks of the valid token.

The valid token must get a 2xx and a request without a token must not (the baseline); every other answer is
compared with it. Only the target's host (and the key URL's) is ever contacted; redirects are not followed."""

_EPILOG = """\
exit status: 0 nothing at or above --fail-on was found; 1 something was; 2 usage error or failed baseline.
A TOKEN given as @FILE is read from FILE (keeps it out of the process list and shell history).
example:
  jwt-probe http://127.0.0.1:8000/orders --token @token.txt --jwks-url http://127.0.0.1:9000/jwks.json \\
            --format sarif --output jwt-probe.sarif"""


def _url(value: str) -> str:
    parsed = httpx.URL(value)
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise argparse.ArgumentTypeError(f"not an http(s) URL: {value!r}")
    return value


def _header(value: str) -> tuple[str, str]:
    name, colon, content = value.partition(":")
    if not colon or not name.strip() or any(c.isspace() for c in name.strip()):
        raise argparse.ArgumentTypeError(f"expected 'Name: value', got {value!r}")
    if name.strip().lower() in ("authorization", "host"):
        raise argparse.ArgumentTypeError(f"{name.strip()} is set by the probe itself")
    return name.strip(), content.strip()


def _positive(kind: type[int] | type[float], *, zero: bool = False) -> Callable[[str], float]:
    def parse(value: str) -> float:
        number = kind(value)
        if number < 0 or (number == 0 and not zero):
            raise argparse.ArgumentTypeError(f"must be {'>= 0' if zero else '> 0'}: {value}")
        return number

    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jwt-probe",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("url", metavar="URL", type=_url, help="a protected endpoint (requested with --method)")
    parser.add_argument("--token", required=True, metavar="TOKEN", help="a valid token for URL, or @FILE")
    parser.add_argument("--method", default="GET", type=str.upper, help="HTTP method for URL (default: GET)")
    keys = parser.add_mutually_exclusive_group()
    keys.add_argument(
        "--jwks-url",
        type=_url,
        metavar="URL",
        help="the issuer's JWKS (or OIDC discovery document): adds the algorithm-confusion forgeries",
    )
    keys.add_argument(
        "--public-key", type=Path, metavar="FILE", help="the verifier's public key (PEM), for the same purpose"
    )
    parser.add_argument(
        "--openapi",
        type=_url,
        metavar="URL",
        help="the OpenAPI document to enumerate operations from (default: /openapi.json on URL's host, if any)",
    )
    parser.add_argument("--no-openapi", action="store_true", help="do not look for /openapi.json")
    parser.add_argument(
        "--unsafe-methods",
        action="store_true",
        help="also send POST/PUT/PATCH/DELETE to secured operations (without a valid token); default: safe methods",
    )
    parser.add_argument(
        "--expired-token",
        action="append",
        default=[],
        metavar="T",
        help="a genuinely signed token whose exp has passed; accepting it is a finding (repeatable; @FILE)",
    )
    parser.add_argument(
        "--foreign-token",
        action="append",
        default=[],
        metavar="T",
        help="a genuine token for another audience or issuer; accepting it is a finding (repeatable; @FILE)",
    )
    parser.add_argument(
        "--header",
        action="append",
        default=[],
        type=_header,
        metavar='"Name: value"',
        help="an extra header for every request, e.g. an API gateway key (repeatable)",
    )
    parser.add_argument(
        "--format",
        choices=("text", "json", "sarif"),
        default="text",
        help="text (default); json, described by jwt_middleware/probe/report.schema.json; or sarif (SARIF 2.1.0)",
    )
    parser.add_argument("--output", type=Path, metavar="FILE", help="write the report to FILE (default: stdout)")
    parser.add_argument(
        "--sarif-artifact",
        metavar="PATH",
        help="repository path SARIF results point at (default: the target's host and path)",
    )
    parser.add_argument(
        "--fail-on",
        choices=("low", "medium", "high", "critical"),
        default="high",
        help="exit 1 when a finding is at least this severe (default: high)",
    )
    parser.add_argument(
        "--rate",
        type=_positive(float, zero=True),
        default=25.0,
        metavar="N",
        help="requests per second at most; 0 for no limit (default: 25)",
    )
    parser.add_argument(
        "--max-requests",
        type=_positive(int),
        default=1000,
        metavar="N",
        help="stop after N requests (default: 1000; a full run needs about 320)",
    )
    parser.add_argument(
        "--timeout",
        type=_positive(float),
        default=10.0,
        metavar="S",
        help="seconds to wait for each answer (default: 10)",
    )
    parser.add_argument("--version", action="version", version=f"jwt-probe {__version__}")
    return parser


def _token(value: str, option: str) -> str:
    if value.startswith("@"):
        try:
            return Path(value[1:]).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise UsageError(f"{option}: cannot read {value[1:]}: {exc.strerror}") from exc
    return value.strip()


def _options(args: argparse.Namespace) -> ProbeOptions:
    public_key = None
    if args.public_key is not None:
        try:
            public_key = args.public_key.read_bytes()
        except OSError as exc:
            raise UsageError(f"--public-key: cannot read {args.public_key}: {exc.strerror}") from exc
    return ProbeOptions(
        url=args.url,
        token=_token(args.token, "--token"),
        method=args.method,
        jwks_url=args.jwks_url,
        public_key=public_key,
        openapi_url=args.openapi,
        discover_openapi=not args.no_openapi,
        expired_tokens=tuple(_token(t, "--expired-token") for t in args.expired_token),
        foreign_tokens=tuple(_token(t, "--foreign-token") for t in args.foreign_token),
        headers=dict(args.header),
        unsafe_methods=args.unsafe_methods,
        rate=args.rate,
        max_requests=args.max_requests,
        timeout=args.timeout,
    )


def exit_code(report: Report, fail_on: Severity) -> int:
    """1 when a finding is at least `fail_on`, else 0."""
    worst = report.worst
    return 1 if worst is not None and worst >= fail_on else 0


async def run_cli(
    argv: Sequence[str] | None = None,
    *,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> int:
    """The whole command, awaitable (tests call it in their event loop); returns the exit status."""
    out, err = stdout or sys.stdout, stderr or sys.stderr
    parser = build_parser()
    try:
        # argparse prints usage errors, --help and --version itself, to sys.stdout/sys.stderr: send them to ours.
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    fail_on = Severity.from_label(args.fail_on)
    progress = ProgressBar(err)
    try:
        report = await run(_options(args), progress=progress, transport=transport)
    except (UsageError, BaselineFailed, ForbiddenHost) as exc:
        progress.close()
        kind = "baseline failed" if isinstance(exc, BaselineFailed) else "error"
        err.write(f"jwt-probe: {kind}: {exc}\n")
        return 2
    progress.close()
    code = exit_code(report, fail_on)
    if args.format == "json":
        rendered = render_json(report, fail_on=fail_on, exit_code=code)
    elif args.format == "sarif":
        artifact = args.sarif_artifact or default_artifact(args.url)
        rendered = render_sarif(report, artifact=artifact, exit_code=code)
    else:
        rendered = render_text(report, fail_on=fail_on, exit_code=code)
    if args.output is not None:
        args.output.write_text(rendered, encoding="utf-8")
    else:
        out.write(rendered)
    if args.output is not None or args.format != "text":
        err.write(summary_line(report, fail_on=fail_on, exit_code=code) + "\n")
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """The console script: `jwt-probe ...`; also `python -m jwt_middleware.probe ...`."""
    return anyio.run(lambda: run_cli(argv))
