"""OIDC discovery: the issuer's configuration names the JWKS, and is trusted only for exactly that issuer."""

from __future__ import annotations

import logging
from typing import Any

import anyio
import pytest
from asgi_lifespan import LifespanManager
from starlette.applications import Starlette
from starlette.routing import Route

from jwt_middleware import ConfigurationError, JWTMiddleware, Provider
from jwt_middleware.keys.discovery import discovery_url
from jwt_middleware.testing import LocalServer

from ..conftest import AUDIENCE, Signer, client_for, make_app, whoami
from ..helpers import hits_reach, jwk_of, status, status_becomes

pytestmark = pytest.mark.anyio

DISCOVERY = "/tenant/.well-known/openid-configuration"


def issuer_of(server: LocalServer) -> str:
    return f"{server.url}/tenant/"


def discovery_app(server: LocalServer, **options: Any) -> Starlette:
    options.setdefault("issuer", issuer_of(server))
    return make_app(algorithms=["ES256"], oidc_discovery=True, **options)


@pytest.mark.parametrize(
    ("issuer", "expected"),
    [
        ("https://login.example.com", "https://login.example.com/.well-known/openid-configuration"),
        ("https://login.example.com/", "https://login.example.com/.well-known/openid-configuration"),
        ("https://login.example.com/t/1/", "https://login.example.com/t/1/.well-known/openid-configuration"),
    ],
)
def test_the_document_is_under_the_issuer(issuer: str, expected: str) -> None:
    assert discovery_url(issuer) == expected


async def test_discovery_finds_the_keys(server: LocalServer, k1: Signer) -> None:
    issuer = issuer_of(server)
    server.jwks = {"keys": [jwk_of(k1)]}
    server.discovery = {"issuer": issuer, "jwks_uri": server.jwks_url}
    app = discovery_app(server, jwks_refresh_interval=3600)
    with anyio.fail_after(10):
        async with LifespanManager(app) as manager, client_for(manager.app) as client:
            assert await status(client, k1.token(iss=issuer)) == 200
    assert server.hits[DISCOVERY] == 1
    assert server.hits["/jwks.json"] == 1


