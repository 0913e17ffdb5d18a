"""The middleware through real Starlette apps: access rules, request.user/auth, RFC 6750 answers, websockets."""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.types import Message
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from jwt_middleware import AuthError, JWTMiddleware, JWTUser

from .conftest import AUDIENCE, ISSUER, app_for, bearer, client_for, signer_for, whoami
from .live_server import serve

pytestmark = pytest.mark.anyio

SIGNER = signer_for("ES256")


async def get(app: Any, path: str, method: str = "GET", **kwargs: Any) -> httpx.Response:
    async with client_for(app) as client:
        return await client.request(method, path, **kwargs)


async def test_missing_token_gets_a_bare_challenge() -> None:
    response = await get(app_for(SIGNER), "/orders")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="api"'
    assert response.json() == {"error_description": "A bearer token is required.", "code": "missing_token"}


async def test_realm_is_configurable() -> None:
    response = await get(app_for(SIGNER, realm="orders"), "/orders")
    assert response.headers["www-authenticate"] == 'Bearer realm="orders"'


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER", "bEaReR"])
async def test_scheme_is_case_insensitive(scheme: str) -> None:
    response = await get(app_for(SIGNER), "/", headers={"Authorization": f"{scheme} {SIGNER.token()}"})
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("Bearer", "authorization_malformed"),
        ("Bearer ", "authorization_malformed"),
        ("Bearer\ttab", "authorization_malformed"),
        ("Bearer \ttab", "authorization_malformed"),
        ("Bearer a b", "authorization_malformed"),
        ("Bearer tok\u00e9n", "authorization_malformed"),
    ],
)
async def test_malformed_authorization_is_400_invalid_request(value: str, code: str) -> None:
    response = await get(app_for(SIGNER), "/", headers=[("Authorization", value.encode("latin-1"))])
    assert response.status_code == 400
    assert response.json()["code"] == code
    assert response.headers["www-authenticate"].startswith('Bearer realm="api", error="invalid_request"')


async def test_several_authorization_headers_are_400() -> None:
    token = SIGNER.token()
    headers = [("Authorization", f"Bearer {token}"), ("Authorization", f"Bearer {token}")]
    response = await get(app_for(SIGNER), "/", headers=headers)
    assert response.status_code == 400
    assert response.json()["code"] == "multiple_authorization_headers"


async def test_several_spaces_after_the_scheme_are_allowed() -> None:
    # RFC 6750 section 2.1: credentials = "Bearer" 1*SP b64token.
    response = await get(app_for(SIGNER), "/", headers={"Authorization": f"Bearer   {SIGNER.token()}"})
    assert response.status_code == 200


