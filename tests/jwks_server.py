"""A real HTTP server on 127.0.0.1 that serves a mutable JWKS and discovery document, counts hits, and misbehaves.

uvicorn runs in a thread with its own event loop on an ephemeral port, so the code under test talks to it over
real sockets exactly as it would to an identity provider. Tests change `jwks`, `mode` or `discovery` as they go.

    with JWKSServer() as server:
        server.jwks = {"keys": [jwk]}
        ...  # JWTMiddleware(..., jwks_url=server.jwks_url)
        assert server.hits["/jwks.json"] == 1
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import httpx
import uvicorn
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm
from starlette.types import Receive, Scope, Send

from .conftest import Signer, bearer, make_signer

# ok: serve the JWKS; 500: an error; hang: answer nothing until the mode changes or the server stops;
# garbage: a 200 that is not JSON; empty: a valid JWKS without keys; huge: 10 MB of JSON-looking bytes;
# redirect: a 302 to /moved.json, which serves the JWKS (and counts the hit, so following it would show).
MODES = ("ok", "500", "hang", "garbage", "empty", "huge", "redirect")
HUGE_BYTES = 10 * 1024 * 1024
_CHUNK = 64 * 1024


class JWKSServer:
    """A JWKS endpoint at `jwks_url`, and an OIDC discovery document under any path at `url`."""

    def __init__(self) -> None:
        self.jwks: dict[str, Any] = {"keys": []}
        self.mode = "ok"
        self.cache_control: str | None = None
        self.discovery: dict[str, Any] | None = None  # served at */.well-known/openid-configuration
        self.hits: Counter[str] = Counter()
        self.huge_sent = 0  # bytes of the huge answer that were actually sent
        self.port = 0
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._stopping = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def jwks_url(self) -> str:
        return f"{self.url}/jwks.json"

    def __enter__(self) -> JWKSServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        """Listen on the port used before (so clients configured with `jwks_url` find it again), or a new one."""
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=self.port,
            lifespan="off",
            log_level="warning",
            access_log=False,
            loop="asyncio",
            interface="asgi3",
            timeout_graceful_shutdown=1,
        )
        self._server = server = uvicorn.Server(config)
        self._stopping = False
        self._thread = threading.Thread(target=server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 5
        while not server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():  # pragma: no cover
                raise RuntimeError("the JWKS server did not start")
            time.sleep(0.005)
        self.port = server.servers[0].sockets[0].getsockname()[1]

    def stop(self) -> None:
        """Stop listening: connections to the port are refused until `start()` again."""
        if self._server is None or self._thread is None:
            return
        self._stopping = True
        self._server.should_exit = True
        self._thread.join(timeout=5)
        assert not self._thread.is_alive(), "the JWKS server did not stop"
        self._server = self._thread = None

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        path = scope["path"]
        self.hits[path] += 1
        if path.endswith("/.well-known/openid-configuration"):
            if self.discovery is None:
                await _respond(send, 404, b"{}")
            else:
                await _respond(send, 200, json.dumps(self.discovery).encode(), self.cache_control)
            return
        if path == "/moved.json":
            await _respond(send, 200, json.dumps(self.jwks).encode())
            return
        if path not in ("/jwks.json", "/other.json"):
            await _respond(send, 404, b"{}")
            return
        mode = self.mode
        if mode == "hang":
            while self.mode == "hang" and not self._stopping:  # noqa: ASYNC110 - set from the test's thread
                await asyncio.sleep(0.01)
            await _respond(send, 503, b"{}")
        elif mode == "500":
            await _respond(send, 500, b'{"error":"internal"}')
        elif mode == "garbage":
            await _respond(send, 200, b"<html>\x00\xff not a JWKS")
        elif mode == "empty":
            await _respond(send, 200, b'{"keys":[]}')
        elif mode == "huge":
            await self._huge(send)
        elif mode == "redirect":
            headers = [(b"location", f"{self.url}/moved.json".encode()), (b"content-length", b"0")]
            await send({"type": "http.response.start", "status": 302, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
        else:
            await _respond(send, 200, json.dumps(self.jwks).encode(), self.cache_control)

    async def _huge(self, send: Send) -> None:
        # Streamed without a Content-Length, so only reading (and counting) can tell how large it is.
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        chunk = b'{"keys":[' + b" " * (_CHUNK - 9)
        sent = 0
        while sent < HUGE_BYTES and not self._stopping:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            sent += len(chunk)
            self.huge_sent = sent
            chunk = b" " * _CHUNK
            await asyncio.sleep(0)
        await send({"type": "http.response.body", "body": b"]}"})


async def _respond(send: Send, status: int, body: bytes, cache_control: str | None = None) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if cache_control is not None:
        headers.append((b"cache-control", cache_control.encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def keyed_signer(kid: str, alg: str = "ES256") -> Signer:
    """A fresh signer whose tokens name `kid`, for a key the server publishes with `jwk_of`."""
    return dataclasses.replace(make_signer(alg), kid=kid)


def jwk_of(signer: Signer, **members: Any) -> dict[str, Any]:
    """The public JWK of `signer`, as an identity provider publishes it."""
    algorithm: Any = RSAAlgorithm if signer.alg[:2] in ("RS", "PS") else ECAlgorithm
    if signer.alg == "EdDSA":
        algorithm = OKPAlgorithm
    jwk: dict[str, Any] = algorithm.to_jwk(signer.public, as_dict=True)
    return {**jwk, "kid": signer.kid, "alg": signer.alg, "use": "sig", **members}


async def status(client: httpx.AsyncClient, token: str) -> int:
    """The status of a GET with `token` through the app under test."""
    return (await client.get("/whoami", headers=bearer(token))).status_code


async def eventually(check: Callable[[], Awaitable[bool]], seconds: float = 3.0) -> None:
    """Wait until `check()` holds, failing the test after `seconds`."""
    with anyio.fail_after(seconds):
        while not await check():  # noqa: ASYNC110 - polling state that another thread or task changes
            await anyio.sleep(0.02)


async def status_becomes(client: httpx.AsyncClient, token: str, expected: int) -> None:
    """Wait until a request with `token` is answered `expected` (keys arriving, going stale, coming back)."""

    async def reached() -> bool:
        return await status(client, token) == expected

    await eventually(reached)


async def hits_reach(server: JWKSServer, count: int, path: str = "/jwks.json") -> None:
    """Wait until `server` has answered `path` at least `count` times."""

    async def reached() -> bool:
        return server.hits[path] >= count

    await eventually(reached)
