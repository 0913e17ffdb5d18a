"""Politeness and fault handling: the rate, the budget, timeouts, redirects, hosts, headers; and answers that are
wrong in ways our gallery does not cover, injected precisely with httpx.MockTransport."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from jwt_middleware.probe.client import USER_AGENT, ForbiddenHost, PoliteClient, RateLimiter

from ..conftest import make_app, signer_for
from .helpers import probe, run_probe

pytestmark = pytest.mark.anyio

TARGET = "http://api.test/orders"
CHALLENGE = {"WWW-Authenticate": 'Bearer error="invalid_token"'}


def _api(
    token: str, refuse: Callable[[httpx.Request], httpx.Response], seen: list[httpx.Request]
) -> httpx.MockTransport:
    """A fake API: the valid token gets 200, no token a proper 401, anything else `refuse(request)`."""

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        authorization = request.headers.get("authorization")
        if authorization == f"Bearer {token}":
            return httpx.Response(200, json={"orders": []})
        if authorization is None:
            return httpx.Response(401, headers={"WWW-Authenticate": "Bearer"}, json={"detail": "Not authenticated."})
        return refuse(request)

    return httpx.MockTransport(handle)


async def _probe_mock(
    refuse: Callable[[httpx.Request], httpx.Response], *argv: str
) -> tuple[set[str], dict[str, object], list[httpx.Request]]:
    token = signer_for("HS256").token()
    seen: list[httpx.Request] = []
    run = await run_probe(
        TARGET,
        "--token",
        token,
        "--rate",
        "0",
        "--no-openapi",
        "--format",
        "json",
        *argv,
        transport=_api(token, refuse, seen),
    )
    assert run.code in (0, 1), run.stderr
    return run.finding_ids, run.report, seen


async def test_redirects_are_judged_not_followed() -> None:
    ids, _, seen = await _probe_mock(
        lambda r: httpx.Response(302, headers={"Location": "http://login.elsewhere.test/"})
    )
    assert ids == {"wrong-refusal-status"}
    assert {request.url.host for request in seen} == {"api.test"}


async def test_a_403_refusal_is_the_wrong_status() -> None:
    ids, report, _ = await _probe_mock(lambda r: httpx.Response(403, json={"detail": "Forbidden."}))
    assert ids == {"wrong-refusal-status"}
    summary = report["summary"]
    assert isinstance(summary, dict)
    assert summary["exit_code"] == 0  # low, under the default --fail-on high


async def test_another_2xx_than_the_valid_tokens_is_reported() -> None:
    ids, report, _ = await _probe_mock(lambda r: httpx.Response(204))
    assert ids == {"wrong-refusal-status"}
    findings = report["findings"]
    assert isinstance(findings, list)
    assert "not the valid token's 200" in findings[0]["examples"][0]["why"]


async def test_a_refusal_echoing_the_token_is_found() -> None:
    def echo(request: httpx.Request) -> httpx.Response:
        token = request.headers["authorization"].removeprefix("Bearer ")
        return httpx.Response(401, headers=CHALLENGE, json={"detail": f"bad token {token}"})

    ids, _, _ = await _probe_mock(echo)
    assert ids == {"token-echoed"}


async def test_timeouts_are_counted_not_reported() -> None:
    def hang(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("no answer", request=request)

    ids, report, _ = await _probe_mock(hang)
    summary = report["summary"]
    assert isinstance(summary, dict)
    assert ids == set()
    assert summary["no_answer"] == summary["forgeries_sent"] > 250


async def test_max_requests_stops_the_run_and_says_so() -> None:
    _, report, seen = await _probe_mock(lambda r: httpx.Response(401, headers=CHALLENGE), "--max-requests", "40")
    summary = report["summary"]
    assert isinstance(summary, dict)
    assert len(seen) == summary["requests"] == 40
    assert summary["complete"] is False
    assert report["notes"] == ["stopped after --max-requests 40 requests"]


async def test_every_request_names_the_tool_and_carries_the_extra_headers() -> None:
    _, _, seen = await _probe_mock(lambda r: httpx.Response(401, headers=CHALLENGE), "--header", "X-Gateway-Key: k1")
    assert {r.headers["user-agent"] for r in seen} == {USER_AGENT}
    assert {r.headers["x-gateway-key"] for r in seen} == {"k1"}


async def test_the_client_refuses_other_hosts() -> None:
    async with PoliteClient(allowed=[TARGET], rate=0, max_requests=5, timeout=1) as client:
        with pytest.raises(ForbiddenHost):
            await client.send("GET", "http://api.test:8080/orders")  # another port is another origin
        assert client.sent == 0


async def test_the_rate_limiter_spaces_requests_evenly() -> None:
    now = [100.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(round(seconds, 6))
        now[0] += seconds

    limiter = RateLimiter(4, clock=lambda: now[0], sleep=sleep)
    for _ in range(3):
        await limiter.wait()
    now[0] += 1.0  # an idle second: no catching up in a burst, the next one waits for nothing
    await limiter.wait()
    await limiter.wait()
    assert slept == [0.25, 0.25, 0.25]
    unlimited = RateLimiter(0, clock=lambda: now[0], sleep=sleep)
    for _ in range(3):
        await unlimited.wait()
    assert len(slept) == 3


async def test_a_real_server_sees_the_user_agent() -> None:
    seen: list[str] = []
    inner = make_app(algorithms=["HS256"], key=signer_for("HS256").public)

    async def recording(scope, receive, send):  # type: ignore[no-untyped-def]
        if scope["type"] == "http":
            seen.append(dict(scope["headers"]).get(b"user-agent", b"").decode())
        await inner(scope, receive, send)

    run = await probe(recording, "--token", signer_for("HS256").token(), "--max-requests", "10")
    assert run.code == 0
    assert set(seen) == {USER_AGENT}
    assert len(seen) == 10


async def test_a_long_refusal_is_read_only_so_far() -> None:
    body = b"x" * (200 * 1024) + b"Traceback (most recent call last)"  # past what the probe reads: not seen
    ids, _, _ = await _probe_mock(lambda r: httpx.Response(401, headers=CHALLENGE, content=body))
    assert ids == set()


async def test_no_answer_without_a_token_fails_the_baseline() -> None:
    token = signer_for("HS256").token()

    def handle(request: httpx.Request) -> httpx.Response:
        if "authorization" not in request.headers:
            raise httpx.ConnectError("reset", request=request)
        return httpx.Response(200)

    run = await run_probe(TARGET, "--token", token, "--rate", "0", transport=httpx.MockTransport(handle))
    assert run.code == 2
    assert "no answer from http://api.test/orders without a token" in run.stderr


@pytest.mark.parametrize(
    ("document", "note"),
    [(b"<html>docs</html>", "no OpenAPI document"), (b'{"openapi": "3.1.0"}', "no OpenAPI document")],
)
async def test_an_openapi_json_that_is_not_a_document_is_noted(document: bytes, note: str) -> None:
    token = signer_for("HS256").token()
    seen: list[httpx.Request] = []
    refuse = lambda r: httpx.Response(401, headers=CHALLENGE)  # noqa: E731
    inner = _api(token, refuse, seen)

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/openapi.json":
            return httpx.Response(200, content=document)
        return inner.handle_request(request)

    run = await run_probe(
        TARGET, "--token", token, "--rate", "0", "--format", "json", transport=httpx.MockTransport(handle)
    )
    assert run.code == 0
    assert note in run.report["notes"][0]


async def test_replays_without_an_answer_are_counted() -> None:
    signer = signer_for("HS256")
    token, expired = signer.token(), signer.token(exp=1, iat=0)

    def handle(request: httpx.Request) -> httpx.Response:
        if request.headers.get("authorization") == f"Bearer {expired}":
            raise httpx.ReadTimeout("slow", request=request)
        if request.headers.get("authorization") == f"Bearer {token}":
            return httpx.Response(200)
        return httpx.Response(401, headers=CHALLENGE)

    argv = ["--token", token, "--rate", "0", "--no-openapi", "--format", "json"]
    argv += ["--expired-token", expired, "--foreign-token", expired]
    run = await run_probe(TARGET, *argv, transport=httpx.MockTransport(handle))
    assert (run.code, run.finding_ids) == (0, set())
    assert run.report["summary"]["no_answer"] == 2


async def test_a_rate_limiters_429_is_counted_not_judged() -> None:
    ids, report, _ = await _probe_mock(lambda r: httpx.Response(429, headers={"Retry-After": "1"}))
    summary = report["summary"]
    assert isinstance(summary, dict)
    assert ids == set()  # neither a wrong status nor a missing challenge: the verifier never saw these
    assert summary["throttled"] == summary["forgeries_sent"] > 250
    assert report["notes"] == [
        f"{summary['throttled']} answers were 429 Too Many Requests and could not be judged: lower --rate"
    ]
