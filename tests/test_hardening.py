"""Regression tests for the outside review's findings (issue 8): the HTTP layer around the JWT checks.

Each test names the finding it guards. Those that depend on how a real server parses requests run through
uvicorn on 127.0.0.1 with both of its HTTP parsers, h11 and httptools.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.authentication import requires
from starlette.endpoints import HTTPEndpoint
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jwt_middleware import AuthError, ConfigurationError, JWTMiddleware, Provider

from .conftest import AUDIENCE, ISSUER, b64url, bearer, client_for, make_signer, signer_for
from .live_server import raw_get, serve

pytestmark = pytest.mark.anyio

SIGNER = signer_for("ES256")
HS = signer_for("HS256")
PARSERS = ["h11", "httptools"]
PREFLIGHT = {"Origin": "https://app.test", "Access-Control-Request-Method": "GET"}


def protect(app: Starlette | FastAPI, **options: Any) -> None:
    options.setdefault("algorithms", ["ES256"])
    options.setdefault("key", SIGNER.public)
    app.add_middleware(JWTMiddleware, issuer=ISSUER, audience=AUDIENCE, **options)


# Finding 1 (critical): a CORS preflight must never carry an unauthenticated request to a handler.


class Metrics:
    """Like `prometheus_client.make_asgi_app()`: answers every method, OPTIONS included, with its data."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await PlainTextResponse("secret_metric_total 42\n")(scope, receive, send)


class Endpoint(HTTPEndpoint):
    async def get(self, request: Request) -> Response:
        return PlainTextResponse("endpoint-get")

    async def options(self, request: Request) -> Response:
        return PlainTextResponse("endpoint-options-secret")


@requires("admin")
async def admin_options(request: Request) -> Response:
    return PlainTextResponse("admin-options-secret")


def handlers_that_serve_options() -> Starlette:
    app = Starlette(
        routes=[
            Mount("/metrics", app=Metrics()),
            Route("/endpoint", Endpoint),
            Route("/admin", admin_options, methods=["OPTIONS"]),
        ]
    )
    protect(app)
    return app


def fastapi_route_serving_options() -> FastAPI:
    app = FastAPI()

    @app.api_route("/orders", methods=["GET", "OPTIONS"])
    async def orders() -> dict[str, str]:
        return {"orders": "secret-orders"}

    protect(app)
    return app


@pytest.mark.parametrize("http", PARSERS)
@pytest.mark.parametrize("headers", [PREFLIGHT, {"Access-Control-Request-Method": "GET"}], ids=["origin", "bare"])
async def test_preflight_shaped_requests_never_reach_a_handler_that_serves_options(
    http: str, headers: dict[str, str]
) -> None:
    async with serve(handlers_that_serve_options(), http=http) as url, httpx.AsyncClient(base_url=url) as client:
        for path in ("/metrics", "/metrics/", "/endpoint", "/admin"):
            response = await client.options(path, headers=headers)
            assert response.status_code == 401, path
            assert "secret" not in response.text, path
            assert response.json()["code"] == "missing_token"
        # A route that does not exist looks the same as one that does: the refusal comes before routing.
        assert (await client.options("/nowhere", headers=headers)).status_code == 401


@pytest.mark.parametrize("http", PARSERS)
async def test_preflight_to_a_fastapi_route_that_serves_options_is_refused(http: str) -> None:
    async with serve(fastapi_route_serving_options(), http=http) as url, httpx.AsyncClient(base_url=url) as client:
        response = await client.options("/orders", headers=PREFLIGHT)
        assert response.status_code == 401
        assert "secret-orders" not in response.text


async def test_a_lowercase_options_method_is_not_special_either() -> None:
    async with client_for(handlers_that_serve_options()) as client:
        response = await client.request("options", "/endpoint", headers=PREFLIGHT)
    assert response.status_code == 401
    assert "secret" not in response.text


def test_the_old_preflight_pass_through_is_refused_by_name() -> None:
    with pytest.raises(ConfigurationError, match="allow_preflight") as refused:
        JWTMiddleware(
            Starlette(), algorithms=["ES256"], issuer=ISSUER, audience=AUDIENCE, key=SIGNER.public, allow_preflight=True
        )
    assert "CORSMiddleware" in str(refused.value)


