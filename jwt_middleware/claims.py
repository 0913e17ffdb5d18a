"""The JWT claims set (RFC 7519 section 4.1): issuer, audience, times, required claims and granted scopes.

    policy = ClaimsPolicy(leeway=30, max_age=None, required=("exp",))
    policy.check_issuer(claims, "https://login.example.com/")
    valid_from, valid_until = policy.check(claims, audiences=frozenset({"orders-api"}), now=time.time())

`check` answers with the window of times in which the time claims hold, so a verdict remembered for a token is
re-checked against the clock with two comparisons.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Any

from .errors import ErrorCode

__all__ = ["DEFAULT_SCOPE_CLAIMS", "Claims", "ClaimsPolicy", "ScopeSource", "copy_json", "scopes_of"]

Claims = dict[str, Any]
# Where granted scopes are read from: a claim name, a dotted path, or a function of the (read-only) claims.
ScopeSource = str | Callable[[Mapping[str, Any]], "str | Iterable[str] | None"]
DEFAULT_SCOPE_CLAIMS: tuple[ScopeSource, ...] = ("scope", "scp")

# NumericDate sanity bound: year 9999. Larger values are attacks or bugs, not expiry times.
_MAX_NUMERIC_DATE = 253402300799


class ClaimsPolicy:
    """The claim checks configured once for every provider; each provider adds its own issuer and audiences."""

    def __init__(self, *, leeway: float, max_age: float | None, required: tuple[str, ...]) -> None:
        self._leeway = leeway
        self._max_age = max_age
        self._required = required

    def check_issuer(self, claims: Claims, issuer: str | None) -> None:
        """`iss` equals `issuer` exactly (None: not checked), and is a string when present."""
        iss = claims.get("iss")
        if issuer is not None and iss != issuer:
            raise ErrorCode.ISSUER_INVALID.refusal()
        if iss is not None and not isinstance(iss, str):
            raise ErrorCode.CLAIM_INVALID.refusal("The iss claim must be a string.")

    def check(self, claims: Claims, audiences: frozenset[str] | None, now: float) -> tuple[float, float]:
        """Every check but the issuer's; the window of times at which the time claims hold."""
        for name in self._required:
            if name not in claims:
                raise ErrorCode.CLAIM_MISSING.refusal(f"The token has no {name} claim.")
        window = self.time_window(claims, now)
        if "iat" in claims and _numeric_date(claims, "iat") > now + self._leeway:
            raise ErrorCode.TOKEN_ISSUED_IN_FUTURE.refusal()
        for name in ("sub", "jti"):
            if name in claims and type(claims[name]) is not str:
                raise ErrorCode.CLAIM_INVALID.refusal(f"The {name} claim must be a string.")
        _check_audience(claims, audiences)
        return window

    def time_window(self, claims: Claims, now: float) -> tuple[float, float]:
        """Check exp, nbf and max_age at `now`; return the window of times at which they all hold."""
        leeway = self._leeway
        valid_from, valid_until = -math.inf, math.inf
        if "exp" in claims:
            exp = _numeric_date(claims, "exp")
            if now >= exp + leeway:
                raise ErrorCode.TOKEN_EXPIRED.refusal()
            valid_until = exp + leeway
        if "nbf" in claims:
            nbf = _numeric_date(claims, "nbf")
            if nbf > now + leeway:
                raise ErrorCode.TOKEN_NOT_YET_VALID.refusal()
            valid_from = nbf - leeway
        if self._max_age is not None:
            if "iat" not in claims:
                raise ErrorCode.CLAIM_MISSING.refusal("The token has no iat claim.")
            iat = _numeric_date(claims, "iat")
            if now - iat > self._max_age + leeway:
                raise ErrorCode.TOKEN_TOO_OLD.refusal()
            valid_until = min(valid_until, iat + self._max_age + leeway)
        return valid_from, valid_until


def _numeric_date(claims: Claims, name: str) -> float:
    """The claim `name`, which the caller has found present, as a NumericDate (RFC 7519 section 2)."""
    value = claims[name]
    if type(value) is int and 0 <= value <= _MAX_NUMERIC_DATE:
        return value  # what issuers send: skips the float checks below (~1k instr. per claim)
    # null, bool is an int in Python, and 1e30 or inf are floats: none of them is a time.
    if type(value) not in (int, float) or not (0 <= value <= _MAX_NUMERIC_DATE) or not math.isfinite(value):
        raise ErrorCode.CLAIM_INVALID.refusal(f"The {name} claim must be a NumericDate.")
    return float(value)


def _check_audience(claims: Claims, audiences: frozenset[str] | None) -> None:
    if "aud" not in claims:
        if audiences is not None:
            raise ErrorCode.CLAIM_MISSING.refusal("The token has no aud claim.")
        return
    aud = claims["aud"]
    if type(aud) is str:  # the usual case, and one set lookup
        if audiences is not None and aud not in audiences:
            raise ErrorCode.AUDIENCE_INVALID.refusal()
        return
    if not isinstance(aud, list) or not aud or not all(isinstance(a, str) for a in aud):
        raise ErrorCode.CLAIM_INVALID.refusal("The aud claim must be a string or a list of strings.")
    if audiences is not None and audiences.isdisjoint(aud):
        raise ErrorCode.AUDIENCE_INVALID.refusal()


def scopes_of(claims: Claims, sources: tuple[ScopeSource, ...] = DEFAULT_SCOPE_CLAIMS) -> tuple[str, ...]:
    """Granted scopes, read from `sources` (the `scope_claims` setting), in order and without repeats.

    By default `scope` (RFC 8693: space-separated) and `scp` (Entra ID, Okta: a string or a list). A source is a
    claim name, a dotted path into objects ("realm_access.roles"; an exact claim name wins, as Auth0's namespaced
    claims contain dots), or a function of the claims. A string value is split on spaces, a list contributes its
    strings, anything else grants nothing. Runs once per verification: cache hits reuse the result.
    """
    if sources is DEFAULT_SCOPE_CLAIMS and "scp" not in claims:  # the usual case (~5k instr. fewer than the loop)
        scope = claims.get("scope")
        if type(scope) is str:
            return tuple(dict.fromkeys(scope.split()))
        if scope is None:
            return ()
    scopes: list[str] = []
    for source in sources:
        # A function sees a copy, so that nothing it does can reach the verdict every later request shares.
        value = _claim_at(claims, source) if isinstance(source, str) else source(MappingProxyType(copy_json(claims)))
        if isinstance(value, str):
            scopes.extend(value.split())
        elif isinstance(value, (list, tuple, set, frozenset)):
            scopes.extend(v for v in value if isinstance(v, str))
    return tuple(dict.fromkeys(scopes))


def _claim_at(claims: Claims, name: str) -> Any:
    """The claim `name`, or else the value at its dotted path ("realm_access.roles"), or None."""
    if name in claims or "." not in name:
        return claims.get(name)
    value: Any = claims
    for part in name.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def copy_json(value: dict[str, Any] | list[Any]) -> Any:
    """A copy of a JSON object or array that shares no container with it (strings and numbers are immutable)."""
    if type(value) is dict:
        return {k: copy_json(v) if type(v) is dict or type(v) is list else v for k, v in value.items()}
    return [copy_json(v) if type(v) is dict or type(v) is list else v for v in value]
