"""Checks of the valid token itself, with no request sent: its HMAC secret, its lifetime, its claims.

The weak-secret list (`weak_secrets.txt`, package data) holds published defaults only: values that tutorials,
documentation and framework templates print, which attackers try first. It is not a cracking dictionary.
"""

from __future__ import annotations

import base64
import hmac
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from typing import Any

__all__ = ["ClaimIssue", "decode_unverified", "lifetime_issues", "personal_claims", "weak_secret", "weak_secrets"]

_HMAC_HASHES = {"HS256": "sha256", "HS384": "sha384", "HS512": "sha512"}
_DAY = 24 * 3600
# Claim names that are personal data (OpenID Connect Core 5.1) or that look like a secret.
_PERSONAL = frozenset(
    {"email", "phone_number", "address", "birthdate", "given_name", "family_name", "name", "ssn", "national_id"}
)
_SECRET_LIKE = re.compile(r"pass(word|wd)?|secret|api[_-]?key|credit[_-]?card|\bpin\b|private", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ClaimIssue:
    """One offline problem: the check id and what was seen."""

    check_id: str
    why: str


def _unb64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def decode_unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The header and claims of `token`, unverified; raises ValueError if it is not a JWS with JSON objects."""
    parts = token.split(".")
    if len(parts) != 3:
        raise ValueError("not a compact JWS (three dot-separated segments)")
    try:
        header, claims = json.loads(_unb64(parts[0])), json.loads(_unb64(parts[1]))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError("its header and payload are not base64url JSON") from exc
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise ValueError("its header and payload must be JSON objects")
    return header, claims


def weak_secrets() -> Iterator[bytes]:
    """The empty secret, then the bundled list: one secret a line, blank lines and `#` comments skipped."""
    yield b""  # some libraries sign with an empty key when a setting is unset
    text = resources.files(__package__).joinpath("weak_secrets.txt").read_text(encoding="utf-8")
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            yield line.rstrip("\n").encode()


def weak_secret(token: str) -> bytes | None:
    """The bundled secret that signed `token` (HS256/384/512), or None; a token of another `alg` is None."""
    header, _ = decode_unverified(token)
    digest = _HMAC_HASHES.get(str(header.get("alg")))
    if digest is None:
        return None
    signing_input, _, signature_b64 = token.rpartition(".")
    try:
        signature = _unb64(signature_b64)
    except ValueError:
        return None
    message = signing_input.encode()
    for secret in weak_secrets():
        if hmac.compare_digest(hmac.digest(secret, message, digest), signature):
            return secret
    return None


def lifetime_issues(claims: dict[str, Any]) -> Iterator[ClaimIssue]:
    """No `exp`, a lifetime over a day, no `aud`, no `iss`."""
    exp, iat = _number(claims.get("exp")), _number(claims.get("iat"))
    if exp is None:
        yield ClaimIssue("no-expiry", "the token has no numeric exp claim: it is valid forever once leaked")
    elif iat is not None and exp - iat > _DAY:
        hours = (exp - iat) / 3600
        yield ClaimIssue("long-lifetime", f"exp - iat is {hours:.0f} hours; a leaked token stays useful that long")
    if "aud" not in claims:
        yield ClaimIssue("no-audience", "the token has no aud claim: any API that trusts the issuer accepts it")
    if "iss" not in claims:
        yield ClaimIssue("no-issuer", "the token has no iss claim: its issuer cannot be checked")


def personal_claims(claims: dict[str, Any]) -> list[str]:
    """The names of claims that hold personal data or look like secrets, readable by anyone holding the token."""
    return sorted(name for name in claims if name.lower() in _PERSONAL or _SECRET_LIKE.search(name))


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
