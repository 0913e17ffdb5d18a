"""Remote keys: fetched from a real JWKS server on 127.0.0.1, refreshed, rate-limited, and kept through outages.

`httpx.MockTransport` appears only for faults a real server cannot produce deterministically (a body that trickles
past the deadline, a lying Content-Length, a compressed answer, a refused connection at a precise moment).
"""

from __future__ import annotations

import gzip
import json
import logging
import secrets
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any, Literal

import anyio
import httpx
import pytest
from asgi_lifespan import LifespanManager
from starlette.applications import Starlette
from starlette.routing import Route

from jwt_middleware import ConfigurationError, JWTMiddleware, Provider
from jwt_middleware.keys.fetch import MAX_BODY_BYTES, JWKSOptions, _max_age, refresh_interval, url_problem
from jwt_middleware.keys.jwks import JWKSKeys
from jwt_middleware.testing import LocalServer
from jwt_middleware.testing.server import Mode

from ..conftest import AUDIENCE, ISSUER, Signer, bearer, client_for, make_app, whoami
from ..helpers import eventually, hits_reach, jwk_of, keyed_signer, status, status_becomes

pytestmark = pytest.mark.anyio

# Small intervals keep the tests fast; every wait below is bounded by `anyio.fail_after`.
FAST = {"jwks_refresh_interval": 0.1, "jwks_cooldown": 0.1, "jwks_timeout": 0.5}


@pytest.fixture(scope="module")
def k2() -> Signer:
    return keyed_signer("k2")


def remote_app(url: str, **options: Any) -> Any:
    options.setdefault("algorithms", ["ES256"])
    return make_app(jwks_url=url, **options)


def providers_app(providers: list[Provider], **options: Any) -> Starlette:
    app = Starlette(routes=[Route("/{path:path}", whoami)])
    app.add_middleware(JWTMiddleware, algorithms=["ES256"], providers=providers, **options)
    return app


async def test_keys_are_fetched_at_startup_and_not_per_request(server: LocalServer, k1: Signer) -> None:
    server.jwks = {"keys": [jwk_of(k1)]}
    app = remote_app(server.jwks_url, jwks_refresh_interval=3600)
    with anyio.fail_after(10):
        async with LifespanManager(app) as manager, client_for(manager.app) as client:
            assert server.hits["/jwks.json"] == 1
            for _ in range(5):
                assert await status(client, k1.token()) == 200
            assert server.hits["/jwks.json"] == 1


async def test_background_refresh_picks_up_a_rotation(server: LocalServer, k1: Signer, k2: Signer) -> None:
    server.jwks = {"keys": [jwk_of(k1)]}
    app = remote_app(server.jwks_url, jwks_refresh_interval=0.1, jwks_cooldown=3600)
    with anyio.fail_after(10):
        async with LifespanManager(app) as manager, client_for(manager.app) as client:
            server.jwks = {"keys": [jwk_of(k2)]}
            # Two refreshes after the rotation: the first has surely been installed when the second one starts.
            await hits_reach(server, server.hits["/jwks.json"] + 2)
            before = server.hits["/jwks.json"]
            assert await status(client, k2.token()) == 200
            assert await status(client, k1.token()) == 401  # the retired key is gone
            # k2 was known from the background refresh; k1's unknown kid is inside the cooldown of nothing: one
            # fetch at most, never one per request.
            assert server.hits["/jwks.json"] - before <= 1


async def test_a_rotation_drops_the_retired_keys_verdicts_from_the_cache(
    server: LocalServer, k1: Signer, k2: Signer
) -> None:
    server.jwks = {"keys": [jwk_of(k1), jwk_of(k2)]}
    # The middleware outermost (no Starlette stack around it), so the test can look at its cache.
    middleware = JWTMiddleware(
        Starlette(routes=[Route("/{path:path}", whoami)]),
        algorithms=["ES256"],
        issuer=ISSUER,
        audience=AUDIENCE,
        jwks_url=server.jwks_url,
        jwks_refresh_interval=0.1,
        jwks_cooldown=3600,
    )
    with anyio.fail_after(10):
        async with LifespanManager(middleware) as manager, client_for(manager.app) as client:
            assert await status(client, k1.token(jti="a")) == 200
            assert await status(client, k2.token(jti="b")) == 200
            cached_kids = {v.key.kid for v in middleware.verifier.cache.verdicts()}
            assert cached_kids == {"k1", "k2"}
            server.jwks = {"keys": [jwk_of(k2)]}
            await hits_reach(server, server.hits["/jwks.json"] + 2)
            # Dropped when the new set was installed, not merely skipped when next seen.
            assert {v.key.kid for v in middleware.verifier.cache.verdicts()} == {"k2"}


