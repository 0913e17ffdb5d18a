"""Health for readiness probes, and /metrics and /ready served beside the middleware under uvicorn."""

from __future__ import annotations

from typing import Any

import anyio
import httpx
import pytest
from anyio.abc import TaskGroup
from prometheus_client import CollectorRegistry, make_asgi_app
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route

from jwt_middleware import JWTMiddleware, KeysUnavailable
from jwt_middleware.health import Health, health_of, readiness
from jwt_middleware.keys import KeySet
from jwt_middleware.metrics.prometheus import PrometheusMetrics
from jwt_middleware.testing import LocalServer

from .conftest import AUDIENCE, ISSUER, Signer, bearer, signer_for
from .helpers import jwk_of
from .live_server import serve

pytestmark = pytest.mark.anyio


async def orders(request: Request) -> PlainTextResponse:
    return PlainTextResponse("orders")


def operated_app(registry: CollectorRegistry, **options: Any) -> Starlette:
    """The README's example: /metrics and /ready are exempt on purpose, everything else needs a token."""
    app = Starlette(
        routes=[
            Route("/ready", readiness),
            Mount("/metrics", make_asgi_app(registry)),
            Route("/orders", orders),
        ]
    )
    app.add_middleware(
        JWTMiddleware,
        algorithms=["ES256"],
        issuer=ISSUER,
        audience=AUDIENCE,
        exempt=["GET /ready", "GET /metrics", "GET /metrics/*"],
        metrics=PrometheusMetrics(registry),
        **options,
    )
    return app


async def test_metrics_and_readiness_are_served_beside_the_middleware_under_uvicorn(
    server: LocalServer, k1: Signer
) -> None:
    server.jwks = {"keys": [jwk_of(k1)]}
    registry = CollectorRegistry()
    app = operated_app(registry, jwks_url=server.jwks_url)
    with anyio.fail_after(20):
        async with serve(app) as base_url, httpx.AsyncClient(base_url=base_url) as http:
            assert (await http.get("/orders")).status_code == 401
            assert (await http.get("/orders", headers=bearer(k1.token()))).status_code == 200
            ready = await http.get("/ready")
            scrape = await http.get("/metrics")  # Mount redirects /metrics to /metrics/
            if scrape.status_code == 307:
                scrape = await http.get("/metrics/")
            server.mode = "500"
    assert ready.status_code == 200
    body = ready.json()
    assert body["ready"] is True
    [provider] = body["providers"]
    assert {k: provider[k] for k in ("provider", "source", "keys", "usable", "last_fetch")} == {
        "provider": ISSUER,
        "source": "jwks",
        "keys": 1,
        "usable": True,
        "last_fetch": "updated",
    }
    assert scrape.status_code == 200
    assert 'jwt_middleware_refused_total{code="missing_token",status="401"} 1.0' in scrape.text
    assert 'jwt_middleware_accepted_total{cache="miss"} 1.0' in scrape.text
    assert "jwt_middleware_ready 1.0" in scrape.text


async def test_metrics_behind_the_middleware_by_accident_answer_401(k1: Signer) -> None:
    registry = CollectorRegistry()
    app = Starlette(routes=[Mount("/metrics", make_asgi_app(registry))])
    app.add_middleware(
        JWTMiddleware,
        algorithms=["ES256"],
        issuer=ISSUER,
        audience=AUDIENCE,
        key=k1.public,
        metrics=PrometheusMetrics(registry),
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        assert (await http.get("/metrics/")).status_code == 401  # what the exempt pattern in the example prevents


async def test_readiness_is_503_while_keys_are_missing_and_without_a_lifespan(server: LocalServer, k1: Signer) -> None:
    server.mode = "500"
    registry = CollectorRegistry()
    app = operated_app(registry, jwks_url=server.jwks_url)
    with anyio.fail_after(20):
        async with serve(app) as base_url, httpx.AsyncClient(base_url=base_url) as http:
            not_ready = await http.get("/ready")
        async with serve(app, lifespan="off") as base_url, httpx.AsyncClient(base_url=base_url) as http:
            no_lifespan = await http.get("/ready")
    assert not_ready.status_code == 503
    [provider] = not_ready.json()["providers"]
    assert (provider["usable"], provider["keys"], provider["age"], provider["last_fetch"]) == (False, 0, None, "failed")
    assert provider["last_problem"] == "HTTP 500"
    assert no_lifespan.status_code == 503
    assert no_lifespan.json()["problem"] == "no JWTMiddleware lifespan"


class NoKeysYet:
    """A key source of an application's own, that has no keys."""

    remote = False

    def current(self) -> KeySet:
        raise KeysUnavailable()

    def may_refresh_for_unknown_kid(self) -> bool:
        return False

    async def refresh_for_unknown_kid(self) -> KeySet | None:
        return None

    def on_fetch(self, listener: Any) -> None:  # pragma: no cover - no metrics here
        return None

    def on_new_keys(self, listener: Any) -> None:
        return None

    async def start(self, task_group: TaskGroup) -> None:
        return None

    def refresh_due(self) -> bool:
        return False

    async def refresh_if_due(self) -> None:
        return None

    async def aclose(self) -> None:
        return None


def test_health_of_static_keys_and_of_a_source_of_ones_own() -> None:
    signer = signer_for("ES256")
    middleware = JWTMiddleware(
        PlainTextResponse("x"), algorithms=["ES256"], issuer=None, audience=AUDIENCE, key=signer.public
    )
    health = middleware.health()
    assert health.ready
    # Without an issuer to name it, a provider is labelled by its index.
    assert [(p.provider, p.source, p.keys, p.usable, p.age) for p in health.providers] == [
        ("0", "static", 1, True, None)
    ]
    own = health_of("mine", NoKeysYet())
    assert (own.source, own.keys, own.usable) == ("NoKeysYet", 0, False)
    assert not Health((health.providers[0], own)).ready
    assert Health((own,)).as_dict() == {
        "ready": False,
        "providers": [
            {
                "provider": "mine",
                "source": "NoKeysYet",
                "keys": 0,
                "usable": False,
                "age": None,
                "staleness": 0.0,
                "last_fetch": None,
                "last_problem": None,
            }
        ],
    }
