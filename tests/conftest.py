"""Shared fixtures: one signing key per algorithm (from the testing kit), and a small app behind the middleware."""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.authentication import requires
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from jwt_middleware import JWTMiddleware
from jwt_middleware.testing import IssuerKey, LocalIssuer, LocalServer, make_key

pytest_plugins = ["pytester"]

ISSUER = "https://issuer.test/"
AUDIENCE = "api.test"
ALGORITHMS = ["HS256", "RS256", "PS256", "ES256", "EdDSA"]

# The one issuer of the suite: its defaults are the claims every test token starts from.
ISSUER_KIT = LocalIssuer(ISSUER, AUDIENCE)


def b64url(data: bytes | str) -> str:
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Signer:
    """A kit key with the suite's claim defaults, where a claim set to `...` is left out (`token(exp=...)`).

    Kept so the suite's tables read as before; signing is the kit's (`IssuerKey.sign`), this only shapes claims.
    """

    def __init__(self, key: IssuerKey) -> None:
        self.key = key
        self.alg = key.alg
        self.kid = key.kid
        self.private = key.private
        self.public = key.public
        self.public_pem = key.public_pem

    def claims(self, **overrides: Any) -> dict[str, Any]:
        claims = ISSUER_KIT.claims(**overrides)
        return {k: v for k, v in claims.items() if v is not ...}

    def token(
        self, claims: dict[str, Any] | None = None, headers: dict[str, Any] | None = None, **overrides: Any
    ) -> str:
        return self.key.sign(self.claims(**overrides) if claims is None else claims, headers)

    def sign_raw(self, header: bytes | str, payload: bytes | str) -> str:
        return self.key.sign_raw(header, payload)


def make_signer(alg: str, kid: str | None = None) -> Signer:
    """A fresh key for `alg` (tokens name `kid` if given)."""
    return Signer(make_key(alg, kid=kid))


def signer_for(alg: str) -> Signer:
    """The suite's key for `alg`, made once (RSA generation is slow; `PS256` shares the RSA key), tokens without kid."""
    return Signer(dataclasses.replace(ISSUER_KIT.key(alg), kid=None))


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(params=ALGORITHMS)
def signer(request: pytest.FixtureRequest) -> Signer:
    return signer_for(request.param)


async def whoami(request: Request) -> JSONResponse:
    user = request.scope.get("user")
    return JSONResponse(
        {
            "claims": request.state.claims if hasattr(request.state, "claims") else "untouched",
            "user": user.identity if user is not None and user.is_authenticated else None,
            "scopes": list(request.auth.scopes) if "auth" in request.scope else None,
        }
    )


@requires("read")
async def needs_read(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True})


async def echo_socket(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_json({"sub": websocket.state.claims["sub"]})
    await websocket.close()


def make_app(**options: Any) -> Starlette:
    """A small app behind the middleware; `options` are JWTMiddleware keywords (defaults fill the rest)."""
    routes = [
        Route("/read", needs_read),
        WebSocketRoute("/ws", echo_socket),
        Route("/{path:path}", whoami, methods=["GET", "POST", "DELETE", "OPTIONS", "PUT"]),
    ]
    app = Starlette(routes=routes)
    options.setdefault("issuer", ISSUER)
    options.setdefault("audience", AUDIENCE)
    app.add_middleware(JWTMiddleware, **options)
    return app


def app_for(signer: Signer, **options: Any) -> Starlette:
    options.setdefault("algorithms", [signer.alg])
    options.setdefault("key", signer.public)
    return make_app(**options)


def client_for(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def server() -> Iterator[LocalServer]:
    """The kit's JWKS and discovery server on 127.0.0.1, serving what the test sets; stopped after the test."""
    with LocalServer() as server:
        yield server


@pytest.fixture(scope="module")
def k1() -> Signer:
    """An ES256 signer whose tokens carry kid "k1"."""
    return make_signer("ES256", kid="k1")
