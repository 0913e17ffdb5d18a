"""Refusal logs (fields, levels, the per-code budget), the on_refusal callback, and the key events log."""

from __future__ import annotations

import json
import logging
from typing import Any

import anyio
import httpx
import pytest
from starlette.requests import HTTPConnection
from starlette.responses import PlainTextResponse
from starlette.types import Message, Receive, Scope, Send

from jwt_middleware import ConfigurationError, ErrorCode, JWTMiddleware
from jwt_middleware.keys.events import KeyEvents
from jwt_middleware.keys.keyset import KeySet, PreparedKey
from jwt_middleware.observe import LOG_BURST, LOG_WINDOW, Refusal, RefusalReporter

from .conftest import AUDIENCE, ISSUER, Signer, b64url, bearer, signer_for

pytestmark = pytest.mark.anyio


async def ok(scope: Scope, receive: Receive, send: Send) -> None:
    await PlainTextResponse("ok")(scope, receive, send)


def middleware(signer: Signer, **options: Any) -> JWTMiddleware:
    return JWTMiddleware(ok, algorithms=[signer.alg], issuer=ISSUER, audience=AUDIENCE, key=signer.public, **options)


def client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


def field(record: logging.LogRecord, name: str) -> Any:
    """A structured field the middleware put on a log record (`jwt_<name>`)."""
    return record.__dict__[f"jwt_{name}"]


def refusal_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "jwt_middleware.refusals"]


async def test_a_refusal_is_logged_once_with_its_code_and_what_the_token_claims(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="jwt_middleware")
    signer = signer_for("ES256")
    token = signer.token(headers={"kid": "k-\n1"}, exp=1)  # expired; a kid that tries to forge a log line
    async with client(middleware(signer)) as http:
        response = await http.get("/orders/12?query-not-logged=1", headers=bearer(token))
    assert response.status_code == 401
    [record] = refusal_records(caplog)
    assert record.levelno == logging.INFO
    assert record.getMessage() == (
        f'refused code=token_expired status=401 method=GET path="/orders/12" client=127.0.0.1 '
        f'iss="{ISSUER}" kid="k-?1" alg="ES256"'
    )
    fields = {name: getattr(record, f"jwt_{name}") for name in ("code", "status", "path", "kid", "alg", "dropped")}
    assert fields == {
        "code": ErrorCode.TOKEN_EXPIRED,
        "status": 401,
        "path": "/orders/12",
        "kid": "k-?1",
        "alg": "ES256",
        "dropped": 0,
    }
    assert token.split(".")[2] not in caplog.text
    assert token.split(".")[1] not in caplog.text
    assert "query-not-logged" not in caplog.text


@pytest.mark.parametrize(
    ("authorization", "code"),
    [
        ("Bearer a.b", "token_malformed"),  # two segments: no payload is read
        (f"Bearer {b64url('{')}.{b64url('[')}.c2ln", "token_malformed"),  # neither part is JSON
        (f"Bearer {b64url(json.dumps({'alg': 7}))}.{b64url('[' * 100)}.c2ln", "algorithm_not_allowed"),
        ("Bearer " + "a" * 9000, "token_too_large"),  # too large to read at all
        ("Bearer", "authorization_malformed"),  # the header itself is refused
    ],
)
async def test_what_cannot_be_read_from_a_token_is_logged_as_unknown(
    authorization: str, code: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="jwt_middleware")
    async with client(middleware(signer_for("ES256"))) as http:
        response = await http.get("/x", headers={"Authorization": authorization})
    assert response.json()["code"] == code
    [record] = refusal_records(caplog)
    assert (field(record, "iss"), field(record, "kid"), field(record, "alg")) == (None, None, None)
    assert record.getMessage().endswith("iss=- kid=- alg=-")


async def test_the_level_is_configurable_and_none_turns_refusal_lines_off(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="jwt_middleware")
    signer = signer_for("ES256")
    async with client(middleware(signer, refusal_log_level=logging.DEBUG)) as http:
        await http.get("/x")
    async with client(middleware(signer, refusal_log_level=None)) as http:
        await http.get("/x")
    assert [r.levelno for r in refusal_records(caplog)] == [logging.DEBUG]


@pytest.mark.parametrize("level", [logging.DEBUG, None])
async def test_operator_problems_are_warnings_whatever_the_level(
    level: int | None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="jwt_middleware")
    signer = signer_for("ES256")
    app = middleware(signer, refusal_log_level=level, require_tls=True)
    transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 1234))
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
        response = await http.get("/x", headers=bearer(signer.token()))
    assert response.json()["code"] == "https_required"
    [record] = refusal_records(caplog)
    assert record.levelno == logging.WARNING
    assert field(record, "client") == "203.0.113.9"


