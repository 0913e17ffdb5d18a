"""`JWTMiddleware`: the ASGI entry point for http, websocket and lifespan scopes."""

from __future__ import annotations

import functools
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Literal

import httpx
from starlette.authentication import AuthCredentials, UnauthenticatedUser
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from .bearer import bearer_token, is_b64token, sent_over_tls
from .errors import AuthError, ErrorCode, MissingToken, Rendered, render
from .health import Health, health_of
from .keys import KeySource, key_source
from .lifespan import KeysLifespan
from .observe import Metrics, RefusalHook, RefusalReporter
from .revocation import RevocationCheck
from .rules import Access, Rules
from .settings import DEFAULT_SCOPE_CLAIMS, REQUIRED, JWKSOptions, Provider, Required, ScopeSource, Settings
from .user import JWTUser
from .verify import Issuer, Verifier

__all__ = ["ErrorHandler", "JWTMiddleware"]

logger = logging.getLogger("jwt_middleware")

_REQUESTS = ("http", "websocket")
_EXEMPT, _REQUIRED = Access.EXEMPT, Access.REQUIRED
_new = object.__new__

# Returns the response to send (a Starlette `Response`, or any ASGI app), directly or from a coroutine.
ErrorHandler = Callable[[HTTPConnection, AuthError], ASGIApp | Awaitable[ASGIApp]]