async def test_an_unknown_kid_fetches_the_new_set_once(server: LocalServer, k1: Signer, k2: Signer) -> None:
    server.jwks = {"keys": [jwk_of(k1)]}
    app = remote_app(server.jwks_url, jwks_refresh_interval=3600, jwks_cooldown=30)
    with anyio.fail_after(10):
        async with LifespanManager(app) as manager, client_for(manager.app) as client:
            server.jwks = {"keys": [jwk_of(k1), jwk_of(k2)]}
            assert await status(client, k2.token()) == 200
            assert await status(client, k2.token()) == 200
            assert await status(client, k1.token()) == 200
            assert server.hits["/jwks.json"] == 2


async def test_a_flood_of_unknown_kids_costs_one_fetch_per_cooldown(server: LocalServer, k1: Signer) -> None:
    server.jwks = {"keys": [jwk_of(k1)]}
    app = remote_app(server.jwks_url, jwks_refresh_interval=3600, jwks_cooldown=0.5)

    async def flood(client: httpx.AsyncClient) -> set[tuple[int, str]]:
        answers: set[tuple[int, str]] = set()

        async def one() -> None:
            response = await client.get("/whoami", headers=bearer(k1.token(headers={"kid": secrets.token_hex(8)})))
            answers.add((response.status_code, response.json()["code"]))

        async with anyio.create_task_group() as task_group:
            for _ in range(200):
                task_group.start_soon(one)
        return answers

    with anyio.fail_after(10):
        async with LifespanManager(app) as manager, client_for(manager.app) as client:
            started = anyio.current_time()
            assert await flood(client) == {(401, "key_not_found")}
            assert server.hits["/jwks.json"] == 2  # startup, and one refresh that all 200 requests shared
            assert await flood(client) == {(401, "key_not_found")}
            # Inside the cooldown: refused at once, with no fetch and no waiting.
            if anyio.current_time() - started < 0.5:
                assert server.hits["/jwks.json"] == 2
            await anyio.sleep(0.55)
            assert await flood(client) == {(401, "key_not_found")}
            assert server.hits["/jwks.json"] <= 4
            assert await status(client, k1.token()) == 200


@pytest.mark.parametrize("mode", ["500", "hang", "garbage", "empty", "huge", "redirect", "down"])
async def test_an_outage_keeps_the_last_good_keys(
    server: LocalServer, k1: Signer, mode: Mode | Literal["down"], caplog: pytest.LogCaptureFixture
) -> None:
    server.jwks = {"keys": [jwk_of(k1)]}
    app = remote_app(server.jwks_url, jwks_refresh_interval=0.1, jwks_cooldown=0.1, jwks_timeout=0.3)
    token = k1.token()
    with anyio.fail_after(15):
        async with LifespanManager(app) as manager, client_for(manager.app) as client:
            caplog.set_level(logging.INFO, logger="jwt_middleware")
            if mode == "down":
                server.stop()
                await anyio.sleep(0.5)
            else:
                server.mode = mode
                await hits_reach(server, server.hits["/jwks.json"] + 3)
            for _ in range(3):
                assert await status(client, token) == 200
            # An unknown kid during the outage is refused as unknown, not answered with an error.
            assert await status(client, k1.token(headers={"kid": "new"})) == 401
            assert server.hits["/moved.json"] == 0  # a redirect is never followed
            assert "could not refresh keys" in caplog.text
            assert "stale" in caplog.text

            if mode == "down":
                server.start()
            server.mode = "ok"
            recovered = server.hits["/jwks.json"]
            await hits_reach(server, recovered + 1)
            assert await status(client, token) == 200
    # Logs name the endpoint and the problem, never key material or tokens.
    assert token not in caplog.text
    assert jwk_of(k1)["x"] not in caplog.text