def test_a_flood_logs_a_burst_per_code_per_window_and_says_how_many_were_dropped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="jwt_middleware")
    now = [1000.0]
    reporter = RefusalReporter(level=logging.INFO, on_refusal=None, max_token_bytes=8192, clock=lambda: now[0])
    scope: Scope = {"type": "http", "method": "GET", "path": "/", "headers": [], "client": None}

    async def refuse(code: ErrorCode, times: int) -> None:
        for _ in range(times):
            await reporter.report(scope, code.refusal())

    anyio.run(refuse, ErrorCode.SIGNATURE_INVALID, LOG_BURST + 5)
    anyio.run(refuse, ErrorCode.MISSING_TOKEN, 1)  # another code has a budget of its own
    now[0] += LOG_WINDOW - 0.001
    anyio.run(refuse, ErrorCode.SIGNATURE_INVALID, 2)
    now[0] += 0.001  # a new window
    anyio.run(refuse, ErrorCode.SIGNATURE_INVALID, 2)

    records = refusal_records(caplog)
    codes = [field(r, "code") for r in records]
    assert codes.count(ErrorCode.SIGNATURE_INVALID) == LOG_BURST + 2
    assert codes.count(ErrorCode.MISSING_TOKEN) == 1
    dropped = [field(r, "dropped") for r in records if field(r, "dropped")]
    assert dropped == [7]
    assert records[-2].getMessage().endswith("client=None iss=- kid=- alg=- dropped=7")


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_on_refusal_observes_every_refusal_without_changing_the_answer(asynchronous: bool) -> None:
    seen: list[tuple[str, Refusal]] = []

    def record(connection: HTTPConnection, refusal: Refusal) -> None:
        seen.append((connection.url.path, refusal))

    async def record_async(connection: HTTPConnection, refusal: Refusal) -> None:
        record(connection, refusal)

    signer = signer_for("ES256")
    app = middleware(signer, on_refusal=record_async if asynchronous else record, refusal_log_level=None)
    async with client(app) as http:
        forged = signer_for("ES256").token(headers={"kid": "k1"})[:-4] + "AAAA"
        response = await http.post("/a", headers=bearer(forged))
        assert (await http.get("/b", headers=bearer(signer.token()))).status_code == 200
    assert response.status_code == 401
    assert response.json()["code"] == "signature_invalid"
    [(path, refusal)] = seen
    assert path == "/a"
    assert refusal == Refusal(
        code=ErrorCode.SIGNATURE_INVALID,
        status=401,
        method="POST",
        path="/a",
        client="127.0.0.1",
        iss=ISSUER,
        kid="k1",
        alg="ES256",
    )


async def test_a_failing_on_refusal_is_logged_by_kind_and_the_refusal_still_answered(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(connection: HTTPConnection, refusal: Refusal) -> None:
        raise RuntimeError("secret internals")

    async with client(middleware(signer_for("ES256"), on_refusal=broken)) as http:
        response = await http.get("/x")
    assert response.status_code == 401
    assert "on_refusal raised RuntimeError" in caplog.text
    assert "secret internals" not in caplog.text


async def test_a_websocket_refusal_is_logged_as_such(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="jwt_middleware")
    scope: Scope = {"type": "websocket", "path": "/ws", "headers": [], "client": ("10.0.0.1", 5)}
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "websocket.connect"}

    async def send(message: Message) -> None:
        sent.append(message)

    await middleware(signer_for("ES256"))(scope, receive, send)
    assert sent == [{"type": "websocket.close", "code": 1008, "reason": "missing_token"}]
    [record] = refusal_records(caplog)
    assert (field(record, "method"), field(record, "code"), field(record, "client")) == (
        "WEBSOCKET",
        ErrorCode.MISSING_TOKEN,
        "10.0.0.1",
    )


@pytest.mark.parametrize(
    ("options", "argument"),
    [({"refusal_log_level": "INFO"}, "refusal_log_level"), ({"on_refusal": 3}, "on_refusal")],
)
def test_observability_options_are_checked(options: dict[str, Any], argument: str) -> None:
    with pytest.raises(ConfigurationError, match=argument):
        middleware(signer_for("ES256"), **options)


def _keys(*kids: str) -> list[PreparedKey]:
    return [PreparedKey(kid, "ES256", check=lambda *_: True) for kid in kids]


def test_key_events_are_logged_once_each(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="jwt_middleware.keys")
    events = KeyEvents("https://idp/jwks.json")
    results: list[str] = []
    events.on_fetch(results.append)
    k1, k2, k3 = _keys("k1", "k2", "k3")
    first, second = KeySet([k1, k2]), KeySet([k2, k3])

    events.failed("HTTP 500", has_keys=False, staleness=0, max_stale=10, retry=1)
    events.failed("HTTP 500", has_keys=False, staleness=0, max_stale=10, retry=1)
    events.installed(None, first)
    events.installed(None, None)
    events.installed(first, second)
    for staleness in (-1, -1, 2, 3, 11, 12):
        events.failed("timed out", has_keys=True, staleness=staleness, max_stale=10, retry=1)
    events.unavailable("past jwks_max_stale")
    events.installed(None, None)

    logged = [(field(r, "event"), r.levelname) for r in caplog.records]
    assert logged == [
        ("unavailable", "ERROR"),
        ("keys_fetched", "INFO"),
        ("available", "WARNING"),
        ("keys_unchanged", "DEBUG"),
        ("keys_rotated", "INFO"),
        ("fetch_failed", "WARNING"),
        ("fetch_failed", "DEBUG"),
        ("serving_stale", "WARNING"),
        ("fetch_failed", "DEBUG"),
        ("unavailable", "ERROR"),
        ("keys_unchanged", "INFO"),
        ("available", "WARNING"),
    ]
    rotated = next(r for r in caplog.records if field(r, "event") == "keys_rotated")
    assert rotated.getMessage() == (
        'https://idp/jwks.json: keys rotated, in [["k3", "ES256"]], out [["k1", "ES256"]]; using 2 keys'
    )
    assert results == ["failed", "failed", "updated", "unchanged", "updated", *["failed"] * 6, "unchanged"]
    assert events.last_fetch == "unchanged"
