"""Observing outcomes: the metrics seam, reason-coded refusal logs (rate-limited), and the `on_refusal` callback.

Refusals are logged on the `jwt_middleware.refusals` logger, one line each, with their stable code and what is
known about the request and the token, never the token itself:

    refused code=token_expired status=401 method=GET path="/orders/12" client=10.0.0.7 iss="https://login/"
    kid="k1" alg=RS256

`path` is the path inside the app (`rules.route_path`: without `root_path`, without the query string), cut to 200
characters. It may hold ids: the route template is not known before routing, which runs after us. Logs can carry
it; metrics never do. `iss`, `kid` and `alg` come from the token as sent, before (or without) any check, so they
say what the client claimed; each is cut to 100 printable characters and JSON-quoted, so a token cannot forge a
log line. The same fields are on the record as attributes (`jwt_code`, `jwt_status`, `jwt_method`, `jwt_path`,
`jwt_client`, `jwt_iss`, `jwt_kid`, `jwt_alg`, `jwt_dropped`) for JSON log formatters.

A flood must not flood the log: each code may log `LOG_BURST` lines per `LOG_WINDOW` seconds; the rest are
counted, and the next line logged for that code says how many were left out (`dropped=N`). The budget is per
code, a closed list, so its memory is bounded whatever the attacker varies.
"""

from __future__ import annotations

import binascii
import inspect
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from starlette.requests import HTTPConnection
from starlette.types import Scope

from .bearer import bearer_token
from .errors import AuthError, ConfigurationError, ErrorCode
from .rules import route_path

if TYPE_CHECKING:
    from .health import Health

__all__ = ["LOG_BURST", "LOG_WINDOW", "Metrics", "Refusal", "RefusalHook", "RefusalReporter"]

logger = logging.getLogger("jwt_middleware.refusals")

LOG_BURST = 20  # refusal lines logged per code per window; the rest are counted and reported
LOG_WINDOW = 60.0
_MAX_FIELD = 100
_MAX_PATH = 200
_MAX_CONTAINERS = 64  # a payload read only to log its `iss`: its parsing cost is bounded (see verify.py)


