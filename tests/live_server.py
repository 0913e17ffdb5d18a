"""A real uvicorn server on 127.0.0.1 (an ephemeral port), run as a task in the test's event loop."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import uvicorn


@asynccontextmanager
async def serve(app: Any, **config: Any) -> AsyncIterator[str]:
    """Serve `app` until the block ends; yields its base URL, e.g. "http://127.0.0.1:54321"."""
    config.setdefault("lifespan", "on")
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", **config))
    async with anyio.create_task_group() as task_group:
        task_group.start_soon(server.serve)
        with anyio.fail_after(10):
            while not server.started:  # noqa: ASYNC110 - uvicorn offers a flag, not an event
                await anyio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            server.should_exit = True


async def raw_get(base_url: str, path: str, headers: list[tuple[str, str]]) -> tuple[int, bytes]:
    """GET over a bare socket, with header values exactly as given (httpx refuses trailing whitespace, for one).

    Returns the status and the body; the request asks the server to close, so the read ends by itself.
    """
    host, port = base_url.removeprefix("http://").split(":")
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}", "Connection: close", *(f"{n}: {v}" for n, v in headers)]
    with anyio.fail_after(10):
        async with await anyio.connect_tcp(host, int(port)) as stream:
            await stream.send(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
            received = b""
            try:
                while chunk := await stream.receive():
                    received += chunk
            except anyio.EndOfStream:
                pass
    head, _, body = received.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body
