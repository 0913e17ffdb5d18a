"""The lifespan: remote keys are fetched at startup and refreshed until shutdown, with or without a lifespan at all."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx
import pytest
from asgi_lifespan import LifespanManager
from starlette.applications import Starlette
from starlette.types import Message, Receive, Scope, Send

from jwt_middleware import JWTMiddleware, JWTMiddlewareError
from jwt_middleware.testing import LocalServer

from .conftest import AUDIENCE, ISSUER, Signer, client_for, make_app, signer_for
from .helpers import hits_reach, jwk_of, status, status_becomes

pytestmark = pytest.mark.anyio


def remote_options(server: LocalServer, **options: Any) -> dict[str, Any]:
    return {"algorithms": ["ES256"], "jwks_url": server.jwks_url, **options}


async def test_startup_fetches_and_the_apps_own_lifespan_still_runs(server: LocalServer, k1: Signer) -> None:
    server.jwks = {"keys": [jwk_of(k1)]}
    events: list[str] = []

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        events.append(f"startup after {server.hits['/jwks.json']} fetches")
        yield {"answer": 42}
        events.append("shutdown")

    app = make_app(**remote_options(server))
    app.router.lifespan_context = lifespan
    with anyio.fail_after(10):
        async with LifespanManager(app) as manager, client_for(manager.app) as client:
            # The app's state, beside the middleware itself (published for readiness endpoints: see health.py).
            assert manager._state == {"answer": 42, "jwt_middleware": app.middleware_stack.app}  # type: ignore[union-attr]
            assert await status(client, k1.token()) == 200
    # The keys are fetched as lifespan.startup is received, so before the app's own startup code runs.
    assert events == ["startup after 1 fetches", "shutdown"]


async def test_shutdown_stops_refreshing_and_leaves_no_task_behind(server: LocalServer, k1: Signer) -> None:
    server.jwks = {"keys": [jwk_of(k1)]}
    app = make_app(**remote_options(server, jwks_refresh_interval=0.05))
    before = asyncio.all_tasks()
    with anyio.fail_after(10):
        async with LifespanManager(app) as manager, client_for(manager.app) as client:
            await hits_reach(server, 3)
            assert await status(client, k1.token()) == 200
        hits = server.hits["/jwks.json"]
        await anyio.sleep(0.3)
    assert server.hits["/jwks.json"] == hits
    assert asyncio.all_tasks() - before == set()


async def test_shutdown_is_prompt_while_the_endpoint_hangs(server: LocalServer, k1: Signer) -> None:
    server.jwks = {"keys": [jwk_of(k1)]}
    app = make_app(**remote_options(server, jwks_refresh_interval=0.05, jwks_timeout=30))
    with anyio.fail_after(10):
        async with LifespanManager(app):
            server.mode = "hang"
            await hits_reach(server, 2)
            started = anyio.current_time()
        # The refresh in flight is cancelled, not waited for: its 30 s timeout does not hold up the shutdown.
        assert anyio.current_time() - started < 2


async def test_the_lifespan_can_run_again(server: LocalServer, k1: Signer) -> None:
    server.jwks = {"keys": [jwk_of(k1)]}
    app = make_app(**remote_options(server, jwks_refresh_interval=3600))
    with anyio.fail_after(10):
        for expected_hits in (1, 2):
            async with LifespanManager(app) as manager, client_for(manager.app) as client:
                assert server.hits["/jwks.json"] == expected_hits
                assert await status(client, k1.token()) == 200


async def _no_lifespan_app(scope: Scope, receive: Receive, send: Send) -> None:
    assert scope["type"] == "http", "this app does not speak lifespan"
    body = b'{"ok": true}'
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"12")]})
    await send({"type": "http.response.body", "body": body})


async def test_an_app_without_lifespan_support_still_gets_its_keys(server: LocalServer, k1: Signer) -> None:
    server.jwks = {"keys": [jwk_of(k1)]}
    app = JWTMiddleware(_no_lifespan_app, issuer=ISSUER, audience=AUDIENCE, **remote_options(server))
    with anyio.fail_after(10):
        async with LifespanManager(app) as manager, client_for(manager.app) as client:
            assert server.hits["/jwks.json"] == 1
            assert await status(client, k1.token()) == 200
            assert await status(client, "not.a.token") == 401


async def test_without_a_lifespan_the_first_requests_share_one_fetch(server: LocalServer, k1: Signer) -> None:
    server.jwks = {"keys": [jwk_of(k1)]}
    app = make_app(**remote_options(server, jwks_refresh_interval=0.2, jwks_cooldown=3600))
    answers: list[int] = []
    with anyio.fail_after(10):
        async with client_for(app) as client:  # ASGITransport sends no lifespan events
            assert server.hits["/jwks.json"] == 0
            async with anyio.create_task_group() as task_group:
                for _ in range(50):
                    task_group.start_soon(lambda: _append_status(client, k1.token(), answers))
            assert answers == [200] * 50
            assert server.hits["/jwks.json"] == 1
            # Once the keys are due, one request refreshes them; no loop runs between requests.
            await anyio.sleep(0.3)
            assert server.hits["/jwks.json"] == 1
            answers.clear()
            async with anyio.create_task_group() as task_group:
                for _ in range(50):
                    task_group.start_soon(lambda: _append_status(client, k1.token(), answers))
            assert answers == [200] * 50
            assert server.hits["/jwks.json"] == 2


async def _append_status(client: httpx.AsyncClient, token: str, answers: list[int]) -> None:
    answers.append(await status(client, token))


async def test_without_a_lifespan_an_outage_is_retried_with_backoff(server: LocalServer, k1: Signer) -> None:
    server.jwks = {"keys": [jwk_of(k1)]}
    server.mode = "500"
    app = make_app(**remote_options(server, jwks_refresh_interval=0.2))
    with anyio.fail_after(10):
        async with client_for(app) as client:
            for _ in range(20):
                response = await client.get("/whoami", headers={"Authorization": f"Bearer {k1.token()}"})
                assert response.status_code == 503
                assert "retry-after" in response.headers
            assert server.hits["/jwks.json"] == 1  # the next attempt waits for the backoff, not the next request
            server.mode = "ok"

            await status_becomes(client, k1.token(), 200)


async def test_a_down_endpoint_does_not_stop_startup(server: LocalServer, k1: Signer) -> None:
    server.jwks = {"keys": [jwk_of(k1)]}
    server.stop()
    app = make_app(**remote_options(server, jwks_refresh_interval=0.1))
    with anyio.fail_after(10):
        async with LifespanManager(app) as manager, client_for(manager.app) as client:
            assert await status(client, k1.token()) == 503
            server.start()

            await status_becomes(client, k1.token(), 200)


async def test_a_hanging_endpoint_delays_startup_by_the_timeout_only(server: LocalServer, k1: Signer) -> None:
    server.mode = "hang"
    app = make_app(**remote_options(server, jwks_timeout=0.3))
    with anyio.fail_after(10):
        started = anyio.current_time()
        async with LifespanManager(app) as manager, client_for(manager.app) as client:
            assert anyio.current_time() - started < 2
            assert await status(client, k1.token()) == 503


async def test_strict_mode_fails_startup_without_keys(server: LocalServer) -> None:
    server.mode = "500"
    app = make_app(**remote_options(server, jwks_required_at_startup=True))
    with anyio.fail_after(10), pytest.raises(JWTMiddlewareError, match=r"jwks_required_at_startup=True .*HTTP 500"):
        async with LifespanManager(app):
            pass  # pragma: no cover


@pytest.mark.parametrize("with_lifespan", [True, False], ids=["starlette-app", "app-without-lifespan"])
async def test_strict_mode_answers_lifespan_startup_failed(server: LocalServer, with_lifespan: bool) -> None:
    server.mode = "garbage"
    options = remote_options(server, jwks_required_at_startup=True)
    if with_lifespan:
        app: Any = make_app(**options)
    else:
        app = JWTMiddleware(_no_lifespan_app, issuer=ISSUER, audience=AUDIENCE, **options)
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "lifespan.startup"}

    async def send(message: Message) -> None:
        sent.append(message)

    with anyio.fail_after(10), pytest.raises(JWTMiddlewareError):
        await app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send)
    assert [m["type"] for m in sent] == ["lifespan.startup.failed"]
    assert "not JSON" in sent[0]["message"]


async def test_strict_mode_starts_when_keys_arrive(server: LocalServer, k1: Signer) -> None:
    server.jwks = {"keys": [jwk_of(k1)]}
    app = make_app(**remote_options(server, jwks_required_at_startup=True))
    with anyio.fail_after(10):
        async with LifespanManager(app) as manager, client_for(manager.app) as client:
            assert await status(client, k1.token()) == 200


async def test_an_app_whose_own_startup_fails_fails_the_lifespan_with_its_own_error() -> None:
    async def failing_startup(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()  # lifespan.startup: the app speaks the protocol, then its own start-up breaks
        raise RuntimeError("the database is down")

    middleware = JWTMiddleware(
        failing_startup, algorithms=["ES256"], issuer=ISSUER, audience=AUDIENCE, key=signer_for("ES256").public
    )

    async def receive() -> Message:
        return {"type": "lifespan.startup"}

    async def send(message: Message) -> None:  # pragma: no cover - the app fails before it answers
        pass

    with pytest.raises(RuntimeError, match="the database is down"):
        await middleware({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send)
