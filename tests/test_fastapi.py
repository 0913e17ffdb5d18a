"""jwt_middleware.fastapi: dependencies read the middleware's verdict, scopes answer RFC 6750, OpenAPI matches rules."""

from __future__ import annotations

import logging
import traceback
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import Depends, FastAPI, Security
from openapi_spec_validator import validate
from pydantic import BaseModel

from jwt_middleware import ConfigurationError, JWTMiddleware, JWTUser
from jwt_middleware.fastapi import (
    DOCS_EXEMPT,
    Claims,
    CurrentUser,
    OptionalClaims,
    claims_as,
    detail_response,
    docs_exempt,
    install_security,
    optional_claims,
    serve_swagger_ui,
    verified_claims,
)

from .conftest import AUDIENCE, ISSUER, bearer, signer_for

pytestmark = pytest.mark.anyio
HS = signer_for("HS256")


class Caller(BaseModel):
    sub: str
    tenant: str


def build_app(*, install: bool = True, detail_errors: bool = False, **options: Any) -> FastAPI:
    """A FastAPI app covering every dependency; `options` are JWTMiddleware keywords."""
    app = FastAPI()

    @app.get("/claims")
    async def claims_route(claims: Claims) -> dict[str, Any]:
        return {"sub": claims["sub"]}

    @app.get("/user")
    async def user_route(user: CurrentUser) -> dict[str, Any]:
        assert isinstance(user, JWTUser)
        return {"identity": user.identity}

    @app.get("/model")
    async def model_route(caller: Caller = Depends(claims_as(Caller))) -> dict[str, Any]:  # noqa: B008
        return {"tenant": caller.tenant}

    @app.get("/items/{item_id}")
    async def read_item(
        item_id: int,
        claims: dict[str, Any] = Security(verified_claims, scopes=["items:read"]),  # noqa: B008
    ) -> dict[str, Any]:
        return {"item": item_id}

    @app.delete("/items/{item_id}", dependencies=[Security(verified_claims, scopes=["items:read", "items:write"])])
    async def delete_item(item_id: int) -> dict[str, Any]:
        return {"deleted": item_id}

    @app.get("/catalog")
    async def catalog(claims: OptionalClaims) -> dict[str, Any]:
        return {"anonymous": claims is None}

    @app.get("/catalog/me")
    async def catalog_me(claims: Claims) -> dict[str, Any]:
        return {"sub": claims["sub"]}

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    options.setdefault("algorithms", ["HS256"])
    options.setdefault("key", HS.public)
    options.setdefault("issuer", ISSUER)
    options.setdefault("audience", AUDIENCE)
    options.setdefault("exempt", [*DOCS_EXEMPT, "/health"])
    options.setdefault("optional", ["/catalog/*"])
    app.add_middleware(JWTMiddleware, **options)
    if install:
        install_security(app, detail_errors=detail_errors)
    return app