async def test_no_keys_at_all_is_503_with_retry_after_until_keys_arrive(server: LocalServer, k1: Signer) -> None:
    server.jwks = {"keys": [jwk_of(k1)]}
    server.mode = "500"
    app = remote_app(server.jwks_url, **FAST)
    with anyio.fail_after(10):
        async with LifespanManager(app) as manager, client_for(manager.app) as client:
            response = await client.get("/whoami", headers=bearer(k1.token()))
            assert response.status_code == 503
            assert response.json()["code"] == "keys_unavailable"
            assert int(response.headers["retry-after"]) >= 1
            assert "www-authenticate" not in response.headers
            # Requests without a token are still answered as usual: 401 with the bare challenge.
            assert (await client.get("/whoami")).status_code == 401

            server.mode = "ok"

            await status_becomes(client, k1.token(), 200)


async def test_keys_past_max_stale_are_dropped_and_come_back(
    server: LocalServer, k1: Signer, caplog: pytest.LogCaptureFixture
) -> None:
    server.jwks = {"keys": [jwk_of(k1)]}
    app = remote_app(server.jwks_url, jwks_max_stale=0.2, **FAST)
    with anyio.fail_after(10):
        async with LifespanManager(app) as manager, client_for(manager.app) as client:
            assert await status(client, k1.token()) == 200
            server.mode = "500"

            await status_becomes(client, k1.token(), 503)

            async def logged() -> bool:
                return "past jwks_max_stale" in caplog.text

            await eventually(logged)
            server.mode = "ok"

            await status_becomes(client, k1.token(), 200)