def cors_in_front(handler_calls: list[str]) -> Starlette:
    async def orders(request: Request) -> Response:
        handler_calls.append(request.method)
        return JSONResponse({"sub": request.state.claims["sub"]})

    app = Starlette(routes=[Route("/orders", orders, methods=["GET", "OPTIONS"])])
    protect(app)
    # Added after JWTMiddleware, so it is the outer layer: it answers preflights and decorates our 401s.
    app.add_middleware(
        CORSMiddleware, allow_origins=["https://app.test"], allow_methods=["GET"], allow_headers=["authorization"]
    )
    return app


@pytest.mark.parametrize("http", PARSERS)
async def test_the_documented_cors_order_lets_a_browser_see_the_401(http: str) -> None:
    calls: list[str] = []
    async with serve(cors_in_front(calls), http=http) as url, httpx.AsyncClient(base_url=url) as client:
        preflight = await client.options(
            "/orders", headers={**PREFLIGHT, "Access-Control-Request-Headers": "authorization"}
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "https://app.test"
        actual = await client.get("/orders", headers={"Origin": "https://app.test", **bearer("not-a-token")})
        assert actual.status_code == 401
        assert actual.headers["access-control-allow-origin"] == "https://app.test"
        assert actual.headers["www-authenticate"].startswith('Bearer realm="api", error="invalid_token"')
        good = await client.get("/orders", headers={"Origin": "https://app.test", **bearer(SIGNER.token())})
        assert good.json() == {"sub": "user-1"}
    assert calls == ["GET"]  # the preflight never reached the handler


# Finding 2: claims are isolated per request, at every depth, and the cached verdict stays as signed.


async def test_nested_claims_changed_by_a_handler_do_not_leak_into_the_next_request() -> None:
    seen: list[Any] = []

    async def escalate(request: Request) -> Response:
        seen.append(json.loads(json.dumps(request.state.claims)))
        request.state.claims["roles"].append("admin")
        request.state.claims["org"]["tier"] = "gold"
        request.user.claims["org"]["teams"].append("root")
        return PlainTextResponse("ok")

    app = Starlette(routes=[Route("/", escalate)])
    protect(app)
    token = SIGNER.token(roles=["user"], org={"tier": "free", "teams": [["a"]]})
    async with client_for(app) as client:
        for _ in range(3):  # the second and third requests are served from the verified-token cache
            assert (await client.get("/", headers=bearer(token))).status_code == 200
    assert seen == [{**seen[0], "roles": ["user"], "org": {"tier": "free", "teams": [["a"]]}}] * 3


async def test_the_revocation_hook_cannot_change_the_cached_verdict() -> None:
    async def is_revoked(claims: Any) -> bool:
        claims["roles"].append("admin")
        return False

    seen: list[Any] = []

    async def handler(request: Request) -> Response:
        seen.append(list(request.state.claims["roles"]))
        return PlainTextResponse("ok")

    app = Starlette(routes=[Route("/", handler)])
    protect(app, is_revoked=is_revoked)
    token = SIGNER.token(roles=["user"])
    async with client_for(app) as client:
        for _ in range(2):
            await client.get("/", headers=bearer(token))
    assert seen == [["user"], ["user"]]


# Finding 3: nothing the middleware sends can be mutated into later responses.


def request_id_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"].append((b"x-request-id", b"42"))
            await send(message)

        await app(scope, receive, send_with_id)

    return middleware


@pytest.mark.parametrize("http", PARSERS)
async def test_an_outer_middleware_that_appends_a_header_does_not_grow_later_refusals(http: str) -> None:
    app = Starlette(routes=[Route("/", lambda request: PlainTextResponse("ok"))])
    protect(app)
    async with serve(request_id_middleware(app), http=http) as url, httpx.AsyncClient(base_url=url) as client:
        for headers in [{}, {}, bearer("x.y.z"), bearer("x.y.z"), {}]:
            response = await client.get("/", headers=headers)
            assert response.status_code in (400, 401)
            assert response.headers.get_list("x-request-id") == ["42"]
            assert len(response.headers.get_list("www-authenticate")) == 1


# Finding 4: an unsigned token cannot make the server parse a payload of the attacker's choice.


def hostile_payload(depth: int = 1800) -> str:
    return b64url(b"[" * depth + b"]" * depth)


def forged(signer: Any, payload_segment: str, kid: str | None = None) -> str:
    header: dict[str, str] = {"alg": signer.alg, "typ": "JWT", **({"kid": kid} if kid else {})}
    return f"{b64url(json.dumps(header))}.{payload_segment}.{b64url(b'not-a-signature-at-all-xxxxxxxxxx')}"


@pytest.mark.parametrize("http", PARSERS)
async def test_a_hostile_unsigned_payload_is_refused_on_its_signature_before_parsing(http: str) -> None:
    app = Starlette(routes=[Route("/", lambda request: PlainTextResponse("ok"))])
    protect(app, algorithms=["HS256"], key=HS.public)
    async with serve(app, http=http) as url, httpx.AsyncClient(base_url=url) as client:
        response = await client.get("/", headers=bearer(forged(HS, hostile_payload())))
    assert response.status_code == 401
    # The signature is checked first: the 6 KB of nested arrays were never handed to the JSON parser.
    assert response.json()["code"] == "signature_invalid"


async def test_with_several_providers_a_distinct_kid_picks_the_key_before_the_claims_are_read() -> None:
    other = make_signer("ES256")
    providers = [
        Provider(issuer=ISSUER, audience=AUDIENCE, key={"keys": [jwk_of(SIGNER, "ours")]}),
        Provider(issuer="https://other.test/", audience=AUDIENCE, key={"keys": [jwk_of(other, "theirs")]}),
    ]
    app = Starlette(routes=[Route("/", lambda request: JSONResponse(request.state.claims))])
    app.add_middleware(JWTMiddleware, algorithms=["ES256"], providers=providers)
    async with client_for(app) as client:
        hostile = await client.get("/", headers=bearer(forged(SIGNER, hostile_payload(), kid="ours")))
        assert hostile.json()["code"] == "signature_invalid"
        # The kid chose the provider, and the token's iss must still be that provider's.
        swapped = SIGNER.token(headers={"kid": "ours"}, iss="https://other.test/")
        assert (await client.get("/", headers=bearer(swapped))).json()["code"] == "issuer_invalid"
        good = await client.get("/", headers=bearer(other.token(headers={"kid": "theirs"}, iss="https://other.test/")))
        assert good.json()["iss"] == "https://other.test/"


async def test_with_several_providers_and_no_kid_a_deeply_nested_payload_is_refused_cheaply() -> None:
    providers = [
        Provider(issuer=ISSUER, audience=AUDIENCE, key=SIGNER.public),
        Provider(issuer="https://other.test/", audience=AUDIENCE, key=make_signer("ES256").public),
    ]
    app = Starlette(routes=[Route("/", lambda request: PlainTextResponse("ok"))])
    app.add_middleware(JWTMiddleware, algorithms=["ES256"], providers=providers)
    async with client_for(app) as client:
        response = await client.get("/", headers=bearer(forged(SIGNER, hostile_payload())))
        assert response.json()["code"] == "token_malformed"
        assert (await client.get("/", headers=bearer(SIGNER.token()))).status_code == 200


def jwk_of(signer: Any, kid: str) -> dict[str, Any]:
    from jwt.algorithms import ECAlgorithm

    return {**ECAlgorithm.to_jwk(signer.public, as_dict=True), "kid": kid}


# Finding 5: every refusal describes its own failure.


async def test_each_refusal_carries_its_own_description() -> None:
    app = Starlette(routes=[Route("/", lambda request: PlainTextResponse("ok"))])
    protect(app, required_claims=["exp", "sub"])
    async with client_for(app) as client:
        no_exp = await client.get("/", headers=bearer(SIGNER.token(exp=...)))
        no_aud = await client.get("/", headers=bearer(SIGNER.token(aud=...)))
        no_sub = await client.get("/", headers=bearer(SIGNER.token(sub=...)))
    for response, claim in ((no_exp, "exp"), (no_aud, "aud"), (no_sub, "sub")):
        description = f"The token has no {claim} claim."
        assert response.json()["error_description"] == description
        assert f'error_description="{description}"' in response.headers["www-authenticate"]


# Finding 6: header edge cases get the same answer under every server.


async def ok(request: Request) -> Response:
    return JSONResponse({"claims": request.state.claims})


@pytest.mark.parametrize("http", PARSERS)
async def test_a_tab_after_bearer_is_a_malformed_header_even_on_optional_paths(http: str) -> None:
    app = Starlette(routes=[Route("/{path:path}", ok)])
    protect(app, optional=["/public"])
    async with serve(app, http=http) as url:
        for path in ("/private", "/public"):
            status, body = await raw_get(url, path, [("Authorization", f"Bearer\t{SIGNER.token()}")])
            assert status == 400, path
            assert json.loads(body)["code"] == "authorization_malformed"


@pytest.mark.parametrize("http", PARSERS)
@pytest.mark.parametrize("trailer", [" ", "  ", "\t", " \t "])
async def test_trailing_whitespace_after_the_token_is_optional_whitespace(http: str, trailer: str) -> None:
    app = Starlette(routes=[Route("/", ok)])
    protect(app)
    async with serve(app, http=http) as url:
        status, body = await raw_get(url, "/", [("Authorization", f"Bearer {SIGNER.token()}{trailer}")])
    assert status == 200
    assert json.loads(body)["claims"]["sub"] == "user-1"


# Finding 7: error bodies match the README's table, and the hooks work as documented.


async def test_bodies_without_an_rfc_6750_error_carry_no_error_member() -> None:
    app = Starlette(routes=[Route("/", ok)])
    protect(app)
    async with client_for(app) as client:
        missing = await client.get("/")
    assert missing.json() == {"error_description": "A bearer token is required.", "code": "missing_token"}


async def test_an_async_error_handler_is_awaited() -> None:
    async def on_error(connection: HTTPConnection, error: AuthError) -> Response:
        return JSONResponse({"refused": error.code}, status_code=error.status_code)

    app = Starlette(routes=[Route("/", ok)])
    protect(app, on_error=on_error)
    async with client_for(app) as client:
        response = await client.get("/", headers=bearer(SIGNER.token(exp=1)))
    assert (response.status_code, response.json()) == (401, {"refused": "token_expired"})


async def test_the_error_handler_answers_websocket_handshakes_where_the_server_allows_it() -> None:
    from websockets.asyncio.client import connect
    from websockets.exceptions import InvalidStatus

    calls: list[str] = []

    def on_error(connection: HTTPConnection, error: AuthError) -> Response:
        calls.append(connection.scope["type"])
        return JSONResponse({"refused": error.code}, status_code=error.status_code)

    app = Starlette()
    protect(app, on_error=on_error)
    async with serve(app, ws="websockets-sansio") as url:
        with pytest.raises(InvalidStatus) as refused:
            async with connect(url.replace("http", "ws") + "/ws"):
                pass  # pragma: no cover - the handshake never completes
    assert refused.value.response.status_code == 401
    assert json.loads(refused.value.response.body) == {"refused": "missing_token"}
    assert calls == ["websocket"]


@pytest.mark.parametrize("name", ['a"b', "a\\b", "a\nb", "a\x00b", "a\x7fb"])
def test_required_claim_names_that_would_break_the_challenge_are_refused(name: str) -> None:
    with pytest.raises(ConfigurationError, match="required_claims"):
        JWTMiddleware(
            Starlette(),
            algorithms=["ES256"],
            issuer=ISSUER,
            audience=AUDIENCE,
            key=SIGNER.public,
            required_claims=["exp", name],
        )


# Finding 8: a bearer token sent in clear can be refused (RFC 6750 section 5.3).


def scope_for(scheme: str, client: str, token: str) -> dict[str, Any]:
    return {
        "type": "http",
        "scheme": scheme,
        "method": "GET",
        "path": "/",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"authorization", f"Bearer {token}".encode())],
        "client": (client, 50000),
        "server": ("api.test", 80),
    }