@pytest.mark.parametrize("named", ["https://evil.test/tenant/", "{issuer}", "{issuer}x", None])
async def test_a_document_for_another_issuer_is_refused(
    server: LocalServer, k1: Signer, named: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    issuer = issuer_of(server)
    server.jwks = {"keys": [jwk_of(k1)]}
    # "{issuer}" without its trailing slash is another issuer: the comparison is exact (OIDC Discovery 4.3).
    shown = None if named is None else named.format(issuer=issuer.rstrip("/"))
    server.discovery = {"issuer": shown, "jwks_uri": server.jwks_url}
    app = discovery_app(server)
    with anyio.fail_after(10):
        async with LifespanManager(app) as manager, client_for(manager.app) as client:
            assert await status(client, k1.token(iss=issuer)) == 503
    assert server.hits["/jwks.json"] == 0  # the jwks_uri of a refused document is never fetched
    assert "for another issuer" in caplog.text
    assert any(r.levelname == "ERROR" and "refused" in r.getMessage() for r in caplog.records)


async def test_a_document_that_is_not_an_object_is_refused(
    server: LocalServer, k1: Signer, caplog: pytest.LogCaptureFixture
) -> None:
    server.discovery = [issuer_of(server)]  # type: ignore[assignment]
    app = discovery_app(server)
    with anyio.fail_after(10):
        async with LifespanManager(app) as manager, client_for(manager.app) as client:
            assert await status(client, k1.token(iss=issuer_of(server))) == 503
    assert "not a JSON object" in caplog.text


@pytest.mark.parametrize("jwks_uri", ["http://login.example.com/jwks.json", "ftp://127.0.0.1/jwks.json", 42, None])
async def test_an_unsafe_jwks_uri_is_refused(
    server: LocalServer, k1: Signer, jwks_uri: object, caplog: pytest.LogCaptureFixture
) -> None:
    issuer = issuer_of(server)
    server.discovery = {"issuer": issuer, "jwks_uri": jwks_uri}
    app = discovery_app(server)
    with anyio.fail_after(10):
        async with LifespanManager(app) as manager, client_for(manager.app) as client:
            assert await status(client, k1.token(iss=issuer)) == 503
    assert "jwks_uri" in caplog.text


async def test_discovery_survives_an_outage_and_follows_a_moved_jwks(
    server: LocalServer, k1: Signer, caplog: pytest.LogCaptureFixture
) -> None:
    issuer = issuer_of(server)
    server.jwks = {"keys": [jwk_of(k1)]}
    server.discovery = {"issuer": issuer, "jwks_uri": server.jwks_url}
    app = discovery_app(server, jwks_refresh_interval=0.1)
    with anyio.fail_after(10):
        async with LifespanManager(app) as manager, client_for(manager.app) as client:
            document = server.discovery
            server.discovery = None  # the document now answers 404
            await hits_reach(server, server.hits[DISCOVERY] + 2, DISCOVERY)
            await hits_reach(server, server.hits["/jwks.json"] + 1)
            assert await status(client, k1.token(iss=issuer)) == 200
            assert "keeping jwks_uri" in caplog.text

            server.discovery = {**document, "jwks_uri": f"{server.url}/other.json"}
            await hits_reach(server, 1, "/other.json")
            assert await status(client, k1.token(iss=issuer)) == 200


async def test_discovery_down_at_startup_is_retried(server: LocalServer, k1: Signer) -> None:
    issuer = issuer_of(server)
    server.jwks = {"keys": [jwk_of(k1)]}
    app = discovery_app(server, jwks_refresh_interval=0.1)
    with anyio.fail_after(10):
        async with LifespanManager(app) as manager, client_for(manager.app) as client:
            assert await status(client, k1.token(iss=issuer)) == 503
            server.discovery = {"issuer": issuer, "jwks_uri": server.jwks_url}

            await status_becomes(client, k1.token(iss=issuer), 200)


async def test_providers_can_use_discovery(server: LocalServer, k1: Signer) -> None:
    issuer = issuer_of(server)
    server.jwks = {"keys": [jwk_of(k1)]}
    server.discovery = {"issuer": issuer, "jwks_uri": server.jwks_url}
    app = Starlette(routes=[Route("/{path:path}", whoami)])
    providers = [
        Provider(issuer=issuer, audience=AUDIENCE, discovery=True),
        Provider(issuer="https://static.test/", audience=AUDIENCE, key="s" * 64),
    ]
    app.add_middleware(JWTMiddleware, algorithms=["ES256", "HS256"], providers=providers)
    with anyio.fail_after(10):
        async with LifespanManager(app) as manager, client_for(manager.app) as client:
            assert await status(client, k1.token(iss=issuer)) == 200
            assert await status(client, k1.token(iss="https://static.test/")) == 401


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"issuer": None, "audience": AUDIENCE}, "oidc_discovery=True needs issuer"),
        ({"issuer": "http://login.example.com/"}, r"issuer \(with oidc_discovery=True\) uses plain http"),
        ({"issuer": "https://login.example.com/", "jwks_url": "https://login.example.com/jwks"}, "exactly one of"),
        ({"issuer": "https://login.example.com/", "key": "s" * 64}, "exactly one of"),
    ],
)
def test_discovery_settings_are_checked(server: LocalServer, options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        discovery_app(server, **options).build_middleware_stack()


def test_a_provider_with_discovery_needs_an_issuer() -> None:
    app = Starlette()
    providers = [Provider(issuer=None, audience=AUDIENCE, discovery=True)]
    app.add_middleware(JWTMiddleware, algorithms=["ES256"], providers=providers)
    with pytest.raises(ConfigurationError, match=r"providers\[0\]\.discovery=True needs providers\[0\]\.issuer"):
        app.build_middleware_stack()


async def test_a_rediscovered_document_naming_the_same_keys_changes_nothing(
    server: LocalServer, k1: Signer, caplog: pytest.LogCaptureFixture
) -> None:
    issuer = issuer_of(server)
    server.jwks = {"keys": [jwk_of(k1)]}
    server.discovery = {"issuer": issuer, "jwks_uri": server.jwks_url}
    app = discovery_app(server, jwks_refresh_interval=0.05)
    caplog.set_level(logging.INFO, logger="jwt_middleware")
    with anyio.fail_after(10):
        async with LifespanManager(app) as manager, client_for(manager.app) as client:
            await hits_reach(server, 3, path=DISCOVERY)
            assert await status(client, k1.token(iss=issuer)) == 200
    assert caplog.text.count("names jwks_uri") == 1  # logged when it was learned, not at every rediscovery
