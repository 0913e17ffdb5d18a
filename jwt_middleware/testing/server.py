"""`LocalServer`: a real HTTP server on 127.0.0.1 that publishes a `LocalIssuer`, and misbehaves on request.

uvicorn runs in a thread with its own event loop on an ephemeral port, so the code under test talks to it over
real sockets exactly as it would to an identity provider, from sync or async tests alike.

    with LocalIssuer().serve() as server:          # or: async with ...
        JWTMiddleware(app, ..., jwks_url=server.jwks_url)
        assert server.hits["/jwks.json"] == 1

The fault knobs are plain attributes, changed while the server runs: `mode` (see `Mode`), `cache_control`,
and `jwks` / `discovery` to serve a document of your own instead of the issuer's. A `LocalServer` is also an
ASGI app, for a program that runs its own server: `uvicorn.Config(LocalServer(issuer, port=8001), port=8001)`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal, Protocol

import anyio.to_thread
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["HUGE_BYTES", "LocalServer", "Mode", "Published", "serve_app"]


class Published(Protocol):
    """What the server publishes: a `LocalIssuer`, or anything with its three members (the server needs no more)."""

    served_at: str | None

    def jwks(self) -> dict[str, Any]: ...

    def discovery(self, base_url: str) -> dict[str, Any]: ...


# ok: serve the JWKS; 500: an error; hang: answer nothing until the mode changes or the server stops;
# garbage: a 200 that is not JSON; empty: a valid JWKS without keys; huge: 10 MB of JSON-looking bytes;
# redirect: a 302 to /moved.json, which serves the JWKS (and counts the hit, so following it would show).
Mode = Literal["ok", "500", "hang", "garbage", "empty", "huge", "redirect"]
HUGE_BYTES = 10 * 1024 * 1024
_CHUNK = 64 * 1024
_START_SECONDS = 5.0


class LocalServer:
    """Serves a JWKS at `jwks_url` (and any other path ending in .json) and the discovery document at `url`.

    Give it an issuer to publish (`issuer.serve()` does), or none and set `jwks` / `discovery` yourself. The JWKS
    answer is chosen by `mode`; discovery and /moved.json always answer normally. `hits` counts requests by path,
    so two apps given two paths (`server.url + "/a.json"`) are counted apart.

    >>> server = LocalServer()
    >>> with server:
    ...     server.jwks = {"keys": [key.jwk()]}
    ...     server.mode = "500"                      # the next fetch fails
    """

    def __init__(self, issuer: Published | None = None, *, port: int = 0) -> None:
        self.issuer = issuer
        self.jwks: dict[str, Any] | None = None  # served instead of the issuer's JWKS when set
        self.discovery: dict[str, Any] | None = None  # served instead of the issuer's document when set
        self.mode: Mode = "ok"
        self.cache_control: str | None = None  # the Cache-Control of JWKS and discovery answers
        self.hits: Counter[str] = Counter()
        self.port = port  # 0: an ephemeral port, chosen at the first start and kept for restarts
        self._thread: _ThreadedServer | None = None
        self._stopping = False

    @property
    def url(self) -> str:
        """The base URL, e.g. "http://127.0.0.1:54321"; the issuer URL of a served issuer without its own."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def jwks_url(self) -> str:
        return f"{self.url}/jwks.json"

    def __enter__(self) -> LocalServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    async def __aenter__(self) -> LocalServer:
        await anyio.to_thread.run_sync(self.start)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await anyio.to_thread.run_sync(self.stop)

    def start(self) -> None:
        """Listen on the port used before (so clients configured with `jwks_url` find it again), or a new one."""
        self._stopping = False
        self._thread = _ThreadedServer(self, port=self.port, lifespan="off")
        self.port = self._thread.start()
        if self.issuer is not None:
            self.issuer.served_at = self.url

    def stop(self) -> None:
        """Stop listening: connections to the port are refused until `start()` again."""
        if self._thread is None:
            return
        self._stopping = True
        self._thread.stop()
        self._thread = None

    def current_jwks(self) -> dict[str, Any]:
        """What a normal JWKS answer serves now: `jwks` if set, else the issuer's, else an empty set."""
        if self.jwks is not None:
            return self.jwks
        return self.issuer.jwks() if self.issuer is not None else {"keys": []}

    def current_discovery(self) -> dict[str, Any] | None:
        """What the discovery path serves now: `discovery` if set, else the issuer's, else None (a 404)."""
        if self.discovery is not None:
            return self.discovery
        return self.issuer.discovery(self.url) if self.issuer is not None else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A LocalServer is also the ASGI app it serves, for a program that runs its own server (the demo)."""
        path = scope["path"]
        self.hits[path] += 1
        if path.endswith("/.well-known/openid-configuration"):
            discovery = self.current_discovery()
            if discovery is None:
                await _respond(send, 404, b"{}")
            else:
                await _respond(send, 200, json.dumps(discovery).encode(), self.cache_control)
            return
        if path == "/moved.json":
            await _respond(send, 200, json.dumps(self.current_jwks()).encode())
            return
        if not path.endswith(".json"):
            await _respond(send, 404, b"{}")
            return
        await self._jwks_answer(send)

    async def _jwks_answer(self, send: Send) -> None:
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
            await _respond(send, 200, json.dumps(self.current_jwks()).encode(), self.cache_control)

    async def _huge(self, send: Send) -> None:
        # Streamed without a Content-Length, so only reading (and counting) can tell how large it is.
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        chunk = b'{"keys":[' + b" " * (_CHUNK - 9)
        sent = 0
        while sent < HUGE_BYTES and not self._stopping:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            sent += len(chunk)
            chunk = b" " * _CHUNK
            await asyncio.sleep(0)
        await send({"type": "http.response.body", "body": b"]}"})


async def _respond(send: Send, status: int, body: bytes, cache_control: str | None = None) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if cache_control is not None:
        headers.append((b"cache-control", cache_control.encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@contextmanager
def serve_app(app: ASGIApp) -> Iterator[str]:
    """Serve `app` (lifespan included) on 127.0.0.1 from a thread until the block ends; yields its base URL.

    >>> with serve_app(app) as url, httpx.Client(base_url=url) as client:
    ...     client.get("/orders", headers=issuer.headers())
    """
    server = _ThreadedServer(app, port=0, lifespan="on")
    port = server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


class _ThreadedServer:
    """uvicorn in a thread with its own event loop, so sync and async tests alike can talk to it."""

    def __init__(self, app: ASGIApp, *, port: int, lifespan: Literal["on", "off"]) -> None:
        import uvicorn  # here, not at the top: `import jwt_middleware.testing` must work without the extra

        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            lifespan=lifespan,
            log_level="warning",
            access_log=False,
            loop="asyncio",
            interface="asgi3",
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, daemon=True, name="jwt_middleware.testing server")

    def _run(self) -> None:
        # uvicorn raises SystemExit when the app's startup fails; start() sees the thread end and says so.
        with contextlib.suppress(SystemExit):
            self._server.run()

    def start(self) -> int:
        """Start, wait until it listens (or fails to), and return its port."""
        self._thread.start()
        deadline = time.monotonic() + _START_SECONDS
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the server did not start (is the port in use, or did the app's startup fail?)")
            if time.monotonic() > deadline:  # pragma: no cover - a broken machine
                raise RuntimeError("the server did not start")
            time.sleep(0.005)
        port: int = self._server.servers[0].sockets[0].getsockname()[1]
        return port

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=_START_SECONDS)
        if self._thread.is_alive():  # pragma: no cover - a broken machine
            raise RuntimeError("the server did not stop")
