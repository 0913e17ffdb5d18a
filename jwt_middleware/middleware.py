"""`JWTMiddleware`: the ASGI entry point for http, websocket and lifespan scopes."""

from __future__ import annotations

import inspect
import ipaddress
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import anyio
import httpx
from starlette.authentication import AuthCredentials, UnauthenticatedUser
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import AuthError, InvalidRequest, InvalidToken, JWTMiddlewareError, MissingToken, Rendered, render
from .keys import KeySource
from .keys.discovery import Discovery
from .keys.jwks import JWKSKeys
from .keys.static import StaticKeys
from .rules import Access, Rules
from .settings import (
    DEFAULT_LEEWAY,
    DEFAULT_MAX_TOKEN_BYTES,
    DEFAULT_SCOPE_CLAIMS,
    REQUIRED,
    Provider,
    ScopeSource,
    Settings,
)
from .user import JWTUser
from .verify import Issuer, Verifier

__all__ = ["JWTMiddleware"]

logger = logging.getLogger("jwt_middleware")

_B64TOKEN = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/"
# Returns the response to send (a Starlette `Response`, or any ASGI app), directly or from a coroutine.
ErrorHandler = Callable[[HTTPConnection, AuthError], ASGIApp | Awaitable[ASGIApp]]


class JWTMiddleware:
    """Verify the bearer token of every request before routing, and put its claims in `request.state.claims`.

    >>> app.add_middleware(JWTMiddleware, algorithms=["RS256"], issuer="https://login.example.com/",
    ...                    audience="orders-api", key=public_key_pem, exempt=["/health"])

    Remote keys (`jwks_url=...` or `oidc_discovery=True`) are fetched at lifespan startup and refreshed in the
    background until shutdown; see `jwt_middleware.keys.jwks` for the schedule and for servers without a lifespan.
    `http_client` (advanced) is an `httpx.AsyncClient` to fetch with (proxies, CA bundles, tests); the middleware
    never closes it, and still refuses redirects and applies `jwks_timeout`.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        algorithms: Sequence[str] | None = None,
        issuer: str | object | None = REQUIRED,
        audience: str | Sequence[str] | object | None = REQUIRED,
        key: object = None,
        jwks_url: str | None = None,
        providers: Sequence[Provider] | None = None,
        exempt: Sequence[str] = (),
        optional: Sequence[str] = (),
        leeway: float = DEFAULT_LEEWAY,
        required_claims: Sequence[str] = ("exp",),
        max_age: float | None = None,
        typ: str | None = None,
        realm: str = "api",
        allow_preflight: bool = False,
        max_token_bytes: int = DEFAULT_MAX_TOKEN_BYTES,
        cache_size: int = 4096,
        scope_claims: Sequence[ScopeSource] = DEFAULT_SCOPE_CLAIMS,
        is_revoked: Callable[[Mapping[str, Any]], Awaitable[bool]] | None = None,
        on_error: ErrorHandler | None = None,
        require_tls: bool = False,
        oidc_discovery: bool = False,
        jwks_cooldown: float = 30.0,
        jwks_refresh_interval: float = 300.0,
        jwks_max_stale: float = 24 * 3600.0,
        jwks_timeout: float = 5.0,
        jwks_required_at_startup: bool = False,
        allow_insecure_http: bool = False,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self.app = app
        self.settings = Settings.build(
            algorithms=algorithms,
            issuer=issuer,
            audience=audience,
            key=key,
            jwks_url=jwks_url,
            providers=providers,
            leeway=leeway,
            required_claims=required_claims,
            max_age=max_age,
            typ=typ,
            realm=realm,
            exempt=exempt,
            optional=optional,
            allow_preflight=allow_preflight,
            require_tls=require_tls,
            max_token_bytes=max_token_bytes,
            cache_size=cache_size,
            scope_claims=scope_claims,
            oidc_discovery=oidc_discovery,
            jwks_cooldown=jwks_cooldown,
            jwks_refresh_interval=jwks_refresh_interval,
            jwks_max_stale=jwks_max_stale,
            jwks_timeout=jwks_timeout,
            jwks_required_at_startup=jwks_required_at_startup,
            allow_insecure_http=allow_insecure_http,
        )
        self._http_client = http_client
        self._rules = Rules(self.settings.exempt, self.settings.optional)
        self._require_tls = self.settings.require_tls
        self._sources: list[KeySource] = []
        self._remote: list[JWKSKeys] = []  # refreshed by requests while no lifespan runs
        issuers = []
        for provider in self.settings.providers:
            source = self._key_source(provider)
            self._sources.append(source)
            audiences = None if provider.audience is None else frozenset(provider.audience)
            issuers.append(Issuer(issuer=provider.issuer, audiences=audiences, keys=source))
        self._verifier = Verifier(self.settings, issuers, is_revoked=is_revoked)
        self._revocation = is_revoked is not None
        self._on_error = on_error
        # Refusals are a fixed set (each description is a constant, or names a configured claim), so their bytes
        # are rendered once; the headers are a tuple, and each answer sends a list of its own (see _reject).
        self._rendered: dict[tuple[type[AuthError], str, str], Rendered] = {}

    def _key_source(self, provider: Provider) -> KeySource:
        if provider.key is not None:
            return StaticKeys(provider.key, self.settings.algorithms)
        remote = self.settings.remote
        discovery = None
        if provider.discovery:
            assert provider.issuer is not None  # settings refuse discovery without an issuer
            discovery = Discovery(provider.issuer, allow_insecure_http=remote.allow_insecure_http)
        source = JWKSKeys(
            provider.jwks_url,
            algorithms=self.settings.algorithms,
            options=remote,
            discovery=discovery,
            http_client=self._http_client,
        )
        self._remote.append(source)
        return source

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope_type = scope["type"]
        if scope_type != "http" and scope_type != "websocket":
            if scope_type == "lifespan":
                await self._lifespan(scope, receive, send)
            else:
                await self.app(scope, receive, send)
            return
        access = self._rules.access(scope)
        if access is not Access.EXEMPT:
            # Written out here rather than in helpers: this runs on every request, and each call costs.
            claims: dict[str, Any] | None
            try:
                token = _bearer_token(scope)
                if token is not None:
                    if self._require_tls and not _sent_over_tls(scope):
                        raise InvalidRequest("https_required", "Bearer tokens must be sent over HTTPS.")
                    if self._remote:
                        await self._refresh_due_keys()
                    if self._revocation:  # every request asks the hook, so there is no synchronous path
                        verified = await self._verifier.verify(token)
                    else:
                        cached, digest = self._verifier.lookup(token, time.time())
                        verified = cached or await self._verifier.verify(token, digest=digest)
                    claims = verified.claims_for_request()  # the verdict is shared through the cache
                    scope["user"] = JWTUser(claims)
                    scope["auth"] = AuthCredentials(verified.credentials)
                elif access is Access.REQUIRED:
                    raise MissingToken()
                else:
                    claims = None
                    scope["user"] = UnauthenticatedUser()
                    scope["auth"] = AuthCredentials()
            except AuthError as exc:
                await self._reject(scope, receive, send, exc)
                return
            except Exception as exc:
                # No input may turn into a 500; log the kind of failure only (its text could quote the token).
                logger.error("jwt_middleware: unexpected %s while verifying a token", type(exc).__name__)
                invalid = InvalidToken("token_invalid", "The token could not be verified.")
                await self._reject(scope, receive, send, invalid)
                return
            # Per the ASGI spec each request gets its own copy of the lifespan state, so this is per request.
            state = scope.get("state")
            if state is None:
                scope["state"] = {"claims": claims}
            else:
                state["claims"] = claims
        await self.app(scope, receive, send)

    async def _refresh_due_keys(self) -> None:
        for source in self._remote:
            if source.refresh_due():  # only when no lifespan started the sources: see keys/jwks.py
                await source.refresh_if_due()

    async def _reject(self, scope: Scope, receive: Receive, send: Send, exc: AuthError) -> None:
        level = logging.WARNING if exc.code == "https_required" else logging.DEBUG
        logger.log(level, "refused %s %r: %s", scope["type"], scope["path"], exc.code)
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
        key = (type(exc), exc.code, exc.description)
        rendered = self._rendered.get(key)
        if rendered is None:
            rendered = self._rendered[key] = render(exc, self.settings.realm)
        status, headers, body = rendered
        # A new list each time: an outer middleware may append to it (a request id), and must not change the next.
        prefix = "http" if scope["type"] == "http" else "websocket.http"
        await send({"type": f"{prefix}.response.start", "status": status, "headers": list(headers)})
        await send({"type": f"{prefix}.response.body", "body": body})

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the app's lifespan, starting the key sources at startup and stopping them at shutdown.

        An app without lifespan support raises or returns before reading `lifespan.startup`; the middleware then
        speaks the protocol itself, so key refreshing works for any ASGI app.
        """
        started = False
        startup_error: JWTMiddlewareError | None = None

        try:
            async with anyio.create_task_group() as task_group:

                async def receive_and_act() -> Message:
                    nonlocal started, startup_error
                    message = await receive()
                    if message["type"] == "lifespan.startup":
                        started = True
                        try:
                            for source in self._sources:
                                await source.start(task_group)
                        except JWTMiddlewareError as exc:  # jwks_required_at_startup=True, and no keys came
                            # Raised from receive(), where an app (Starlette's router among them) does not
                            # expect a failure to answer: the startup failure is reported here, then raised.
                            startup_error = exc
                            await send({"type": "lifespan.startup.failed", "message": str(exc)})
                            raise
                    elif message["type"] == "lifespan.shutdown":
                        await self._stop_sources()
                    return message

                try:
                    await self.app(scope, receive_and_act, send)
                except Exception:
                    if started:
                        raise
                    await self._own_lifespan(receive_and_act, send)
                else:
                    if not started:
                        await self._own_lifespan(receive_and_act, send)
                finally:
                    task_group.cancel_scope.cancel()
                    with anyio.CancelScope(shield=True):
                        await self._stop_sources()
        except Exception:
            if startup_error is not None:
                raise startup_error from None  # the server reports our message, not a task group wrapping it
            raise

    async def _own_lifespan(self, receive: Receive, send: Send) -> None:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
            message = await receive()
        if message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})

    async def _stop_sources(self) -> None:
        for source in self._sources:
            await source.aclose()