async def client_of(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async for c in client_of(build_app()):
        yield c


async def test_claims_user_and_model_come_from_the_middleware(client: httpx.AsyncClient) -> None:
    headers = bearer(HS.token(tenant="acme"))
    assert (await client.get("/claims", headers=headers)).json() == {"sub": "user-1"}
    assert (await client.get("/user", headers=headers)).json() == {"identity": "user-1"}
    assert (await client.get("/model", headers=headers)).json() == {"tenant": "acme"}


async def test_without_a_token_the_middleware_answers_before_any_dependency(client: httpx.AsyncClient) -> None:
    response = await client.get("/claims")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="api"'
    assert response.json()["code"] == "missing_token"


async def test_a_model_that_does_not_fit_is_a_401_without_pydantic_text(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    token = HS.token(tenant=["zebra-value"])
    with caplog.at_level(logging.WARNING, logger="jwt_middleware"):
        response = await client.get("/model", headers=bearer(token))
    assert response.status_code == 401
    assert response.json() == {
        "error": "invalid_token",
        "error_description": "The token's claims do not fit this API.",
        "code": "claims_invalid",
    }
    assert response.headers["www-authenticate"].startswith('Bearer realm="api", error="invalid_token"')
    assert "zebra" not in response.text  # Pydantic's message would quote the input
    assert "valid string" not in response.text
    assert "fields tenant" in caplog.text
    assert token not in caplog.text
    assert "zebra" not in caplog.text


async def test_missing_claim_in_the_model_is_a_401(client: httpx.AsyncClient) -> None:
    response = await client.get("/model", headers=bearer(HS.token()))
    assert (response.status_code, response.json()["code"]) == (401, "claims_invalid")


@pytest.mark.parametrize(
    ("method", "granted", "status", "missing"),
    [
        ("GET", None, 403, ["items:read"]),
        ("GET", "items:read", 200, None),
        ("GET", "other items:read", 200, None),
        ("DELETE", "items:read", 403, ["items:write"]),
        ("DELETE", ["items:write", "items:read"], 200, None),
    ],
)
async def test_security_scopes_answer_rfc6750_insufficient_scope(
    client: httpx.AsyncClient, method: str, granted: Any, status: int, missing: list[str] | None
) -> None:
    token = (
        HS.token()
        if granted is None
        else HS.token(scope=granted)
        if isinstance(granted, str)
        else HS.token(scp=granted)
    )
    response = await client.request(method, "/items/7", headers=bearer(token))
    assert response.status_code == status
    if missing is None:
        return
    needed = "items:read" if method == "GET" else "items:read items:write"
    assert response.headers["www-authenticate"] == (
        'Bearer realm="api", error="insufficient_scope", '
        f'error_description="The token lacks a scope this route needs.", scope="{needed}"'
    )
    assert response.headers["cache-control"] == "no-store"
    assert response.json() == {
        "error": "insufficient_scope",
        "error_description": "The token lacks a scope this route needs.",
        "code": "insufficient_scope",
        "scope": needed,
        "missing_scopes": missing,
    }


async def test_optional_paths_give_none_or_claims_and_a_required_dependency_still_needs_a_token(
    client: httpx.AsyncClient,
) -> None:
    assert (await client.get("/catalog")).json() == {"anonymous": True}
    assert (await client.get("/catalog", headers=bearer(HS.token()))).json() == {"anonymous": False}
    refused = await client.get("/catalog/me")
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == 'Bearer realm="api"'
    assert refused.json()["code"] == "missing_token"
    assert (await client.get("/catalog/me", headers=bearer(HS.token()))).json() == {"sub": "user-1"}


async def test_a_bad_token_on_an_optional_path_is_refused_not_anonymous(client: httpx.AsyncClient) -> None:
    response = await client.get("/catalog", headers=bearer(HS.token(exp=1)))
    assert (response.status_code, response.json()["code"]) == (401, "token_expired")


async def test_detail_errors_give_fastapis_shape_and_keep_the_challenge() -> None:
    async for client in client_of(build_app(detail_errors=True, realm="orders")):
        response = await client.get("/items/1", headers=bearer(HS.token()))
        assert response.status_code == 403
        assert response.json()["detail"] == "The token lacks a scope this route needs."
        assert response.json()["missing_scopes"] == ["items:read"]
        assert response.headers["www-authenticate"].startswith('Bearer realm="orders", error="insufficient_scope"')


@pytest.mark.parametrize(
    ("headers", "status", "body", "challenge"),
    [
        ({}, 401, {"detail": "A bearer token is required.", "code": "missing_token"}, 'Bearer realm="orders"'),
        (
            bearer("abc.def"),
            401,
            {"detail": "The token is not a compact JWS.", "code": "token_malformed", "error": "invalid_token"},
            'Bearer realm="orders", error="invalid_token"',
        ),
        (
            {"Authorization": "Bearer a b"},
            400,
            {
                "detail": "The Authorization header is not 'Bearer <token>'.",
                "code": "authorization_malformed",
                "error": "invalid_request",
            },
            'Bearer realm="orders", error="invalid_request"',
        ),
    ],
)
async def test_detail_response_reshapes_middleware_refusals_and_keeps_www_authenticate(
    headers: dict[str, str], status: int, body: dict[str, str], challenge: str
) -> None:
    app = build_app(on_error=detail_response, realm="orders")
    async for client in client_of(app):
        response = await client.get("/claims", headers=headers)
        assert response.status_code == status
        assert response.json() == body
        assert response.headers["www-authenticate"].startswith(challenge)
        assert response.headers["cache-control"] == "no-store"
        assert int(response.headers["content-length"]) == len(response.content)


async def test_without_install_security_fastapi_answers_detail_with_the_challenge() -> None:
    async for client in client_of(build_app(install=False)):
        response = await client.get("/items/1", headers=bearer(HS.token()))
        assert response.status_code == 403
        assert response.json() == {"detail": "The token lacks a scope this route needs."}
        assert 'error="insufficient_scope"' in response.headers["www-authenticate"]


async def test_a_dependency_without_the_middleware_fails_closed_and_logs_the_fix(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = FastAPI()

    @app.get("/claims")
    async def claims_route(claims: Claims) -> dict[str, Any]:  # pragma: no cover - must never run
        return claims

    @app.get("/maybe")
    async def maybe(claims: dict[str, Any] | None = Depends(optional_claims)) -> Any:  # noqa: B008  # pragma: no cover
        return claims

    async for client in client_of(app):
        with caplog.at_level(logging.ERROR, logger="jwt_middleware"):
            for path in ("/claims", "/maybe"):
                response = await client.get(path, headers=bearer(HS.token()))
                assert response.status_code == 403
                assert response.json() == {"detail": "This route cannot check credentials."}
        assert "app.add_middleware(JWTMiddleware" in caplog.text
        assert HS.token() not in caplog.text


async def test_an_exempt_route_that_reads_claims_fails_closed_when_install_security_is_not_used() -> None:
    app = build_app(install=False, exempt=["/claims", "/user"])
    async for client in client_of(app):
        for path in ("/claims", "/user"):
            response = await client.get(path, headers=bearer(HS.token()))
            assert response.status_code == 403


async def test_install_security_refuses_to_start_an_app_reading_claims_on_an_exempt_path() -> None:
    app = build_app(exempt=[*DOCS_EXEMPT, "/health", "/items/*"])
    # The startup fails (the middleware's lifespan task group wraps the error in a group on its way out).
    with pytest.raises(BaseException) as info:  # noqa: PT011
        async with LifespanManager(app):
            pass  # pragma: no cover
    text = "".join(traceback.format_exception(info.value))
    assert "ConfigurationError: GET /items/{item_id} reads the token's claims" in text


async def test_install_security_refuses_a_template_exempt_for_some_of_its_paths() -> None:
    app = build_app(exempt=[*DOCS_EXEMPT, "/health", "GET /items/0"])
    with pytest.raises(ConfigurationError, match="for some or all of its paths"):
        app.openapi()


def test_install_security_validates_the_configuration_at_once() -> None:
    app = FastAPI()
    app.add_middleware(JWTMiddleware, issuer=ISSUER, audience=AUDIENCE, key=HS.public)
    with pytest.raises(ConfigurationError, match="algorithms must be listed explicitly"):
        install_security(app)


@pytest.mark.parametrize("count", [0, 2])
def test_install_security_needs_exactly_one_middleware(count: int) -> None:
    app = FastAPI()
    for _ in range(count):
        app.add_middleware(JWTMiddleware, algorithms=["HS256"], issuer=ISSUER, audience=AUDIENCE, key=HS.public)
    with pytest.raises(ConfigurationError, match=r"after app.add_middleware\(JWTMiddleware"):
        install_security(app)


def test_install_security_refuses_a_bad_scheme_name_and_an_oidc_scheme_without_discovery() -> None:
    with pytest.raises(ConfigurationError, match="scheme_name"):
        install_security(build_app(install=False), scheme_name="bad name")
    with pytest.raises(ConfigurationError, match="openid_connect=True"):
        install_security(build_app(install=False), openid_connect=True)


# What the OpenAPI document must say for each operation, given build_app's rules:
# exempt DOCS_EXEMPT + /health, optional /catalog/*, everything else required.
BEARER = "bearerAuth"
SECURITY_TABLE = [
    ("/claims", "get", [{BEARER: []}]),
    ("/user", "get", [{BEARER: []}]),
    ("/model", "get", [{BEARER: []}]),
    ("/items/{item_id}", "get", [{BEARER: ["items:read"]}]),
    ("/items/{item_id}", "delete", [{BEARER: ["items:read", "items:write"]}]),
    ("/catalog", "get", [{BEARER: []}, {}]),
    ("/catalog/me", "get", [{BEARER: []}]),  # optional path, but the route's dependency needs a token
    ("/health", "get", None),
]


def test_openapi_security_matches_the_rules_for_a_table_of_paths() -> None:
    schema = build_app().openapi()
    validate(schema)
    assert schema["components"]["securitySchemes"][BEARER] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "A JSON Web Token verified by jwt_middleware: paste the token itself, without 'Bearer '.",
    }
    for path, method, security in SECURITY_TABLE:
        assert schema["paths"][path][method].get("security") == security, (path, method)


@pytest.mark.parametrize(
    ("exempt", "optional", "template", "expected"),
    [
        (["/items/*"], [], "/things/{id}", [{BEARER: []}]),
        ([], ["/things/*"], "/things/{id}", [{BEARER: []}, {}]),
        ([], ["GET /things/*"], "/things/{id}", [{BEARER: []}, {}]),
        ([], ["POST /things/*"], "/things/{id}", [{BEARER: []}]),
        ([], ["/things/{id}"], "/things/{id}", [{BEARER: []}, {}]),  # a pattern that names the template itself
        ([], ["/things/special"], "/things/{id}", [{BEARER: []}, {}]),  # one real path is optional
        ([], ["/things/a/b"], "/things/{id}", [{BEARER: []}]),  # deeper than the template: no real path
        ([], ["/*"], "/things/{id}", [{BEARER: []}, {}]),
        ([], ["/files/x/*"], "/files/{rest:path}", [{BEARER: []}, {}]),
        ([], ["/things/1.json"], "/things/{id}.json", [{BEARER: []}, {}]),
        ([], ["/things/1.xml"], "/things/{id}.json", [{BEARER: []}]),
        (["/things/*"], [], "/things/{id}", None),
        (["/things/special"], [], "/things/{id}", [{BEARER: []}, {}]),  # exempt for one path: not always needed
        (["/"], [], "/", None),
        (["/"], [], "/things/{id}", [{BEARER: []}]),
    ],
)
def test_route_templates_are_judged_as_the_rules_judge_real_paths(
    exempt: list[str], optional: list[str], template: str, expected: Any
) -> None:
    app = FastAPI(openapi_url="/openapi.json")

    async def plain() -> None:  # pragma: no cover - only documented
        pass

    async def with_id(id: str) -> None:  # pragma: no cover - only documented
        pass

    async def with_rest(rest: str) -> None:  # pragma: no cover - only documented
        pass

    handler = with_rest if "{rest" in template else with_id if "{id" in template else plain
    app.add_api_route(template, handler, methods=["GET"])
    app.add_middleware(
        JWTMiddleware,
        algorithms=["HS256"],
        issuer=ISSUER,
        audience=AUDIENCE,
        key=HS.public,
        exempt=exempt,
        optional=optional,
    )
    install_security(app)
    schema = app.openapi()
    validate(schema)
    path = template.replace("{rest:path}", "{rest}")
    assert schema["paths"][path]["get"].get("security") == expected


def test_openid_connect_scheme_when_the_middleware_uses_discovery() -> None:
    app = build_app(install=False, key=None, issuer="https://login.example.com/", oidc_discovery=True)
    install_security(app)
    schema = app.openapi()
    validate(schema)
    assert schema["components"]["securitySchemes"]["bearerAuth-oidc"] == {
        "type": "openIdConnect",
        "openIdConnectUrl": "https://login.example.com/.well-known/openid-configuration",
    }
    assert schema["paths"]["/items/{item_id}"]["get"]["security"] == [
        {BEARER: ["items:read"]},
        {"bearerAuth-oidc": ["items:read"]},
    ]


def test_openapi_30_keeps_http_requirements_empty_and_other_schemes_survive() -> None:
    app = build_app(install=False)
    app.openapi_version = "3.0.2"
    install_security(app)
    schema = app.openapi()
    schema["paths"]["/claims"]["get"]["security"].append({"apiKey": []})
    assert schema["paths"]["/items/{item_id}"]["get"]["security"] == [{BEARER: []}]
    assert app.openapi() is schema  # cached: documented once


async def test_the_openapi_document_is_served_at_an_exempt_url(client: httpx.AsyncClient) -> None:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    assert response.json()["paths"]["/claims"]["get"]["security"] == [{BEARER: []}]


def test_docs_exempt_follows_moved_documentation_urls() -> None:
    assert docs_exempt(docs_url="/api/docs", redoc_url=None, openapi_url="/api/openapi.json", assets_url=None) == [
        "GET,HEAD /api/docs",
        "GET,HEAD /docs/oauth2-redirect",
        "GET,HEAD /api/openapi.json",
    ]
    assert list(DOCS_EXEMPT) == docs_exempt()


async def test_swagger_ui_is_served_locally_with_its_assets() -> None:
    app = FastAPI(docs_url=None)
    serve_swagger_ui(app)
    app.add_middleware(
        JWTMiddleware, algorithms=["HS256"], issuer=ISSUER, audience=AUDIENCE, key=HS.public, exempt=list(DOCS_EXEMPT)
    )
    install_security(app)
    async for client in client_of(app):
        page = await client.get("/docs")
        assert page.status_code == 200
        assert "/docs/assets/swagger-ui-bundle.js" in page.text
        assert "cdn" not in page.text.lower()
        assert (await client.get("/docs/assets/swagger-ui-bundle.js")).status_code == 200
        assert (await client.get("/docs/assets/swagger-ui.css")).status_code == 200
        assert "oauth2" in (await client.get("/docs/oauth2-redirect")).text.lower()
        assert (await client.post("/docs")).status_code == 401  # only reading the docs is exempt


def test_serve_swagger_ui_refuses_an_app_that_keeps_its_own_docs_or_has_no_openapi() -> None:
    with pytest.raises(ConfigurationError, match="docs_url=None"):
        serve_swagger_ui(FastAPI())
    with pytest.raises(ConfigurationError, match="openapi_url"):
        serve_swagger_ui(FastAPI(docs_url=None, openapi_url=None))


def test_serve_swagger_ui_says_which_package_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "fastapi_offline", None)
    with pytest.raises(ConfigurationError, match="fastapi-offline-docs"):
        serve_swagger_ui(FastAPI(docs_url=None))


async def test_dependencies_read_the_verdict_and_never_verify_again(monkeypatch: pytest.MonkeyPatch) -> None:
    from jwt_middleware import verify

    calls: list[int] = []
    original = verify.Verifier.verify

    async def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(verify.Verifier, "verify", counted)
    app = build_app()

    @app.get("/everything")
    async def everything(a: Claims, b: CurrentUser, c: Caller = Depends(claims_as(Caller))) -> dict[str, Any]:  # noqa: B008
        return {"same": a["sub"] == b.identity == c.sub}

    async for client in client_of(app):
        response = await client.get("/everything", headers=bearer(HS.token(tenant="t")))
        assert response.json() == {"same": True}
        assert len(calls) == 1


async def test_a_challenge_from_a_dependency_falls_back_to_the_default_realm_when_the_middleware_wraps_the_app() -> (
    None
):
    app = FastAPI()

    @app.get("/admin", dependencies=[Security(verified_claims, scopes=["admin"])])
    async def admin() -> dict[str, bool]:  # pragma: no cover - the token lacks the scope
        return {"admin": True}

    # Wrapped directly rather than added with add_middleware: the dependency cannot read the realm, and says "api".
    wrapped = JWTMiddleware(app, algorithms=["HS256"], key=HS.public, issuer=ISSUER, audience=AUDIENCE, realm="x")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=wrapped), base_url="http://testserver") as client:
        response = await client.get("/admin", headers=bearer(HS.token()))
    assert response.status_code == 403
    assert response.headers["www-authenticate"].startswith('Bearer realm="api", error="insufficient_scope"')


