"""Shared fixtures: one signing key per algorithm, a token factory, and a small app behind the middleware."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from starlette.applications import Starlette
from starlette.authentication import requires
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from jwt_middleware import JWTMiddleware

if TYPE_CHECKING:
    from .jwks_server import JWKSServer

ISSUER = "https://issuer.test/"
AUDIENCE = "api.test"
ALGORITHMS = ["HS256", "RS256", "PS256", "ES256", "EdDSA"]


def b64url(data: bytes | str) -> str:
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class Signer:
    """Signs tokens for one algorithm; `public` is what the middleware is configured with."""

    alg: str
    private: Any
    public: Any
    public_pem: bytes | None = None
    kid: str | None = None
    extra_headers: dict[str, Any] = field(default_factory=dict)

    def claims(self, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {"iss": ISSUER, "aud": AUDIENCE, "sub": "user-1", "iat": now, "exp": now + 300}
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not ...}

    def token(
        self, claims: dict[str, Any] | None = None, headers: dict[str, Any] | None = None, **overrides: Any
    ) -> str:
        payload = self.claims(**overrides) if claims is None else claims
        all_headers = {**self.extra_headers, **({"kid": self.kid} if self.kid else {}), **(headers or {})}
        return jwt.encode(payload, self.private, algorithm=self.alg, headers=all_headers or None)

    def sign_raw(self, header: bytes | str, payload: bytes | str) -> str:
        """A token over exactly these header and payload bytes, validly signed: for strict-parsing tests."""
        signing_input = f"{b64url(header)}.{b64url(payload)}"
        algorithm = jwt.get_algorithm_by_name(self.alg)
        signature = algorithm.sign(signing_input.encode(), algorithm.prepare_key(self.private))
        return f"{signing_input}.{b64url(signature)}"


def _pem(public_key: Any) -> bytes:
    return public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def make_signer(alg: str) -> Signer:
    if alg.startswith("HS"):
        secret = b"s" * 64
        return Signer(alg, secret, secret)
    if alg[:2] in ("RS", "PS"):
        private: Any = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    elif alg == "ES256":
        private = ec.generate_private_key(ec.SECP256R1())
    elif alg == "EdDSA":
        private = ed25519.Ed25519PrivateKey.generate()
    else:  # pragma: no cover
        raise AssertionError(alg)
    return Signer(alg, private, private.public_key(), public_pem=_pem(private.public_key()))


_SIGNERS: dict[str, Signer] = {}


def signer_for(alg: str) -> Signer:
    """One key per algorithm for the whole session (RSA generation is slow); `PS256` shares the RSA key."""
    if alg not in _SIGNERS:
        if alg == "PS256" and "RS256" in _SIGNERS:
            rs = _SIGNERS["RS256"]
            _SIGNERS[alg] = Signer(alg, rs.private, rs.public, rs.public_pem)
        else:
            _SIGNERS[alg] = make_signer(alg)
    return _SIGNERS[alg]


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
def server() -> Iterator[JWKSServer]:
    """A real JWKS and discovery server on 127.0.0.1 (see jwks_server.py), stopped after the test."""
    from .jwks_server import JWKSServer  # imported late: jwks_server imports this module

    with JWKSServer() as server:
        yield server


@pytest.fixture(scope="module")
def k1() -> Signer:
    """An ES256 signer whose tokens carry kid "k1"."""
    from .jwks_server import keyed_signer

    return keyed_signer("k1")