async def call(app: ASGIApp, scope: dict[str, Any]) -> tuple[int, bytes]:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


@pytest.mark.parametrize(("scheme", "client"), [("http", "203.0.113.9"), ("http", "10.0.0.3"), ("http", "testclient")])
async def test_require_tls_refuses_tokens_sent_in_clear(
    scheme: str, client: str, caplog: pytest.LogCaptureFixture
) -> None:
    app = Starlette(routes=[Route("/", ok)])
    protect(app, require_tls=True)
    token = SIGNER.token()
    status, body = await call(app, scope_for(scheme, client, token))
    assert (status, json.loads(body)["code"]) == (400, "https_required")
    assert "https_required" in caplog.text
    assert token.split(".")[2] not in caplog.text


@pytest.mark.parametrize(("scheme", "client"), [("https", "203.0.113.9"), ("http", "127.0.0.1"), ("http", "::1")])
async def test_require_tls_accepts_tls_and_loopback(scheme: str, client: str) -> None:
    app = Starlette(routes=[Route("/", ok)])
    protect(app, require_tls=True)
    assert (await call(app, scope_for(scheme, client, SIGNER.token())))[0] == 200


async def test_require_tls_is_off_by_default_and_validated() -> None:
    app = Starlette(routes=[Route("/", ok)])
    protect(app)
    assert (await call(app, scope_for("http", "203.0.113.9", SIGNER.token())))[0] == 200
    options: dict[str, Any] = {"require_tls": "yes"}
    with pytest.raises(ConfigurationError, match="require_tls"):
        JWTMiddleware(Starlette(), algorithms=["ES256"], issuer=ISSUER, audience=AUDIENCE, key=SIGNER.public, **options)


