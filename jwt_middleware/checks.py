"""One check per keyword: the value a user passed in, the validated value out, or a `ConfigurationError` whose
message names the keyword and how to fix it. `settings.Settings.build` calls them; nothing else does.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from .claims import DEFAULT_SCOPE_CLAIMS, ScopeSource
from .errors import ConfigurationError
from .keys.algorithms import SUPPORTED

__all__ = [
    "algorithms",
    "claim_names",
    "flag",
    "interval",
    "patterns",
    "positive_int",
    "realm",
    "refuse_preflight_pass_through",
    "scope_claims",
    "seconds",
    "typ",
]


def algorithms(algorithms: Sequence[str] | None) -> frozenset[str]:
    if algorithms is None or isinstance(algorithms, str) or not algorithms:
        raise ConfigurationError("algorithms must be listed explicitly, e.g. algorithms=['RS256']")
    for alg in algorithms:
        if not isinstance(alg, str):
            raise ConfigurationError(f"algorithms must be strings, got {alg!r}")
        if alg.lower() == "none":
            raise ConfigurationError("algorithms must not contain 'none': unsigned tokens are never accepted")
        if alg not in SUPPORTED:
            near = [s for s in SUPPORTED if s.lower() == alg.lower()]
            hint = f"; did you mean {near[0]!r}?" if near else f"; supported: {', '.join(sorted(SUPPORTED))}"
            raise ConfigurationError(f"algorithms contains unknown algorithm {alg!r}{hint}")
    return frozenset(algorithms)


def patterns(name: str, patterns: Sequence[str]) -> tuple[str, ...]:
    if isinstance(patterns, str):
        raise ConfigurationError(f"{name} must be a list of patterns, e.g. {name}=['/health']")
    return tuple(patterns)


def seconds(name: str, value: float, *, upper: float, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigurationError(f"{name} must be a number of seconds")
    if value < 0 or (positive and value == 0) or value > upper:
        raise ConfigurationError(f"{name} must be between 0 and {upper:g} seconds, got {value!r}")
    return float(value)


def interval(name: str, value: float, *, lower: float, upper: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigurationError(f"{name} must be a number of seconds")
    if not lower <= value <= upper:
        raise ConfigurationError(f"{name} must be between {lower:g} and {upper:g} seconds, got {value!r}")
    return float(value)


def flag(name: str, value: bool) -> bool:
    if not isinstance(value, bool):
        raise ConfigurationError(f"{name} must be True or False, got {value!r}")
    return value


def positive_int(name: str, value: int, *, lower: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < lower:
        raise ConfigurationError(f"{name} must be an integer of at least {lower}, got {value!r}")
    return value


def refuse_preflight_pass_through(allow_preflight: bool) -> None:
    if allow_preflight is not False:
        # It let any OPTIONS request with Access-Control-Request-Method reach handlers that serve OPTIONS without a
        # token (issue 8). CORSMiddleware in front answers preflights itself, so nothing needs it.
        raise ConfigurationError(
            "allow_preflight=True is no longer supported: it let unauthenticated requests reach handlers that serve "
            "OPTIONS. Add CORSMiddleware after JWTMiddleware (app.add_middleware(CORSMiddleware, ...)), so that it "
            "is the outer layer and answers CORS preflights itself"
        )


def claim_names(names: Sequence[str]) -> tuple[str, ...]:
    if isinstance(names, str) or not all(isinstance(n, str) and n for n in names):
        raise ConfigurationError("required_claims must be a list of claim names, e.g. required_claims=['exp', 'sub']")
    for name in names:
        # A name is quoted in the WWW-Authenticate challenge ("The token has no X claim."): keep that quoting intact.
        if any(c in name for c in '"\\') or not name.isprintable():
            raise ConfigurationError(
                f"required_claims: {name!r} is not a usable claim name (no quotes, backslashes or control characters)"
            )
    return tuple(dict.fromkeys(names))


def scope_claims(sources: Sequence[ScopeSource]) -> tuple[ScopeSource, ...]:
    if isinstance(sources, str) or not isinstance(sources, Sequence):
        raise ConfigurationError(
            "scope_claims must be a list of claim names, dotted paths or functions, e.g. scope_claims=['permissions']"
        )
    for source in sources:
        if isinstance(source, str) and source and not source.startswith(".") and not source.endswith("."):
            continue
        if callable(source) and not isinstance(source, str):
            continue
        raise ConfigurationError(
            f"scope_claims entries must be claim names ('scp'), dotted paths ('realm_access.roles') or functions "
            f"of the claims, got {source!r}"
        )
    # The defaults stay the very same object: scopes_of() keeps its fast path for them.
    return DEFAULT_SCOPE_CLAIMS if tuple(sources) == DEFAULT_SCOPE_CLAIMS else tuple(sources)


def typ(typ: str | None) -> str | None:
    if typ is not None and (not isinstance(typ, str) or not typ):
        raise ConfigurationError("typ must be a media type such as 'at+jwt' (RFC 9068), or None")
    return typ


def realm(realm: str) -> str:
    if not isinstance(realm, str) or not realm or any(c in realm for c in '"\\\r\n') or not realm.isprintable():
        raise ConfigurationError("realm must be a printable string without quotes or backslashes")
    return realm
