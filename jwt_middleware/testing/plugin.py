"""The pytest plugin, loaded by the `pytest11` entry point: fixtures for a local issuer, its server and a client.

Installing the package is enough. Define `jwt_app` (your app, configured with `jwt_issuer`) and use the rest;
override `jwt_issuer` in your conftest.py to choose its issuer, audience or algorithm.

    @pytest.fixture
    def jwt_app(jwt_issuer):
        return create_app(issuer=jwt_issuer.issuer, key=jwt_issuer.public_pem())

    @pytest.mark.jwt(scope="orders:read")
    def test_orders(jwt_client, jwt_headers):
        assert jwt_client.get("/orders", headers=jwt_headers).status_code == 200

Nothing here imports more than the package itself needs until a fixture is used: the plugin is loaded into
every pytest run of every project that installs jwt_middleware.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from .issuer import LocalIssuer

if TYPE_CHECKING:
    from .server import LocalServer

__all__ = ["jwt_client", "jwt_headers", "jwt_issuer", "jwt_server", "jwt_token", "pytest_configure"]

_MARKER = "jwt"


def pytest_configure(config: pytest.Config) -> None:
    # Registered so that suites running with --strict-markers accept it.
    config.addinivalue_line(
        "markers",
        f"{_MARKER}(**options): the token of the jwt_token / jwt_headers fixtures: LocalIssuer.token() keywords, "
        "e.g. scope='read', expires_in=-60, aud='someone-else', omit=['exp']",
    )


@pytest.fixture
def jwt_issuer() -> LocalIssuer:
    """A fresh `LocalIssuer` per test (issuer "https://issuer.test/", audience "api.test", RS256).

    Its first keys are the process's shared ones (`reuse_keys=True`), so tests do not each wait for an RSA key.
    """
    return LocalIssuer(reuse_keys=True)


@pytest.fixture
def jwt_server(jwt_issuer: LocalIssuer) -> Iterator[LocalServer]:
    """`jwt_issuer` served on 127.0.0.1 for `jwks_url=` / `oidc_discovery=True`; stopped after the test."""
    with jwt_issuer.serve() as server:
        yield server


@pytest.fixture
def jwt_token(request: pytest.FixtureRequest, jwt_issuer: LocalIssuer) -> str:
    """A token from `jwt_issuer`, shaped by the test's `@pytest.mark.jwt(...)` keywords (valid by default)."""
    if "jwt_server" in request.fixturenames:
        # Served first: an issuer without its own URL takes the server's, and the token's iss must match.
        request.getfixturevalue("jwt_server")
    marker = request.node.get_closest_marker(_MARKER)
    options: dict[str, Any] = {} if marker is None else dict(marker.kwargs)
    return jwt_issuer.token(**options)


@pytest.fixture
def jwt_headers(jwt_token: str) -> dict[str, str]:
    """`{"Authorization": "Bearer <jwt_token>"}`."""
    return {"Authorization": f"Bearer {jwt_token}"}


@pytest.fixture
def jwt_client(request: pytest.FixtureRequest) -> Iterator[httpx.Client]:
    """An `httpx.Client` for your `jwt_app` fixture, served on 127.0.0.1 with its lifespan (so keys are fetched).

    A real server rather than Starlette's TestClient: the request goes through the HTTP parsing, headers and
    lifespan your users meet.
    """
    from .server import serve_app

    app = request.getfixturevalue("jwt_app")
    with serve_app(app) as url, httpx.Client(base_url=url) as client:
        yield client
