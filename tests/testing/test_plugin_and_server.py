"""The pytest plugin (run in a pytester session), the README's example file, and the LocalServer's serving."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest

from jwt_middleware.testing import LocalIssuer
from jwt_middleware.testing.server import serve_app

from ..conftest import client_for, make_app

EXAMPLES = Path(__file__).parents[2] / "examples"


def test_the_readme_example_passes(pytester: pytest.Pytester) -> None:
    for name in ("fastapi_app.py", "test_fastapi_app.py"):
        shutil.copy(EXAMPLES / name, pytester.path / name)
    pytester.runpytest("-p", "no:cacheprovider", "--strict-markers").assert_outcomes(passed=5)


PLUGIN_TESTS = """
import jwt
import pytest
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from jwt_middleware import JWTMiddleware


async def me(request):
    return JSONResponse({"sub": request.user.identity, "scopes": sorted(request.auth.scopes)})


@pytest.fixture
def jwt_app(jwt_issuer, jwt_server):
    app = Starlette(routes=[Route("/me", me)])
    app.add_middleware(JWTMiddleware, algorithms=["RS256"], issuer=jwt_issuer.issuer, audience="api.test",
                       oidc_discovery=True)
    return app


@pytest.mark.jwt(sub="alice", scope="read")
def test_marker_shapes_the_token(jwt_client, jwt_headers, jwt_server):
    assert jwt_client.get("/me", headers=jwt_headers).json() == {"sub": "alice", "scopes": ["authenticated", "read"]}
    assert jwt_server.hits["/.well-known/openid-configuration"] == 1


def test_default_token_is_valid(jwt_client, jwt_headers):
    assert jwt_client.get("/me", headers=jwt_headers).status_code == 200


@pytest.mark.jwt(expires_in=-3600)
def test_expired_is_refused(jwt_client, jwt_headers):
    assert jwt_client.get("/me", headers=jwt_headers).json()["code"] == "token_expired"


def test_a_token_without_a_server(jwt_token):
    claims = jwt.decode(jwt_token, options={"verify_signature": False})
    assert (claims["iss"], claims["aud"]) == ("https://issuer.test/", "api.test")


def test_token_minted_after_the_server_starts_whatever_the_order(jwt_headers, jwt_client, jwt_issuer, jwt_server):
    assert jwt_issuer.issuer == jwt_server.url
    assert jwt_client.get("/me", headers=jwt_headers).status_code == 200
"""


def test_plugin_fixtures_and_marker(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plugin=PLUGIN_TESTS)
    result = pytester.runpytest("-p", "no:cacheprovider", "--strict-markers", "-W", "error")
    result.assert_outcomes(passed=5)


def test_the_marker_is_registered(pytester: pytest.Pytester) -> None:
    assert any(line.startswith("@pytest.mark.jwt(") for line in pytester.runpytest("--markers").outlines)


def test_server_publishes_the_issuer_at_its_own_url_and_restarts_on_the_same_port() -> None:
    issuer = LocalIssuer(algorithm="ES256")
    server = issuer.serve()
    with server:
        assert issuer.issuer == server.url
        with httpx.Client() as client:
            document = client.get(server.url + "/.well-known/openid-configuration").json()
            assert document == issuer.discovery(server.url)
            assert client.get(server.jwks_url).json() == issuer.jwks()
            assert client.get(server.url + "/moved.json").json() == issuer.jwks()
            assert client.get(server.url + "/nothing").status_code == 404
        port = server.port
    server.stop()  # stopping twice is harmless
    with server:
        assert server.port == port
    assert issuer.issuer == server.url  # kept after it stops, so tokens minted later still match
    with LocalIssuer().serve(port=port) as fixed:
        assert fixed.url == f"http://127.0.0.1:{port}"


@pytest.mark.anyio
async def test_async_server_for_jwks_url_with_a_rotation() -> None:
    issuer = LocalIssuer(algorithm="ES256")
    async with issuer.serve() as server:
        server.cache_control = "max-age=60"
        app = make_app(algorithms=["ES256"], issuer=issuer.issuer, jwks_url=server.jwks_url, allow_insecure_http=True)
        async with client_for(app) as client:
            assert (await client.get("/x", headers=issuer.headers())).status_code == 200
            old = issuer.key()
            issuer.rotate(retire=True)
            assert (await client.get("/x", headers=issuer.headers())).status_code == 200
            assert server.current_jwks() == issuer.jwks()
            assert old.kid not in {k["kid"] for k in server.current_jwks()["keys"]}


def test_serve_app_reports_a_failed_startup() -> None:
    # Remote keys required at start-up, from a port nothing listens on: the app's startup fails.
    app = make_app(algorithms=["ES256"], jwks_url="http://127.0.0.1:9/jwks.json", jwks_required_at_startup=True)
    with pytest.raises(RuntimeError, match="did not start"), serve_app(app):
        pass  # pragma: no cover - never reached


def test_serve_app_serves_with_its_lifespan() -> None:
    issuer = LocalIssuer(algorithm="EdDSA")
    app = make_app(algorithms=["EdDSA"], issuer=issuer.issuer, key=issuer.public_key())
    with serve_app(app) as url, httpx.Client(base_url=url) as client:
        assert client.get("/x", headers=issuer.headers()).status_code == 200
        assert client.get("/x").status_code == 401


def test_the_readme_shows_the_example_as_it_is_run() -> None:
    readme = (EXAMPLES.parent / "README.md").read_text()
    assert f"```python\n{(EXAMPLES / 'test_fastapi_app.py').read_text()}```" in readme
