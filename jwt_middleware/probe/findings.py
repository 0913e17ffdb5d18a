"""What the probe can report: severities, the closed catalogue of checks, and the findings a run produces.

Every finding names a `Check` from `CHECKS` by its stable `id` (also the SARIF rule id), so a CI job can filter on
ids across versions. A finding groups every answer of one kind: many forgeries look alike (sixteen casings of
`alg: none`), so the report shows each attack class once, with a few examples, rather than one line per request.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

__all__ = ["CHECKS", "Check", "Example", "Finding", "Severity", "check"]


class Severity(enum.IntEnum):
    """How bad a finding is; `--fail-on` compares against these."""

    INFO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def from_label(cls, label: str) -> Severity:
        return cls[label.upper()]


@dataclass(frozen=True, slots=True, kw_only=True)
class Check:
    """One kind of finding: what is wrong, how bad, where it is described, and how to fix it."""

    id: str
    title: str
    severity: Severity
    reference: str
    fix: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Example:
    """One request that showed the problem: what was sent (token redacted) and what came back."""

    name: str  # the forgery's name, or what the request was ("no token", "GET /admin")
    attack: str  # the attack class, or the kind of request
    sent: str  # method, path and the redacted token
    status: int | None  # None when nothing was sent (offline checks)
    why: str  # why this answer is wrong


@dataclass(slots=True, kw_only=True)
class Finding:
    """One check that failed, with every attack class that made it fail and an example of each."""

    check: Check
    target: str
    examples: list[Example] = field(default_factory=list)
    count: int = 0  # how many requests (or claims) showed it, examples or not

    @property
    def severity(self) -> Severity:
        return self.check.severity

    @property
    def classes(self) -> list[str]:
        """The attack classes seen, in the order they were met."""
        return list(dict.fromkeys(example.attack for example in self.examples))


def _forgery(attack: str, title: str, reference: str, fix: str) -> Check:
    return Check(id=f"forgery-accepted.{attack}", title=title, severity=Severity.CRITICAL, reference=reference, fix=fix)


_PIN_ALGORITHMS = "Pass an explicit allow-list of algorithms to the verifier (e.g. algorithms=['RS256'])"
_VERIFY = "Verify the signature on every request: never decode with verify_signature=False or a `verify=False` flag"

# The closed list: a new kind of finding is added here, with its reference and fix, or it cannot be reported.
CHECKS: dict[str, Check] = {
    c.id: c
    for c in (
        _forgery(
            "alg-none",
            "A token with `alg: none` (unsigned) was accepted",
            "RFC 8725 section 2.1; CVE-2015-9235",
            f"{_PIN_ALGORITHMS}; `none` must never be in it.",
        ),
        _forgery(
            "signature-tampering",
            "A token whose signature was stripped or altered was accepted",
            "RFC 7515 section 5.2",
            f"{_VERIFY}.",
        ),
        _forgery(
            "claims-tampering",
            "Claims changed under the original signature were accepted",
            "RFC 7515 section 5.2; RFC 7519 section 7.2",
            f"{_VERIFY}.",
        ),
        _forgery(
            "header-tampering",
            "A token whose header was changed under the original signature was accepted",
            "RFC 7515 section 4.1.1; RFC 8725 section 3.1",
            f"{_VERIFY}, and pass an explicit allow-list of algorithms (e.g. algorithms=['RS256']).",
        ),
        _forgery(
            "algorithm-confusion",
            "An HMAC token signed with the server's public key was accepted",
            "RFC 8725 section 3.1; CVE-2022-29217; CVE-2024-33663",
            f"{_PIN_ALGORITHMS}, and never take the algorithm from the token's header; bind each key to its algorithm.",
        ),
        _forgery(
            "psychic-signature",
            "An ECDSA signature of zeros was accepted",
            "CVE-2022-21449",
            "Upgrade the ECDSA implementation (Java 15-18 were affected) and pin the algorithms.",
        ),
        _forgery(
            "weak-hmac-secret",
            "A token signed with a well-known HMAC secret was accepted",
            "RFC 8725 section 3.5",
            "Use a random secret of at least 32 bytes from a secret store, or an asymmetric algorithm.",
        ),
        _forgery(
            "kid-injection",
            "A token with an injected `kid` was accepted",
            "RFC 8725 section 3.10",
            "Treat `kid` as an opaque lookup key in a fixed key set: never a path, a query or an expression.",
        ),
        _forgery(
            "embedded-jwk",
            "A token that brought its own key (`jwk` header) was accepted",
            "CVE-2018-0114; RFC 8725 section 3.10",
            "Take keys only from your configuration or your issuer's JWKS, never from the token.",
        ),
        _forgery(
            "embedded-x5c",
            "A token that brought its own certificate chain (`x5c` header) was accepted",
            "RFC 7515 section 4.1.6; RFC 8725 section 3.10",
            "Take keys only from your configuration or your issuer's JWKS; never trust a chain the token carries.",
        ),
        _forgery(
            "jku-injection",
            "A token whose `jku` points at an attacker's key set was accepted",
            "RFC 8725 section 3.10",
            "Ignore `jku`: fetch keys only from the JWKS URL you configured.",
        ),
        _forgery(
            "x5u-injection",
            "A token whose `x5u` points at an attacker's certificate was accepted",
            "RFC 8725 section 3.10",
            "Ignore `x5u`: fetch keys only from the JWKS URL you configured.",
        ),
        _forgery(
            "other",
            "A malformed or forged token was accepted",
            "RFC 8725; RFC 7515 section 5.2",
            f"{_VERIFY}, and refuse tokens that are not strict compact JWS.",
        ),
        Check(
            id="token-malleable",
            title="A re-encoded copy of the valid token (same bytes, other base64url) was accepted",
            severity=Severity.INFO,
            reference="RFC 7515 section 2; RFC 7515 section 3.1",
            fix="Decode base64url strictly (no padding, no stray characters, canonical last character), "
            "so one token has one spelling; a denylist or replay cache keyed on the token's text can be bypassed.",
        ),
        Check(
            id="expired-token-accepted",
            title="An expired token was accepted",
            severity=Severity.HIGH,
            reference="RFC 7519 section 4.1.4",
            fix="Require `exp` and check it on every request (PyJWT does unless options disable verify_exp).",
        ),
        Check(
            id="foreign-token-accepted",
            title="A token for another audience or issuer was accepted",
            severity=Severity.HIGH,
            reference="RFC 8725 section 3.8, 3.9; RFC 7519 section 4.1.1, 4.1.3",
            fix="Pass the expected `audience=` and `issuer=` to the verifier and require both claims.",
        ),
        Check(
            id="server-error",
            title="A hostile token made the server fail (5xx)",
            severity=Severity.HIGH,
            reference="RFC 6750 section 3.1; CWE-755",
            fix="Catch every verification error (e.g. PyJWT's `jwt.PyJWTError`, and check the header's types "
            "before use) and answer 401 invalid_token.",
        ),
        Check(
            id="error-text-leaked",
            title="A refusal echoed a library's exception text",
            severity=Severity.MEDIUM,
            reference="CWE-209; OWASP ASVS V7.4.1",
            fix="Answer with a fixed description of your own (e.g. 'The token could not be verified.'), "
            "never str(exc); log the detail server-side.",
        ),
        Check(
            id="token-echoed",
            title="A refusal echoed part of the token it refused",
            severity=Severity.MEDIUM,
            reference="CWE-209; RFC 6750 section 5.3",
            fix="Never put the token, or any segment of it, in a response or a log line.",
        ),
        Check(
            id="www-authenticate-missing",
            title="A 401 or 400 refusal had no WWW-Authenticate header",
            severity=Severity.LOW,
            reference="RFC 6750 section 3; RFC 9110 section 11.6.1",
            fix='Answer refusals with `WWW-Authenticate: Bearer error="invalid_token"` (or a bare `Bearer` when '
            "no token was sent).",
        ),
        Check(
            id="wrong-refusal-status",
            title="A missing or invalid token was refused with a status other than 400 or 401",
            severity=Severity.LOW,
            reference="RFC 6750 section 3.1",
            fix="Answer 401 for a missing or invalid token, 400 for a malformed request; 403 means a valid token "
            "without the needed scope.",
        ),
        Check(
            id="weak-secret",
            title="The valid token is signed with a known weak or published HMAC secret",
            severity=Severity.CRITICAL,
            reference="RFC 8725 section 3.5; RFC 7518 section 3.2",
            fix="Rotate the secret now: a random value of at least 32 bytes (e.g. `python -c 'import secrets; "
            "print(secrets.token_urlsafe(48))'`), kept out of source code; anyone can mint tokens with this one.",
        ),
        Check(
            id="no-expiry",
            title="The valid token has no `exp` claim",
            severity=Severity.MEDIUM,
            reference="RFC 7519 section 4.1.4; RFC 8725 section 3.10",
            fix="Issue tokens with an `exp`, and make the verifier require it.",
        ),
        Check(
            id="long-lifetime",
            title="The valid token lives for more than a day",
            severity=Severity.MEDIUM,
            reference="RFC 9700 section 4.14; RFC 8725",
            fix="Keep access tokens short-lived (minutes to an hour) and use refresh tokens for long sessions.",
        ),
        Check(
            id="no-audience",
            title="The valid token has no `aud` claim",
            severity=Severity.LOW,
            reference="RFC 7519 section 4.1.3; RFC 8725 section 3.9",
            fix="Issue tokens for a named audience and make each API require its own.",
        ),
        Check(
            id="no-issuer",
            title="The valid token has no `iss` claim",
            severity=Severity.LOW,
            reference="RFC 7519 section 4.1.1; RFC 8725 section 3.8",
            fix="Issue tokens with an `iss` and make the verifier require the expected one.",
        ),
        Check(
            id="personal-data",
            title="The token carries claims anyone who sees it can read (personal data, secrets)",
            severity=Severity.INFO,
            reference="RFC 8725 section 3.6; RFC 7519 section 11.2",
            fix="A JWS is only base64url-encoded: keep personal data and secrets out of it, or use an opaque "
            "reference.",
        ),
        Check(
            id="unprotected-operation",
            title="An operation that declares a security requirement answered 2xx without a valid token",
            severity=Severity.CRITICAL,
            reference="OWASP API Security Top 10 2023 API2 (Broken Authentication)",
            fix="Give the route the dependency that verifies the token (or protect the whole app with a "
            "middleware, exempting only public paths).",
        ),
        Check(
            id="operation-without-security",
            title="An operation declares no security requirement in the OpenAPI document",
            severity=Severity.INFO,
            reference="OpenAPI 3.1 section 4.8.10 (security)",
            fix="If the operation is meant to be public, nothing to do; otherwise protect it and declare it.",
        ),
    )
}


def check(check_id: str) -> Check:
    """The catalogued check `check_id`; a forgery class the catalogue does not name maps to the generic one."""
    found = CHECKS.get(check_id)
    if found is None and check_id.startswith("forgery-accepted."):
        return CHECKS["forgery-accepted.other"]
    if found is None:
        raise KeyError(check_id)
    return found
