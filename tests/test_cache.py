"""The verified-token cache and the memory of lasting refusals: fast answers that never change a verdict."""

from __future__ import annotations

import time
from typing import Any

import pytest

from jwt_middleware import AuthError, JWTMiddleware
from jwt_middleware.verify import Verifier

from .conftest import AUDIENCE, ISSUER, Signer, app_for, bearer, client_for, make_signer, signer_for

pytestmark = pytest.mark.anyio

SIGNER = signer_for("ES256")


async def _app(scope: Any, receive: Any, send: Any) -> None:  # pragma: no cover - never called
    pass


def verifier(signer: Signer = SIGNER, **options: Any) -> Verifier:
    middleware = JWTMiddleware(
        _app, algorithms=[signer.alg], issuer=ISSUER, audience=AUDIENCE, key=signer.public, **options
    )
    return middleware._verifier


def counting(v: Verifier) -> list[int]:
    """Count full verifications by wrapping the verifier's slow path."""
    calls = [0]
    full = v._verify_fully

    async def counted(token: bytes, now: float) -> Any:
        calls[0] += 1
        return await full(token, now)

    v._verify_fully = counted  # type: ignore[method-assign]
    return calls


async def test_a_repeated_token_is_verified_once_and_claims_are_fresh_copies() -> None:
    v = verifier()
    calls = counting(v)
    token = SIGNER.token()
    first, second = await v.verify(token), await v.verify(token)
    assert calls == [1]
    assert first is second  # the shared verdict; the middleware copies claims per request


async def test_the_cache_is_bounded_and_least_recently_used_goes_first() -> None:
    v = verifier(cache_size=2)
    calls = counting(v)
    a, b, c = (SIGNER.token(jti=name) for name in "abc")
    await v.verify(a)
    await v.verify(b)
    await v.verify(a)  # a is now the most recently used
    await v.verify(c)  # evicts b
    assert calls == [3]
    await v.verify(a)
    assert calls == [3]
    await v.verify(b)
    assert calls == [4]


async def test_cache_size_zero_verifies_every_time() -> None:
    v = verifier(cache_size=0)
    calls = counting(v)
    token = SIGNER.token()
    await v.verify(token)
    await v.verify(token)
    assert calls == [2]


async def test_a_cached_token_whose_key_left_the_key_set_is_verified_again() -> None:
    v = verifier()
    token = SIGNER.token()
    await v.verify(token)
    issuer = v._single
    assert issuer is not None
    # Simulate a refresh that dropped the key: the source now serves a set without it.
    other = JWTMiddleware(_app, algorithms=["ES256"], issuer=ISSUER, audience=AUDIENCE, key=make_signer("ES256").public)
    issuer.keys._keys = other._sources[0].current()  # type: ignore[attr-defined]
    with pytest.raises(AuthError) as refused:
        await v.verify(token)
    assert refused.value.code == "signature_invalid"


async def test_lasting_refusals_are_remembered_and_passing_ones_are_not() -> None:
    v = verifier()
    calls = counting(v)
    now = time.time()
    expired = SIGNER.token(exp=int(now) - 3600)
    for _ in range(3):
        with pytest.raises(AuthError, match="expired"):
            await v.verify(expired)
    assert calls == [1]

    forged = SIGNER.token()[:-4] + "AAAA"
    for _ in range(2):
        with pytest.raises(AuthError) as refused:
            await v.verify(forged)
        assert refused.value.code == "signature_invalid"
    assert calls == [3]  # not remembered: a key rotation could change this verdict

    early = SIGNER.token(nbf=int(now) + 600, iat=int(now), exp=int(now) + 3600)
    with pytest.raises(AuthError, match="not valid yet"):
        await v.verify(early, now=now)
    verified = await v.verify(early, now=now + 900)  # once its time has come, it passes
    assert verified.claims["nbf"] == int(now) + 600


async def test_a_huge_token_is_refused_before_it_is_hashed() -> None:
    v = verifier(max_token_bytes=1024)
    with pytest.raises(AuthError) as refused:
        await v.verify("a" * 2000)
    assert refused.value.code == "token_too_large"
    assert not v._refused


async def test_the_synchronous_fast_path_still_checks_the_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    app = app_for(SIGNER, leeway=0)
    token = SIGNER.token()
    async with client_for(app) as client:
        assert (await client.get("/", headers=bearer(token))).status_code == 200
        real_time = time.time
        monkeypatch.setattr(time, "time", lambda: real_time() + 3600)  # an hour later, the token has expired
        response = await client.get("/", headers=bearer(token))
    assert response.status_code == 401
    assert response.json()["code"] == "token_expired"