class Metrics(Protocol):
    """What the middleware reports to a metrics backend; `jwt_middleware.metrics` has Prometheus and OpenTelemetry.

    >>> from jwt_middleware.metrics.prometheus import PrometheusMetrics
    >>> app.add_middleware(JWTMiddleware, ..., metrics=PrometheusMetrics())

    The request-path calls (`accepted`, `refused`) run on every request: keep them to a few hundred nanoseconds.
    """

    def accepted(self, *, cached: bool, seconds: float) -> None:
        """A token was accepted; `cached`: its verdict came from the cache; `seconds` spent verifying."""

    def refused(self, code: ErrorCode, seconds: float) -> None:
        """A request was refused with `code` (anonymous requests on optional paths are not refusals)."""

    def key_fetch(self, provider: str, result: str) -> None:
        """A provider's key fetch ended: "updated", "unchanged" or "failed"."""

    def watch(self, health: Callable[[], Health]) -> None:
        """Called once per middleware: `health()` gives key counts, ages and staleness when the backend reads."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Refusal:
    """A refused request, as logs and `on_refusal` see it: never the token. `iss`, `kid`, `alg` are as sent.

    >>> async def audit(connection: HTTPConnection, refusal: Refusal) -> None:
    ...     await audit_log.write(refusal.code, refusal.client, refusal.iss)
    """

    code: ErrorCode
    status: int
    method: str
    path: str
    client: str | None
    iss: str | None
    kid: str | None
    alg: str | None


# Called with every refusal, before the answer is sent; its return value is ignored and what it raises is logged.
RefusalHook = Callable[[HTTPConnection, Refusal], Awaitable[None] | None]


class RefusalReporter:
    """Logs refusals (rate-limited per code) and calls `on_refusal`; built once per middleware.

    >>> reporter = RefusalReporter(level=logging.INFO, on_refusal=None, max_token_bytes=8192)
    >>> await reporter.report(scope, exc)
    """

    __slots__ = ("_budget", "_clock", "_level", "_max_token_bytes", "_on_refusal")

    def __init__(
        self,
        *,
        level: int | None,
        on_refusal: RefusalHook | None,
        max_token_bytes: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if level is not None and (type(level) is not int or level < 0):
            raise ConfigurationError(
                f"refusal_log_level must be a logging level such as logging.INFO, or None; got {level!r}"
            )
        if on_refusal is not None and not callable(on_refusal):
            raise ConfigurationError("on_refusal must be a function (connection, refusal), sync or async")
        self._level = level
        self._on_refusal = on_refusal
        self._max_token_bytes = max_token_bytes
        self._clock = clock
        # code -> [window start, lines logged in it, lines dropped since the last one logged]
        self._budget: dict[ErrorCode, list[float]] = {}

    async def report(self, scope: Scope, exc: AuthError) -> None:
        level = self._level_for(exc.code)
        logged = level is not None and logger.isEnabledFor(level) and self._admit(exc.code)
        if not logged and self._on_refusal is None:
            return  # the usual case under a flood: two comparisons and a dict lookup, nothing parsed
        refusal = refusal_of(scope, exc, self._max_token_bytes)
        if logged:
            assert level is not None  # for mypy: `logged` implies it
            self._log(level, refusal)
        if self._on_refusal is not None:
            try:
                outcome = self._on_refusal(HTTPConnection(scope), refusal)
                if inspect.isawaitable(outcome):
                    await outcome
            except Exception as exc_in_hook:
                # The callback observes; it must not change the answer. Its text may hold anything: the kind only.
                logger.error("on_refusal raised %s; the refusal is answered as usual", type(exc_in_hook).__name__)

    def _level_for(self, code: ErrorCode) -> int | None:
        # Key problems and a plain-HTTP deployment are the operator's to fix: at least WARNING.
        if code is ErrorCode.KEYS_UNAVAILABLE or code is ErrorCode.HTTPS_REQUIRED:
            return logging.WARNING if self._level is None else max(self._level, logging.WARNING)
        return self._level

    def _admit(self, code: ErrorCode) -> bool:
        now = self._clock()
        budget = self._budget.get(code)
        if budget is None or now - budget[0] >= LOG_WINDOW:
            dropped = 0.0 if budget is None else budget[2]
            self._budget[code] = [now, 1, dropped]
            return True
        if budget[1] < LOG_BURST:
            budget[1] += 1
            return True
        budget[2] += 1
        return False

    def _log(self, level: int, refusal: Refusal) -> None:
        budget = self._budget[refusal.code]
        dropped, budget[2] = int(budget[2]), 0
        message = "refused code=%s status=%d method=%s path=%s client=%s iss=%s kid=%s alg=%s"
        args: list[object] = [refusal.code, refusal.status, refusal.method, _quoted(refusal.path), refusal.client]
        args += [_quoted(refusal.iss), _quoted(refusal.kid), _quoted(refusal.alg)]
        if dropped:
            message += " dropped=%d"
            args.append(dropped)
        extra = {f"jwt_{name}": getattr(refusal, name) for name in Refusal.__slots__}
        logger.log(level, message, *args, extra={**extra, "jwt_dropped": dropped})


def refusal_of(scope: Scope, exc: AuthError, max_token_bytes: int) -> Refusal:
    """What can be said about a refused request without its token."""
    client = scope.get("client")
    iss = kid = alg = None
    try:
        token = bearer_token(scope)
    except AuthError:  # the header itself was refused: nothing to read
        token = None
    if token is not None and len(token) <= max_token_bytes:
        iss, kid, alg = _claimed(token)
    return Refusal(
        code=exc.code,
        status=exc.status_code,
        method=scope.get("method", "GET") if scope["type"] == "http" else "WEBSOCKET",
        path=route_path(scope)[:_MAX_PATH],
        client=client[0] if client else None,
        iss=iss,
        kid=kid,
        alg=alg,
    )


def _claimed(token: bytes) -> tuple[str | None, str | None, str | None]:
    """The `iss`, `kid` and `alg` a token claims, unchecked; None for whatever cannot be read."""
    segments = token.split(b".")
    header = _json_segment(segments[0])
    payload = _json_segment(segments[1]) if len(segments) == 3 else None
    return _field(payload, "iss"), _field(header, "kid"), _field(header, "alg")


def _json_segment(segment: bytes) -> object:
    try:
        raw = binascii.a2b_base64(segment.replace(b"-", b"+").replace(b"_", b"/") + b"==")
        if raw.count(b"[") + raw.count(b"{") > _MAX_CONTAINERS:
            return None
        return json.loads(raw)
    except ValueError:  # binascii.Error and json.JSONDecodeError (UnicodeDecodeError too) are ValueErrors
        return None


def _field(document: object, name: str) -> str | None:
    value = document.get(name) if isinstance(document, dict) else None
    if not isinstance(value, str):
        return None
    return "".join(c if c.isprintable() else "?" for c in value[:_MAX_FIELD])


def _quoted(value: str | None) -> str:
    return "-" if value is None else json.dumps(value)