def _bearer_token(scope: Scope) -> bytes | None:
    """The bearer token, or None when no `Authorization` header carries one (RFC 6750 section 2.1).

    `credentials = "Bearer" 1*SP b64token`, with the optional whitespace around a field value (RFC 9110 section
    5.5) ignored, since servers differ in whether they strip it: h11 does, httptools does not.
    """
    value: bytes | None = None
    for name, header_value in scope["headers"]:
        if name == b"authorization":
            if value is not None:
                raise InvalidRequest("multiple_authorization_headers", "Send one Authorization header.")
            value = header_value
    if value is None:
        return None
    value = value.strip(b" \t")
    if value[:6].lower() != b"bearer" or value[6:7] not in (b"", b" ", b"\t"):
        return None  # another scheme (Basic, ...): no bearer token, so the bare challenge answers it
    token = value[7:].lstrip(b" ")
    # b64token: 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="; deleting those must leave nothing.
    # "Bearer" alone, or a tab after it, is a bearer header we cannot parse: a 400, never an anonymous request.
    if value[6:7] != b" " or not token or token.rstrip(b"=").translate(None, _B64TOKEN):
        raise InvalidRequest("authorization_malformed", "The Authorization header is not 'Bearer <token>'.")
    return token


def _sent_over_tls(scope: Scope) -> bool:
    """Whether the token arrived over TLS, or from this machine (RFC 6750 section 5.3 asks for TLS)."""
    if scope.get("scheme") in ("https", "wss"):
        return True
    client = scope.get("client")
    return client is not None and _is_loopback(client[0])


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