def test_dependencies_of_its_own_and_routes_missing_from_the_schema_leave_the_security_alone() -> None:
    def tenant() -> str:
        return "t-1"

    app = FastAPI()

    @app.get("/mixed", dependencies=[Depends(tenant)])
    async def mixed(claims: Claims) -> dict[str, Any]:  # pragma: no cover - only documented here
        return claims

    @app.get("/hidden", include_in_schema=False)
    async def hidden() -> None:  # pragma: no cover
        return None

    @app.get("/dropped")
    async def dropped(claims: Claims) -> dict[str, Any]:  # pragma: no cover
        return claims

    generated = app.openapi

    def without_dropped() -> dict[str, Any]:  # an app's own OpenAPI generator may leave operations out
        schema = generated()
        del schema["paths"]["/dropped"]
        return schema

    app.openapi = without_dropped  # type: ignore[method-assign]
    app.add_middleware(JWTMiddleware, algorithms=["HS256"], key=HS.public, issuer=ISSUER, audience=AUDIENCE,
                       exempt=DOCS_EXEMPT)  # fmt: skip
    install_security(app)
    schema = app.openapi()
    assert schema["paths"]["/mixed"]["get"]["security"] == [{BEARER: []}]
    assert "/hidden" not in schema["paths"]
    assert "/dropped" not in schema["paths"]