async def test_other_schemes_count_as_no_bearer_token() -> None:
    response = await get(app_for(SIGNER), "/", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert response.status_code == 401
    assert response.json()["code"] == "missing_token"


async def test_exempt_paths_are_untouched_even_with_a_bad_token() -> None:
    app = app_for(SIGNER, exempt=["/health", "/docs/*"])
    for path in ("/health", "/docs", "/docs/a/b"):
        response = await get(app, path, headers=bearer("garbage"))
        assert response.status_code == 200, path
        assert response.json() == {"claims": "untouched", "user": None, "scopes": None}
    for path in ("/health/x", "/healthz", "/docsx"):
        assert (await get(app, path)).status_code == 401, path


async def test_method_patterns_only_exempt_those_methods() -> None:
    app = app_for(SIGNER, exempt=["GET,HEAD /items/*", "POST /hooks"])
    assert (await get(app, "/items/1")).status_code == 200
    assert (await get(app, "/items/1", method="DELETE")).status_code == 401
    assert (await get(app, "/hooks", method="POST")).status_code == 200
    assert (await get(app, "/hooks")).status_code == 401


async def test_optional_paths_verify_a_token_when_present() -> None:
    app = app_for(SIGNER, optional=["/catalog/*"])
    anonymous = await get(app, "/catalog/1")
    assert anonymous.status_code == 200
    assert anonymous.json() == {"claims": None, "user": None, "scopes": []}
    signed_in = await get(app, "/catalog/1", headers=bearer(SIGNER.token()))
    assert signed_in.json()["user"] == "user-1"
    # A bad token is still refused: "optional" never means "unchecked".
    expired = await get(app, "/catalog/1", headers=bearer(SIGNER.token(exp=1)))
    assert expired.status_code == 401


async def test_exempt_wins_over_optional_and_longest_prefix_first() -> None:
    app = app_for(SIGNER, exempt=["/public/*"], optional=["/public/*", "/public/me/*"])
    assert (await get(app, "/public/me/x")).json()["claims"] is None
    assert (await get(app, "/public/other")).json()["claims"] == "untouched"


async def test_rejections_from_an_inner_middleware_still_get_cors_headers() -> None:
    # JWTMiddleware added first sits inside CORSMiddleware, so browsers can read the 401.
    app = app_for(SIGNER)
    app.add_middleware(CORSMiddleware, allow_origins=["https://app.test"])
    response = await get(app, "/orders", headers={"Origin": "https://app.test"})
    assert response.status_code == 401
    assert response.headers["access-control-allow-origin"] == "https://app.test"


async def test_requires_decorator_sees_scopes() -> None:
    app = app_for(SIGNER)
    assert (await get(app, "/read", headers=bearer(SIGNER.token(scope="read")))).status_code == 200
    assert (await get(app, "/read", headers=bearer(SIGNER.token(scp=["read"])))).status_code == 200
    assert (await get(app, "/read", headers=bearer(SIGNER.token(scope="write")))).status_code == 403


async def test_patterns_match_inside_a_mount_and_under_root_path() -> None:
    inner = Starlette(routes=[Route("/{path:path}", whoami)])
    inner.add_middleware(
        JWTMiddleware, algorithms=["ES256"], issuer=ISSUER, audience=AUDIENCE, key=SIGNER.public, exempt=["/health"]
    )
    outer = Starlette(routes=[Mount("/api", app=inner)])
    assert (await get(outer, "/api/health")).status_code == 200
    assert (await get(outer, "/api/orders")).status_code == 401
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=inner, root_path="/prefix"), base_url="http://t"
    ) as c:
        assert (await c.get("/prefix/health")).status_code == 200
        assert (await c.get("/prefix/orders")).status_code == 401


async def test_custom_error_handler_shapes_the_answer() -> None:
    def on_error(connection: HTTPConnection, error: AuthError) -> Response:
        return JSONResponse({"message": error.code, "path": connection.url.path}, status_code=error.status_code)

    response = await get(app_for(SIGNER, on_error=on_error), "/orders", headers=bearer(SIGNER.token(exp=1)))
    assert response.status_code == 401
    assert response.json() == {"message": "token_expired", "path": "/orders"}


async def test_claims_are_a_copy_per_request() -> None:
    seen: list[dict[str, Any]] = []

    async def mutate(request: Any) -> PlainTextResponse:
        request.state.claims["sub"] = "hijacked"
        seen.append(request.state.claims)
        return PlainTextResponse("ok")

    app = Starlette(routes=[Route("/", mutate)])
    app.add_middleware(JWTMiddleware, algorithms=["ES256"], issuer=ISSUER, audience=AUDIENCE, key=SIGNER.public)
    token = SIGNER.token()
    await get(app, "/", headers=bearer(token))
    response = await get(app, "/", headers=bearer(token))  # served from the verified-token cache
    assert response.status_code == 200
    assert seen[0] is not seen[1]


async def test_rejections_are_logged_without_the_token(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="jwt_middleware")
    token = SIGNER.token(exp=1)
    await get(app_for(SIGNER), "/orders", headers=bearer(token))
    assert "token_expired" in caplog.text
    assert token.split(".")[1] not in caplog.text


