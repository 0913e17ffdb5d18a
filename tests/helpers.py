"""Helpers for tests against the kit's `LocalServer`: publishing a key, reading a status, waiting for a change."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import httpx

from jwt_middleware.testing import LocalServer

from .conftest import Signer, bearer, make_signer


def keyed_signer(kid: str, alg: str = "ES256") -> Signer:
    """A fresh signer whose tokens name `kid`, for a key the server publishes with `jwk_of`."""
    return make_signer(alg, kid=kid)


def jwk_of(signer: Signer, **members: Any) -> dict[str, Any]:
    """The public JWK of `signer`, as an identity provider publishes it."""
    return signer.key.jwk(**members)


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


async def hits_reach(server: LocalServer, count: int, path: str = "/jwks.json") -> None:
    """Wait until `server` has answered `path` at least `count` times."""

    async def reached() -> bool:
        return server.hits[path] >= count

    await eventually(reached)