async def test_require_tls_also_covers_websockets_over_ws() -> None:
    app = Starlette()
    protect(app, require_tls=True)
    scope = {**scope_for("ws", "203.0.113.9", SIGNER.token()), "type": "websocket"}
    sent: list[Message] = []
    messages = [{"type": "websocket.connect"}]

    async def receive() -> Message:
        return messages.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    assert sent == [{"type": "websocket.close", "code": 1008, "reason": "https_required"}]


async def test_a_provider_without_keys_yet_does_not_claim_a_kid_and_unknown_issuers_are_refused() -> None:
    def unreachable(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503)

    providers = [
        Provider(issuer=ISSUER, audience=AUDIENCE, key={"keys": [jwk_of(SIGNER, "ours")]}),
        Provider(issuer="https://remote.test/", audience=AUDIENCE, jwks_url="https://remote.test/jwks.json"),
    ]
    app = Starlette(routes=[Route("/", lambda request: JSONResponse(request.state.claims))])
    http_client = httpx.AsyncClient(transport=httpx.MockTransport(unreachable))
    app.add_middleware(JWTMiddleware, algorithms=["ES256"], providers=providers, http_client=http_client)
    async with client_for(app) as client, http_client:
        ours = await client.get("/", headers=bearer(SIGNER.token(headers={"kid": "ours"})))
        assert ours.json()["sub"] == "user-1"
        stranger = await client.get("/", headers=bearer(SIGNER.token(iss="https://stranger.test/")))
        assert stranger.json()["code"] == "issuer_invalid"


async def test_a_non_string_iss_is_refused_when_the_issuer_is_not_checked() -> None:
    app = Starlette(routes=[Route("/", ok)])
    app.add_middleware(JWTMiddleware, algorithms=["ES256"], issuer=None, audience=AUDIENCE, key=SIGNER.public)
    async with client_for(app) as client:
        claims = {**SIGNER.claims(), "iss": 7}
        response = await client.get("/", headers=bearer(SIGNER.sign_raw('{"alg":"ES256"}', json.dumps(claims))))
    assert response.json()["code"] == "claim_invalid"


async def test_a_websocket_that_disconnects_before_the_handshake_gets_no_answer() -> None:
    app = Starlette()
    protect(app)
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "websocket.disconnect", "code": 1000}

    async def send(message: Message) -> None:
        sent.append(message)

    await app({"type": "websocket", "path": "/ws", "headers": [], "root_path": ""}, receive, send)
    assert sent == []
