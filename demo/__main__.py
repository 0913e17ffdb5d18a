"""`make demo`: a protected FastAPI app and its own identity provider, both on 127.0.0.1.

    python -m demo                 # serve until Ctrl+C, printing a token and curl commands to try
    python -m demo --check         # the same, but run the curl commands itself and exit (used by the tests)

The identity provider is the testing kit's `LocalIssuer`, served by its `LocalServer`: it publishes an OIDC discovery
document and a JWKS and signs tokens with a key made at start-up; the API verifies them with JWTMiddleware, fetching
the keys the way it would from Auth0 or Entra ID. (A demo may use the kit; production never should.)
Its /docs is Swagger UI (served locally) with an Authorize button: paste the printed token and try the routes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import shlex
import socket
import sys
import uuid
from typing import Any

import anyio
import httpx
import jwt
import uvicorn
from fastapi import FastAPI, Security

from jwt_middleware import JWTMiddleware
from jwt_middleware.fastapi import (
    DOCS_EXEMPT,
    Claims,
    OptionalClaims,
    install_security,
    serve_swagger_ui,
    verified_claims,
)
from jwt_middleware.testing import LocalIssuer, LocalServer

AUDIENCE = "orders-api"


def api(issuer: str) -> FastAPI:
    """The app a user would write, plus the lines that protect it and document that in /docs."""
    app = FastAPI(title="Demo orders API", docs_url=None)
    serve_swagger_ui(app)  # Swagger UI from the app itself: the demo needs no CDN

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/orders")
    async def orders(claims: Claims) -> dict[str, Any]:
        return {"orders": [], "for": claims["sub"], "claims": claims}

    @app.get("/catalog")
    async def catalog(claims: OptionalClaims) -> dict[str, Any]:
        return {"items": ["tea", "coffee"], "signed_in": claims is not None}

    @app.get("/admin", dependencies=[Security(verified_claims, scopes=["orders:admin"])])
    async def admin() -> dict[str, bool]:  # pragma: no cover - the demo token lacks the scope
        return {"admin": True}

    app.add_middleware(
        JWTMiddleware,
        algorithms=["RS256"],
        issuer=issuer,
        audience=AUDIENCE,
        oidc_discovery=True,  # reads {issuer}/.well-known/openid-configuration, then its jwks_uri
        exempt=[*DOCS_EXEMPT, "/health"],
        optional=["/catalog"],
    )
    # The demo issuer has no login page, so Swagger UI offers the paste-a-token (HTTP bearer) scheme only.
    install_security(app, openid_connect=False)
    return app


def _listening_socket(port: int) -> socket.socket:
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY on accepted connections only when it sees TCP here, and without
    # it every keep-alive request waited ~44 ms for the delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    return sock


def _token(idp: LocalIssuer, **options: Any) -> str:
    return idp.token(scope="orders:read", jti=str(uuid.uuid4()), **options)


def _tries(idp: LocalIssuer, api_url: str) -> list[tuple[str, str, dict[str, str], int]]:
    """(what it shows, path, headers, expected status): the curl commands the demo prints and --check runs."""
    good = _token(idp)
    expired = _token(idp, expires_in=-600)
    header, payload, signature = good.split(".")
    none_header = jwt.utils.base64url_encode(b'{"alg":"none"}').decode()
    claims = json.loads(jwt.utils.base64url_decode(payload))
    admin_claims = jwt.utils.base64url_encode(json.dumps({**claims, "sub": "admin"}).encode()).decode()
    unsigned = f"{none_header}.{payload}."
    tampered = f"{header}.{admin_claims}.{signature}"
    wrong_audience = _token(idp, aud="another-api")

    def auth(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    return [
        ("accepted: a valid token", "/orders", auth(good), 200),
        ("exempt: no token needed", "/health", {}, 200),
        ("optional: anonymous is fine", "/catalog", {}, 200),
        ("rejected: no token", "/orders", {}, 401),
        ("rejected: expired", "/orders", auth(expired), 401),
        ("rejected: alg none", "/orders", auth(unsigned), 401),
        ("rejected: tampered claims", "/orders", auth(tampered), 401),
        ("rejected: wrong audience", "/orders", auth(wrong_audience), 401),
        ("forbidden: missing scope", "/admin", auth(good), 403),
        ("docs: Swagger UI, exempt", "/docs", {}, 200),
    ]


def _print_instructions(idp: LocalIssuer, api_url: str, tries: list[tuple[str, str, dict[str, str], int]]) -> None:
    token = tries[0][2]["Authorization"].removeprefix("Bearer ")
    print(f"\nDemo API:        {api_url}   (protected by JWTMiddleware)")
    print(f"Demo issuer:     {idp.issuer}   (discovery + JWKS, key made at start-up)\n")
    print(f"A fresh token (valid for an hour):\n\n  export TOKEN={token}\n")
    print("Try these (expected status on the right):\n")
    for label, path, headers, status in tries:
        parts = ["curl", "-i"]
        for name, value in headers.items():
            value = "Bearer $TOKEN" if value == f"Bearer {token}" else value
            parts += ["-H", f"{name}: {value}"]
        command = " ".join(shlex.quote(p) if "$TOKEN" not in p else f'"{p}"' for p in [*parts, api_url + path])
        print(f"  # {label} -> {status}\n  {command}\n")
    print(f"Or open {api_url}/docs, press Authorize, paste the token, and try the routes.\n")
    print("Audit the API's JWT validation with jwt-probe (it fires ~300 forged tokens, at 25 a second):\n")
    print(f'  jwt-probe {api_url}/orders --token "$TOKEN" --jwks-url {idp.issuer}/.well-known/openid-configuration\n')
    print("Press Ctrl+C to stop.", flush=True)


async def _check(api_url: str, tries: list[tuple[str, str, dict[str, str], int]]) -> bool:
    ok = True
    async with httpx.AsyncClient(base_url=api_url, timeout=10) as client:
        for label, path, headers, expected in tries:
            response = await client.get(path, headers=headers)
            verdict = "ok" if response.status_code == expected else "UNEXPECTED"
            ok &= response.status_code == expected
            print(f"{verdict:>10}  {response.status_code}  {label}  {response.headers.get('www-authenticate', '')}")
    return ok


async def main(port: int, issuer_port: int, check: bool) -> int:
    api_socket, idp_socket = _listening_socket(port), _listening_socket(issuer_port)
    api_url = f"http://127.0.0.1:{api_socket.getsockname()[1]}"
    idp_port = idp_socket.getsockname()[1]
    idp = LocalIssuer(f"http://127.0.0.1:{idp_port}", audience=AUDIENCE, subject="alice", lifetime=3600)
    published = LocalServer(idp, port=idp_port)  # an ASGI app too: served here by the demo's own uvicorn
    published.cache_control = "public, max-age=300"
    servers = [
        uvicorn.Server(uvicorn.Config(published, log_level="warning", lifespan="off")),
        uvicorn.Server(uvicorn.Config(api(idp.issuer), log_level="warning")),
    ]
    tries = _tries(idp, api_url)
    status = 0
    async with anyio.create_task_group() as task_group:
        task_group.start_soon(servers[0].serve, [idp_socket])
        with anyio.fail_after(10):
            while not servers[0].started:  # noqa: ASYNC110 - uvicorn offers a flag, not an event
                await anyio.sleep(0.02)
        task_group.start_soon(servers[1].serve, [api_socket])
        with anyio.fail_after(10):
            while not servers[1].started:  # noqa: ASYNC110
                await anyio.sleep(0.02)
        if check:
            status = 0 if await _check(api_url, tries) else 1
            for server in servers:
                server.should_exit = True
        else:
            _print_instructions(idp, api_url, tries)
    return status


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8000, help="the API's port (0 picks a free one)")
    parser.add_argument("--issuer-port", type=int, default=8001, help="the identity provider's port")
    parser.add_argument("--check", action="store_true", help="run the example requests, report, and exit")
    arguments = parser.parse_args()
    # Ctrl+C ends the demo: Python 3.11+ raises KeyboardInterrupt out of the event loop, 3.10 CancelledError.
    with contextlib.suppress(KeyboardInterrupt, asyncio.CancelledError):
        sys.exit(anyio.run(main, arguments.port, arguments.issuer_port, arguments.check))
