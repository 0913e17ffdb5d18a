"""The ASGI apps that are timed: the bare apps, ours, the floor, and the usual alternatives.

Every app serves the same two routes (`/` and `/health`) with the same tiny PlainTextResponse, and every
alternative checks what our middleware checks where the library allows it (signature, exp, iss, aud).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Annotated, Any

import jwt
from fastapi import Depends, FastAPI, HTTPException, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.applications import Starlette
from starlette.authentication import AuthCredentials, AuthenticationBackend, AuthenticationError, SimpleUser
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from benchmarks.tokens import AUDIENCE, ISSUER, Signer

Decode = Callable[[str], dict[str, Any]]


async def _ok(request: Request) -> Response:
    return PlainTextResponse("ok")


def _routes() -> list[Route]:
    return [Route("/", _ok), Route("/health", _ok)]


def bare() -> ASGIApp:
    """The baseline: a Starlette app with no middleware of its own."""
    return Starlette(routes=_routes())


def bare_fastapi() -> FastAPI:
    """The baseline for the FastAPI-based alternatives, whose routing and dependency injection cost more."""
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    for path in ("/", "/health"):
        app.add_api_route(path, _ok, response_class=PlainTextResponse)
    return app


def ours(algorithm: str, key: str, *, cache_size: int = 4096, metrics: Any = None) -> ASGIApp:
    """The bare app behind JWTMiddleware, configured as the README shows, with /health exempt (and `metrics`)."""
    from jwt_middleware import JWTMiddleware

    app = Starlette(routes=_routes())
    app.add_middleware(
        JWTMiddleware,
        algorithms=[algorithm],
        issuer=ISSUER,
        audience=AUDIENCE,
        key=key,
        exempt=["/health"],
        cache_size=cache_size,
        metrics=metrics,
    )
    return app


def ours_remote(algorithm: str, jwks_url: str, *, cooldown: float = 30.0, refresh_interval: float = 300.0) -> ASGIApp:
    """The bare app behind JWTMiddleware with remote keys: fetched at lifespan startup, refreshed in the background."""
    from jwt_middleware import JWTMiddleware

    app = Starlette(routes=_routes())
    app.add_middleware(
        JWTMiddleware,
        algorithms=[algorithm],
        issuer=ISSUER,
        audience=AUDIENCE,
        jwks_url=jwks_url,
        jwks_cooldown=cooldown,
        jwks_refresh_interval=refresh_interval,
        exempt=["/health"],
    )
    return app


def floor(signer: Signer) -> ASGIApp:
    """Only the raw signature check. The harness puts the pre-decoded (signing input, signature) in the headers slot."""
    check = signer.check_signature

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        message, signature = scope["headers"]
        check(message, signature)

    return app


def _decoder(signer: Signer) -> Decode:
    key, algorithms = signer.verifying_key, [signer.algorithm]

    def decode(token: str) -> dict[str, Any]:
        claims: dict[str, Any] = jwt.decode(
            token, key, algorithms=algorithms, issuer=ISSUER, audience=AUDIENCE, options={"require": ["exp"]}
        )
        return claims

    return decode


def _bearer(authorization: str | None) -> str:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise jwt.InvalidTokenError("missing bearer token")
    return token


def _unauthorized() -> Response:
    return JSONResponse({"error": "invalid_token"}, status_code=401, headers={"WWW-Authenticate": "Bearer"})


class _PureASGIDecode:
    """A hand-written pure ASGI middleware around jwt.decode: what a careful user writes first."""

    def __init__(self, app: ASGIApp, decode: Decode) -> None:
        self.app = app
        self.decode = decode

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        authorization = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"authorization"), None)
        try:
            claims = self.decode(_bearer(authorization))
        except jwt.InvalidTokenError:
            await _unauthorized()(scope, receive, send)
            return
        scope.setdefault("state", {})["claims"] = claims
        await self.app(scope, receive, send)


class _BaseHTTPDecode(BaseHTTPMiddleware):
    def __init__(self, app: ASGIApp, decode: Decode) -> None:
        super().__init__(app)
        self.decode = decode

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        try:
            request.state.claims = self.decode(_bearer(request.headers.get("authorization")))
        except jwt.InvalidTokenError:
            return _unauthorized()
        return await call_next(request)


class _PyJWTBackend(AuthenticationBackend):
    def __init__(self, decode: Decode) -> None:
        self.decode = decode

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, SimpleUser]:
        try:
            claims = self.decode(_bearer(conn.headers.get("authorization")))
        except jwt.InvalidTokenError as exc:
            raise AuthenticationError("invalid_token") from exc
        return AuthCredentials(["authenticated"]), SimpleUser(claims["sub"])


def pure_asgi(signer: Signer) -> ASGIApp:
    app = Starlette(routes=_routes())
    app.add_middleware(_PureASGIDecode, decode=_decoder(signer))
    return app


def base_http(signer: Signer) -> ASGIApp:
    app = Starlette(routes=_routes())
    app.add_middleware(_BaseHTTPDecode, decode=_decoder(signer))
    return app


def authentication(signer: Signer) -> ASGIApp:
    app = Starlette(routes=_routes())
    app.add_middleware(
        AuthenticationMiddleware, backend=_PyJWTBackend(_decoder(signer)), on_error=lambda conn, exc: _unauthorized()
    )
    return app


_HTTP_BEARER = HTTPBearer()


async def _pyjwt_claims(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials, Depends(_HTTP_BEARER)]
) -> dict[str, Any]:
    try:
        claims: dict[str, Any] = request.app.state.decode(credentials.credentials)
    except jwt.InvalidTokenError as exc:
        raise HTTPException(401, "invalid_token", headers={"WWW-Authenticate": "Bearer"}) from exc
    return claims


def fastapi_depends(signer: Signer) -> ASGIApp:
    """The FastAPI tutorial pattern: `Depends(HTTPBearer())` then jwt.decode in a dependency."""
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.state.decode = _decoder(signer)
    app.add_api_route("/", _ok, response_class=PlainTextResponse, dependencies=[Depends(_pyjwt_claims)])
    app.add_api_route("/health", _ok, response_class=PlainTextResponse)
    return app


def starlette_jwt(signer: Signer) -> ASGIApp:
    """Third party: starlette-jwt's backend for Starlette's AuthenticationMiddleware (PyJWT; checks aud, not iss)."""
    from starlette_jwt import JWTAuthenticationBackend  # type: ignore[import-untyped]

    backend = JWTAuthenticationBackend(
        secret_key=signer.verifying_key,
        algorithm=signer.algorithm,
        prefix="Bearer",
        username_field="sub",
        audience=AUDIENCE,
    )
    app = Starlette(routes=_routes())
    app.add_middleware(AuthenticationMiddleware, backend=backend)
    return app


def fastapi_jwt(signer: Signer) -> ASGIApp:
    """Third party: fastapi-jwt's `JwtAccessBearer` dependency on Authlib (checks exp, not iss/aud)."""
    with warnings.catch_warnings():
        # fastapi-jwt 0.3 imports authlib.jose, which recent Authlib marks deprecated in favour of joserfc (through
        # an "always" filter that authlib.deprecate installs on import, hence that import before ours).
        import authlib.deprecate  # type: ignore[import-untyped]  # noqa: F401

        warnings.simplefilter("ignore")
        from fastapi_jwt import JwtAccessBearer

    access = JwtAccessBearer(secret_key=signer.configured_key, algorithm=signer.algorithm)
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.add_api_route("/", _ok, response_class=PlainTextResponse, dependencies=[Security(access)])
    app.add_api_route("/health", _ok, response_class=PlainTextResponse)
    return app


# name -> (factory, whether it is built on FastAPI and so compared with the bare FastAPI app)
ALTERNATIVES: dict[str, tuple[Callable[[Signer], ASGIApp], bool]] = {
    "pure ASGI + jwt.decode": (pure_asgi, False),
    "BaseHTTPMiddleware + jwt.decode": (base_http, False),
    "AuthenticationMiddleware + PyJWT": (authentication, False),
    "FastAPI Depends(HTTPBearer) + jwt.decode": (fastapi_depends, True),
    "starlette-jwt": (starlette_jwt, False),
    "fastapi-jwt (Authlib)": (fastapi_jwt, True),
}