async def test_a_set_without_usable_keys_never_replaces_a_good_one(
    server: LocalServer, k1: Signer, caplog: pytest.LogCaptureFixture
) -> None:
    rsa_too_small = {"kty": "RSA", "kid": "small", "n": "sXch", "e": "AQAB"}
    server.jwks = {"keys": [jwk_of(k1)]}
    app = remote_app(server.jwks_url, **FAST)
    with anyio.fail_after(10):
        async with LifespanManager(app) as manager, client_for(manager.app) as client:
            server.jwks = {"keys": [rsa_too_small, {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"}]}
            await hits_reach(server, server.hits["/jwks.json"] + 2)
            assert await status(client, k1.token()) == 200
    assert "no usable key" in caplog.text
    assert "HMAC secret in a fetched JWKS" in caplog.text


async def test_a_published_private_key_is_left_out_loudly(
    server: LocalServer, k1: Signer, k2: Signer, caplog: pytest.LogCaptureFixture
) -> None:
    leaked = jwk_of(k2, d="c2VjcmV0")
    server.jwks = {"keys": [jwk_of(k1), leaked]}
    app = remote_app(server.jwks_url, jwks_refresh_interval=3600)
    with anyio.fail_after(10):
        async with LifespanManager(app) as manager, client_for(manager.app) as client:
            assert await status(client, k1.token()) == 200
            assert await status(client, k2.token()) == 401
    loud = [r for r in caplog.records if r.levelno == logging.ERROR and "private key" in r.getMessage()]
    assert len(loud) == 1
    assert "c2VjcmV0" not in caplog.text


async def test_each_provider_has_its_own_keys(k1: Signer, k2: Signer) -> None:
    other_issuer = "https://other.test/"
    with LocalServer() as first, LocalServer() as second:
        first.jwks = {"keys": [jwk_of(k1)]}
        second.jwks = {"keys": [jwk_of(k2)]}
        providers = [
            Provider(issuer=ISSUER, audience=AUDIENCE, jwks_url=first.jwks_url),
            Provider(issuer=other_issuer, audience=AUDIENCE, jwks_url=second.jwks_url),
        ]
        app = providers_app(providers)
        with anyio.fail_after(10):
            async with LifespanManager(app) as manager, client_for(manager.app) as client:
                assert await status(client, k1.token()) == 200
                assert await status(client, k2.token(iss=other_issuer)) == 200
                # A key of one issuer never verifies a token that names the other.
                assert await status(client, k2.token()) == 401
                assert await status(client, k1.token(iss=other_issuer)) == 401
        assert first.hits["/jwks.json"] >= 1
        assert second.hits["/jwks.json"] >= 1


async def test_cache_control_max_age_sets_the_interval(server: LocalServer, k1: Signer) -> None:
    server.jwks = {"keys": [jwk_of(k1)]}
    server.cache_control = "public, max-age=3600"
    # A max-age is clamped from below to min(60 s, jwks_refresh_interval): here 0.1 s, so 3600 stands.
    app = remote_app(server.jwks_url, jwks_refresh_interval=0.1)
    with anyio.fail_after(10):
        async with LifespanManager(app) as manager, client_for(manager.app) as client:
            await anyio.sleep(0.3)
            assert await status(client, k1.token()) == 200
            assert server.hits["/jwks.json"] == 1


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("max-age=120", 120.0),
        ("public, max-age=120, must-revalidate", 120.0),
        ('max-age="90"', 90.0),
        ("MAX-AGE=5", 5.0),
        ("s-maxage=100", None),
        ("max-age=", None),
        ("max-age=-1", None),
        ("no-store", None),
    ],
)
def test_max_age_is_read_from_cache_control(header: str | None, expected: float | None) -> None:
    assert _max_age(header) == expected


@pytest.mark.parametrize(
    ("max_age", "expected"), [(None, 300.0), (5.0, 60.0), (120.0, 120.0), (10**9, 86400.0), (0.0, 60.0)]
)
def test_intervals_are_clamped_to_sane_bounds(max_age: float | None, expected: float) -> None:
    assert refresh_interval(max_age, JWKSOptions()) == expected


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://login.example.com/jwks.json", True),
        ("http://127.0.0.1:8000/jwks.json", True),
        ("http://127.10.0.1/jwks.json", True),
        ("http://[::1]:8000/jwks.json", True),
        ("http://localhost/jwks.json", True),
        ("http://login.example.com/jwks.json", False),
        ("http://10.0.0.1/jwks.json", False),
        ("http://localhost.example.com/jwks.json", False),
        ("ftp://login.example.com/jwks.json", False),
        ("file:///etc/jwks.json", False),
        ("https:///jwks.json", False),
        ("https://user:pass@login.example.com/jwks.json", False),
        ("https://login.example.com:port/jwks.json", False),
        ("/jwks.json", False),
        ("", False),
    ],
)
def test_only_https_or_loopback_urls_are_accepted(url: str, allowed: bool) -> None:
    assert (url_problem(url, allow_insecure_http=False) is None) is allowed