async def test_unexpected_errors_inside_verification_become_401_not_500(caplog: pytest.LogCaptureFixture) -> None:
    async def broken_revocation_check(claims: Any) -> bool:
        raise RuntimeError("secret internals " + str(claims))

    token = SIGNER.token()
    response = await get(app_for(SIGNER, is_revoked=broken_revocation_check), "/", headers=bearer(token))
    assert response.status_code == 401
    assert response.json()["code"] == "token_invalid"
    assert "secret internals" not in response.text
    assert "secret internals" not in caplog.text
    assert "RuntimeError" in caplog.text


async def test_revocation_hook_runs_on_cache_hits_too() -> None:
    revoked: set[str] = set()

    async def is_revoked(claims: Any) -> bool:
        return claims.get("jti") in revoked

    app = app_for(SIGNER, is_revoked=is_revoked)
    token = SIGNER.token(jti="t-1")
    assert (await get(app, "/", headers=bearer(token))).status_code == 200
    revoked.add("t-1")
    response = await get(app, "/", headers=bearer(token))
    assert response.json()["code"] == "token_revoked"


async def test_cached_tokens_still_expire() -> None:
    app = app_for(SIGNER, leeway=0)
    middleware = app.build_middleware_stack()
    token = SIGNER.token(exp=2_000_000_000)
    async with client_for(middleware) as client:
        assert (await client.get("/", headers=bearer(token))).status_code == 200
    # Find our middleware in the stack and ask its verifier directly with a clock past expiry.
    layer: Any = middleware
    while not isinstance(layer, JWTMiddleware):
        layer = layer.app
    with pytest.raises(AuthError, match="expired"):
        await layer.verifier.verify(token, now=2_000_000_001)


async def test_other_scope_types_pass_through() -> None:
    calls: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        calls.append(scope["type"])

    middleware = JWTMiddleware(app, algorithms=["ES256"], issuer=ISSUER, audience=AUDIENCE, key=SIGNER.public)
    await middleware({"type": "custom"}, None, None)  # type: ignore[arg-type]
    assert calls == ["custom"]


async def test_websocket_through_uvicorn_accepts_a_valid_token_and_refuses_before_accept() -> None:
    async with serve(app_for(SIGNER), ws="websockets-sansio") as base_url:
        url = base_url.replace("http", "ws") + "/ws"
        async with connect(url, additional_headers=bearer(SIGNER.token())) as websocket:
            assert json.loads(await websocket.recv()) == {"sub": "user-1"}
        # uvicorn offers the websocket.http.response extension, so the refusal is the RFC 6750 answer itself.
        with pytest.raises(InvalidStatus) as refused:
            async with connect(url):
                pass  # pragma: no cover - the handshake never completes
        assert refused.value.response.status_code == 401
        assert refused.value.response.headers["www-authenticate"] == 'Bearer realm="api"'
        with pytest.raises(InvalidStatus) as expired:
            async with connect(url, additional_headers=bearer(SIGNER.token(exp=1))):
                pass  # pragma: no cover
        assert expired.value.response.status_code == 401
        assert b'"code":"token_expired"' in expired.value.response.body


async def test_websocket_without_the_extension_is_closed_with_1008() -> None:
    sent: list[Message] = []
    messages: list[Message] = [{"type": "websocket.connect"}]

    async def receive() -> Message:
        return messages.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "websocket", "path": "/ws", "headers": [], "root_path": ""}
    await app_for(SIGNER).build_middleware_stack()(scope, receive, send)
    assert sent == [{"type": "websocket.close", "code": 1008, "reason": "missing_token"}]


def test_jwt_user_names_itself_from_the_claims() -> None:
    user = JWTUser({"sub": "u-1", "preferred_username": "ada", "email": "ada@example.test"})
    assert (user.is_authenticated, user.identity, user.display_name) == (True, "u-1", "ada")
    assert JWTUser({"sub": "u-2", "email": "bo@example.test"}).display_name == "bo@example.test"
    assert JWTUser({"sub": "u-3"}).display_name == "u-3"
    assert JWTUser({"sub": 7}).identity == ""  # never a non-string identity
    assert repr(user) == "JWTUser(identity='u-1')"