class JWTMiddleware:
    """Verify the bearer token of every request before routing, and put its claims in `request.state.claims`.

    >>> app.add_middleware(JWTMiddleware, algorithms=["RS256"], issuer="https://login.example.com/",
    ...                    audience="orders-api", key=public_key_pem, exempt=["/health"])

    Remote keys (`jwks_url=...` or `oidc_discovery=True`) are fetched at lifespan startup and refreshed in the
    background until shutdown; `jwks=JWKSOptions(...)` (or the `jwks_*` keywords) says how, and
    `jwt_middleware.keys.jwks` explains the schedule and servers without a lifespan. `http_client` (advanced) is an
    `httpx.AsyncClient` to fetch with (proxies, CA bundles, tests); the middleware never closes it, and still
    refuses redirects and applies the timeout.

    Operations (see `observe` and `health`): refusals are logged at `refusal_log_level` (None: off) on
    `jwt_middleware.refusals`, rate-limited per code; `on_refusal(connection, refusal)` observes each refusal
    without changing the answer; `metrics=PrometheusMetrics()` (or `OpenTelemetryMetrics()`) counts outcomes;
    `health()` says whether tokens can be verified now.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        algorithms: Sequence[str] | None = None,
        issuer: str | Literal[Required.REQUIRED] | None = REQUIRED,
        audience: str | Sequence[str] | Literal[Required.REQUIRED] | None = REQUIRED,
        key: object = None,
        jwks_url: str | None = None,
        oidc_discovery: bool = False,
        providers: Sequence[Provider] | None = None,
        exempt: Sequence[str] = (),
        optional: Sequence[str] = (),
        leeway: float = 30.0,
        required_claims: Sequence[str] = ("exp",),
        scope_claims: Sequence[ScopeSource] = DEFAULT_SCOPE_CLAIMS,
        max_age: float | None = None,
        typ: str | None = None,
        realm: str = "api",
        allow_preflight: bool = False,
        require_tls: bool = False,
        max_token_bytes: int = 8 * 1024,
        cache_size: int = 4096,
        is_revoked: RevocationCheck | None = None,
        on_error: ErrorHandler | None = None,
        on_refusal: RefusalHook | None = None,
        refusal_log_level: int | None = logging.INFO,
        metrics: Metrics | None = None,
        jwks: JWKSOptions | None = None,
        jwks_cooldown: float | None = None,
        jwks_refresh_interval: float | None = None,
        jwks_max_stale: float | None = None,
        jwks_timeout: float | None = None,
        jwks_required_at_startup: bool | None = None,
        allow_insecure_http: bool | None = None,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self.app = app
        # The jwks_* keywords are the fields of JWKSOptions (their defaults live there); None means "not given".
        jwks_keywords: dict[str, Any] = {
            "cooldown": jwks_cooldown,
            "refresh_interval": jwks_refresh_interval,
            "max_stale": jwks_max_stale,
            "timeout": jwks_timeout,
            "required_at_startup": jwks_required_at_startup,
            "allow_insecure_http": allow_insecure_http,
        }
        self.settings = settings = Settings.build(
            algorithms=algorithms,
            issuer=issuer,
            audience=audience,
            key=key,
            jwks_url=jwks_url,
            oidc_discovery=oidc_discovery,
            providers=providers,
            exempt=exempt,
            optional=optional,
            leeway=leeway,
            required_claims=required_claims,
            scope_claims=scope_claims,
            max_age=max_age,
            typ=typ,
            realm=realm,
            allow_preflight=allow_preflight,
            require_tls=require_tls,
            max_token_bytes=max_token_bytes,
            cache_size=cache_size,
            jwks=jwks,
            jwks_keywords={field: value for field, value in jwks_keywords.items() if value is not None},
        )
        self._rules = Rules(settings.exempt, settings.optional)
        # Public for tests and health checks: the verifier (and its verdict cache) and each provider's key source.
        self.key_sources: list[KeySource] = []
        issuers = []
        # Each provider's label in metrics and health: its issuer (a configured, bounded set), else its index.
        self._provider_labels: list[str] = []
        for index, provider in enumerate(settings.providers):
            source = key_source(
                key=provider.key,
                jwks_url=provider.jwks_url,
                discovery_issuer=provider.issuer if provider.discovery else None,
                algorithms=settings.algorithms,
                options=settings.jwks,
                http_client=http_client,
            )
            self.key_sources.append(source)
            self._provider_labels.append(provider.issuer if provider.issuer is not None else str(index))
            issuers.append(Issuer(provider.issuer, provider.audiences, source))
        self.verifier = Verifier(settings, issuers, is_revoked=is_revoked)
        self._on_error = on_error
        self._require_tls = settings.require_tls
        # Sources that may need a refresh from the request path (when no lifespan started them); static keys never
        # do, so with them the request path skips this entirely.
        self._refreshing = [source for source in self.key_sources if source.remote]
        # Refusals are a fixed set (each description is a constant, or names a configured claim), so their bytes
        # are rendered once; the headers are a tuple, and each answer sends a list of its own (see _reject).
        self._rendered: dict[tuple[ErrorCode, str], Rendered] = {}
        self._refusals = RefusalReporter(
            level=refusal_log_level, on_refusal=on_refusal, max_token_bytes=settings.max_token_bytes
        )
        self._metrics = metrics
        if metrics is not None:
            metrics.watch(self.health)
            for label, source in zip(self._provider_labels, self.key_sources, strict=True):
                source.on_fetch(functools.partial(metrics.key_fetch, label))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in _REQUESTS:
            if scope["type"] == "lifespan":
                if "state" in scope:  # so that an exempt /ready endpoint finds us: see health.readiness
                    scope["state"]["jwt_middleware"] = self
                await KeysLifespan(self.app, self.key_sources, receive, send).run(scope)
            else:
                await self.app(scope, receive, send)
            return

        access = self._rules.access(scope)
        if access is not _EXEMPT:  # _EXEMPT: Access.EXEMPT bound once (an enum attribute lookup costs ~1k instr.)
            # Metrics off: this attribute load, and an `is None` test of a local on each outcome, are all they cost.
            metrics = self._metrics
            if metrics is not None:
                started, verifications = time.perf_counter(), self.verifier.verifications
            token = verified = None
            try:
                token = bearer_token(scope)
                if token is not None:
                    if self._require_tls and not sent_over_tls(scope):
                        raise ErrorCode.HTTPS_REQUIRED.refusal()
                    if self._refreshing:  # a remote source that no lifespan started: see keys/jwks.py
                        await self._refresh_due_keys()
                    verified = await self.verifier.verify(token)
            except Exception as exc:
                refusal = self._refusal(exc, token)
                if metrics is not None:
                    metrics.refused(refusal.code, time.perf_counter() - started)
                await self._reject(scope, receive, send, refusal)
                return
            if verified is not None:
                if metrics is not None:  # a change in the count of full verifications: this verdict was not cached
                    cached = self.verifier.verifications == verifications
                    metrics.accepted(cached=cached, seconds=time.perf_counter() - started)
                claims = verified.claims_for_request()  # the verdict is shared through the cache: never hand it out
                # Built without their __init__ frames, which would cost ~1.5k instructions on every request.
                user, auth = _new(JWTUser), _new(AuthCredentials)
                user.claims, auth.scopes = claims, list(verified.credentials)
                scope["user"], scope["auth"] = user, auth
            elif access is _REQUIRED:
                if metrics is not None:
                    metrics.refused(ErrorCode.MISSING_TOKEN, time.perf_counter() - started)
                await self._reject(scope, receive, send, MissingToken())
                return
            else:
                claims = None
                scope["user"], scope["auth"] = UnauthenticatedUser(), AuthCredentials()
            # Per the ASGI spec each request gets its own copy of the lifespan state, so this is per request.
            state = scope.get("state")
            if state is None:
                scope["state"] = {"claims": claims}
            else:
                state["claims"] = claims
        await self.app(scope, receive, send)

    async def _refresh_due_keys(self) -> None:
        for source in self._refreshing:
            if source.refresh_due():
                await source.refresh_if_due()

    def _refusal(self, exc: Exception, token: bytes | None) -> AuthError:
        """The answer to a failure: its own, unless the header was malformed after all, or the failure is ours."""
        if token is not None and not is_b64token(token):
            # bearer_token() leaves the b64token check to here, where a token has failed: every token that passes
            # verification is a compact JWS, whose alphabet is a subset, so a hit need not scan it (~3k instr.).
            return ErrorCode.AUTHORIZATION_MALFORMED.refusal()
        if isinstance(exc, AuthError):
            return exc
        # No input may turn into a 500; log the kind of failure only (its text could quote the token).
        logger.error("unexpected %s while verifying a token", type(exc).__name__)
        return ErrorCode.TOKEN_INVALID.refusal()

    def health(self) -> Health:
        """Whether tokens can be verified now, and each provider's keys: count, age, staleness, last fetch.

        >>> middleware.health().ready
        True
        """
        return Health(tuple(map(health_of, self._provider_labels, self.key_sources)))

    async def _reject(self, scope: Scope, receive: Receive, send: Send, exc: AuthError) -> None:
        await self._refusals.report(scope, exc)
        if scope["type"] == "websocket":
            message = await receive()  # websocket.connect: the handshake waits for our answer
            if message["type"] != "websocket.connect":
                return
            if "websocket.http.response" not in scope.get("extensions", {}):
                await send({"type": "websocket.close", "code": 1008, "reason": exc.code})
                return
        if self._on_error is not None:
            response = self._on_error(HTTPConnection(scope), exc)
            if inspect.isawaitable(response):
                response = await response
            await response(scope, receive, send)  # a Response answers a websocket through the extension too
            return
        rendered = self._rendered.get((exc.code, exc.description))
        if rendered is None:
            rendered = self._rendered[exc.code, exc.description] = render(exc, self.settings.realm)
        status, headers, body = rendered
        # A new list each time: an outer middleware may append to it (a request id), and must not change the next.
        prefix = "http" if scope["type"] == "http" else "websocket.http"
        await send({"type": f"{prefix}.response.start", "status": status, "headers": list(headers)})
        await send({"type": f"{prefix}.response.body", "body": body})