def test_plain_http_elsewhere_needs_an_explicit_opt_in(caplog: pytest.LogCaptureFixture) -> None:
    url = "http://login.example.com/jwks.json"
    with pytest.raises(ConfigurationError, match=r"jwks_url .*allow_insecure_http=True"):
        remote_app(url).build_middleware_stack()
    with pytest.raises(ConfigurationError, match=r"providers\[0\]\.jwks_url .*https://"):
        providers_app([Provider(issuer=ISSUER, audience=AUDIENCE, jwks_url=url)]).build_middleware_stack()
    remote_app(url, allow_insecure_http=True).build_middleware_stack()
    assert "plain http" in caplog.text


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"jwks_cooldown": -1}, "jwks_cooldown must be between"),
        ({"jwks_cooldown": 0}, "jwks_cooldown must be between"),
        ({"jwks_cooldown": "30"}, "jwks_cooldown must be a number"),
        ({"jwks_refresh_interval": 0.001}, "jwks_refresh_interval must be between"),
        ({"jwks_refresh_interval": 10**6}, "jwks_refresh_interval must be between"),
        ({"jwks_max_stale": -1}, "jwks_max_stale must be between"),
        ({"jwks_timeout": 0}, "jwks_timeout must be between"),
        ({"jwks_timeout": float("inf")}, "jwks_timeout must be a number"),
        ({"jwks_required_at_startup": 1}, "jwks_required_at_startup must be True or False"),
        ({"allow_insecure_http": "yes"}, "allow_insecure_http must be True or False"),
        ({"key": "s" * 64}, "exactly one of key"),
        ({"oidc_discovery": True}, "exactly one of key"),
    ],
)
def test_remote_settings_are_validated(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        remote_app("https://login.example.com/jwks.json", **options).build_middleware_stack()


# Fault injection through an `httpx.MockTransport`: the exact answer a real server cannot be made to give on cue.


def _jwks_body(*signers: Signer) -> bytes:
    return json.dumps({"keys": [jwk_of(s) for s in signers]}).encode()


async def _with_transport(
    handler: Callable[[httpx.Request], httpx.Response]
    | Callable[[httpx.Request], Coroutine[None, None, httpx.Response]],
    token: str,
    **options: Any,
) -> tuple[int, httpx.AsyncClient]:
    http_client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    app = remote_app("https://idp.test/jwks.json", http_client=http_client, **{**FAST, **options})
    with anyio.fail_after(10):
        async with LifespanManager(app) as manager, client_for(manager.app) as client:
            answer = await status(client, token)
    return answer, http_client


class _Counted(httpx.AsyncByteStream):
    """A body of `total` bytes in 64 KiB chunks that records how much was pulled from it."""

    def __init__(self, total: int, delay: float = 0.0) -> None:
        self.total = total
        self.delay = delay
        self.pulled = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while self.pulled < self.total:
            if self.delay:
                await anyio.sleep(self.delay)
            self.pulled += 65536
            yield b" " * 65536


async def test_an_oversize_body_is_cut_off_while_streaming(k1: Signer, caplog: pytest.LogCaptureFixture) -> None:
    body = _Counted(10 * 1024 * 1024)

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=body)

    answer, http_client = await _with_transport(handler, k1.token())
    await http_client.aclose()
    assert answer == 503
    assert body.pulled <= MAX_BODY_BYTES + 65536
    assert "larger than" in caplog.text


async def test_a_declared_oversize_body_is_not_read(k1: Signer, caplog: pytest.LogCaptureFixture) -> None:
    body = _Counted(10 * 1024 * 1024)

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-length": str(10 * 1024 * 1024)}, stream=body)

    answer, http_client = await _with_transport(handler, k1.token())
    await http_client.aclose()
    assert answer == 503
    assert body.pulled == 0


async def test_a_trickling_body_is_cut_off_at_the_deadline(k1: Signer, caplog: pytest.LogCaptureFixture) -> None:
    # Each chunk arrives well within a read timeout; only a deadline for the whole response stops this.
    body = _Counted(MAX_BODY_BYTES // 2, delay=0.05)

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=body)

    answer, http_client = await _with_transport(handler, k1.token(), jwks_timeout=0.3)
    await http_client.aclose()
    assert answer == 503
    assert "no complete answer within 0.3 s" in caplog.text


@pytest.mark.parametrize(
    ("status_code", "headers", "content", "logged"),
    [
        (200, {}, b'{"keys": NaN}', "not JSON"),
        (200, {}, b"[" * 100_000, "not JSON"),
        (200, {}, b"\xff\xfe{}", "not JSON"),
        (200, {}, b'["keys"]', "no usable key"),
        (200, {}, b'{"keys": [' + b"{}," * 100 + b"{}]}", "more than the 100 accepted"),
        (200, {"content-encoding": "gzip"}, gzip.compress(b"{}"), "compressed"),
        (304, {}, b"", "HTTP 304"),
        (307, {"location": "https://evil.test/jwks.json"}, b"", "redirects are not followed"),
    ],
)
async def test_a_bad_answer_is_refused(
    k1: Signer, status_code: int, headers: dict[str, str], content: bytes, logged: str, caplog: pytest.LogCaptureFixture
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status_code, headers=headers, stream=httpx.ByteStream(content))

    answer, http_client = await _with_transport(handler, k1.token())
    await http_client.aclose()
    assert answer == 503
    assert logged in caplog.text


