"""`jwt-probe`: audit any live API's JWT validation from the command line, in CI.

    jwt-probe https://staging.example.com/orders --token "$TOKEN" --jwks-url https://login.example.com/jwks.json

The probe fires the attack battery (`jwt_middleware.testing.attacks`) at one protected endpoint, compares every answer
with the valid token's, and reports what a verifier must never do: accept a forgery, an expired or foreign token,
crash, leak, or refuse without a proper challenge. It also checks the valid token offline and, from an OpenAPI
document, finds routes that forgot their protection. It works against any API, whatever verifies its tokens.

Layout: `cli` (options, exit status) -> `runner` (one run) -> `battery` (forgeries), `client` (polite HTTP),
`offline`, `openapi`; `findings` is the catalogue of checks; `text`, `json_report` and `sarif` render a report.
"""

from __future__ import annotations

from .cli import main, run_cli
from .findings import CHECKS, Check, Finding, Severity
from .runner import BaselineFailed, ProbeOptions, Report, UsageError, run

__all__ = [
    "CHECKS",
    "BaselineFailed",
    "Check",
    "Finding",
    "ProbeOptions",
    "Report",
    "Severity",
    "UsageError",
    "main",
    "run",
    "run_cli",
]