async def test_transport_errors_and_surprises_are_survived(k1: Signer, caplog: pytest.LogCaptureFixture) -> None:
    answers = ["ok", "connect", "boom"]

    def handler(request: httpx.Request) -> httpx.Response:
        answer = answers.pop(0) if answers else "ok"
        if answer == "connect":
            raise httpx.ConnectError("refused", request=request)
        if answer == "boom":
            raise RuntimeError("a bug in a transport")
        return httpx.Response(200, content=_jwks_body(k1))

    http_client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    app = remote_app("https://idp.test/jwks.json", http_client=http_client, **FAST)
    with anyio.fail_after(10):
        async with LifespanManager(app) as manager, client_for(manager.app) as client:

            async def passes() -> bool:
                return not answers and await status(client, k1.token()) == 200

            await eventually(passes)
    # The caller's client is the caller's to close: the middleware used it and left it open.
    assert not http_client.is_closed
    await http_client.aclose()
    assert "request failed (ConnectError)" in caplog.text
    assert "unexpected RuntimeError" in caplog.text


async def test_a_read_timeout_is_a_failed_fetch(k1: Signer, caplog: pytest.LogCaptureFixture) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    answer, http_client = await _with_transport(handler, k1.token())
    await http_client.aclose()
    assert answer == 503
    assert "no complete answer within" in caplog.text


async def test_a_source_starts_once_and_closes_idempotently(k1: Signer) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=_jwks_body(k1))

    with pytest.raises(ValueError, match="exactly one"):
        JWKSKeys(None, algorithms=["ES256"])
    with anyio.fail_after(10):
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http_client:
            source = JWKSKeys(
                "https://idp.test/jwks.json",
                algorithms=["ES256"],
                options=JWKSOptions(refresh_interval=0.1),
                http_client=http_client,
            )
            async with anyio.create_task_group() as task_group:
                await source.start(task_group)
                await source.start(task_group)  # a second startup does not start a second loop
                assert len(source.current()) == 1
                await source.aclose()
                await source.aclose()


async def test_a_second_unknown_kid_refresh_within_the_cooldown_is_refused_at_once(
    server: LocalServer, k1: Signer
) -> None:
    server.jwks = {"keys": [jwk_of(k1)]}
    source = JWKSKeys(server.jwks_url, algorithms=["ES256"], options=JWKSOptions(cooldown=3600))
    with anyio.fail_after(10):
        first = await source.refresh_for_unknown_kid()
        assert first is not None
        assert len(first) == 1
        assert await source.refresh_for_unknown_kid() is None  # asked directly, past may_refresh_for_unknown_kid()
    assert server.hits["/jwks.json"] == 1
    await source.aclose()


async def test_with_several_remote_providers_the_iss_chooses_and_an_unknown_kid_refreshes_that_provider(
    server: LocalServer, k1: Signer, k2: Signer
) -> None:
    other = "https://other.test/"
    server.jwks = {"keys": [jwk_of(k1)]}
    providers = [
        Provider(issuer=ISSUER, audience=AUDIENCE, jwks_url=server.jwks_url),
        Provider(issuer=other, audience=AUDIENCE, jwks_url=server.url + "/other.json"),
    ]
    app = providers_app(providers, jwks_refresh_interval=3600, jwks_cooldown=0.05)
    with anyio.fail_after(10):
        async with LifespanManager(app) as manager, client_for(manager.app) as client:
            # k2's kid is published by neither provider yet, so the token's iss picks one, and only then may it
            # cause a fetch: the claims are read first, and checked against that provider before it is asked.
            server.jwks = {"keys": [jwk_of(k1), jwk_of(k2)]}
            assert await status(client, k2.token()) == 200
            assert server.hits["/jwks.json"] == 2
            assert server.hits["/other.json"] == 1  # the other provider was never asked again
