"""The verified-token cache and the memory of lasting refusals: fast answers that never change a verdict."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from anyio.abc import TaskGroup

from jwt_middleware import AuthError, ErrorCode, JWTMiddleware
from jwt_middleware.cache import VerdictCache
from jwt_middleware.keys import KeySet, PreparedKey, keys_from_material
from jwt_middleware.verify import Issuer, Verifier

from .conftest import AUDIENCE, ISSUER, Signer, app_for, bearer, client_for, make_signer, signer_for

pytestmark = pytest.mark.anyio

SIGNER = signer_for("ES256")


class CountingKeys:
    """A `KeySource` that counts signature checks (each full verification makes exactly one), and whose keys a
    test can replace, as a refresh would: hence `remote`, so that cache hits check the key is still there."""

    remote = True

    def __init__(self, signer: Signer) -> None:
        self.checks = 0
        self.keys = self._counting(keys_from_material(signer.public, [signer.alg]))

    def _counting(self, keys: KeySet) -> KeySet:
        def counted(check: Callable[[bytes, bytes], bool]) -> Callable[[bytes, bytes], bool]:
            def count(message: bytes, signature: bytes) -> bool:
                self.checks += 1
                return check(message, signature)

            return count

        return KeySet(PreparedKey(k.kid, k.alg, counted(k.check), k.fingerprint) for k in keys.keys)

    def current(self) -> KeySet:
        return self.keys

    def may_refresh_for_unknown_kid(self) -> bool:
        return False

    async def refresh_for_unknown_kid(self) -> KeySet | None:  # pragma: no cover - never allowed above
        return None

    def on_new_keys(self, listener: Callable[[KeySet], object]) -> None:
        return None

    def on_fetch(self, listener: Callable[[str], object]) -> None:  # pragma: no cover - no metrics here
        return None

    async def start(self, task_group: TaskGroup) -> None:  # pragma: no cover - no lifespan here
        return None

    def refresh_due(self) -> bool:  # pragma: no cover - only the middleware asks
        return False

    async def refresh_if_due(self) -> None:  # pragma: no cover
        return None

    async def aclose(self) -> None:  # pragma: no cover
        return None


async def _app(scope: Any, receive: Any, send: Any) -> None:  # pragma: no cover - never called
    pass


def verifier(keys: CountingKeys, **options: Any) -> Verifier:
    settings = JWTMiddleware(
        _app, algorithms=[SIGNER.alg], issuer=ISSUER, audience=AUDIENCE, key=SIGNER.public, **options
    ).settings
    return Verifier(settings, [Issuer(ISSUER, frozenset({AUDIENCE}), keys)])


async def test_a_repeated_token_is_verified_once_and_shares_one_verdict() -> None:
    keys = CountingKeys(SIGNER)
    v = verifier(keys)
    token = SIGNER.token()
    first, second = await v.verify(token), await v.verify(token)
    assert keys.checks == 1
    assert first is second  # the shared verdict; requests get claims_for_request()
    assert first.claims_for_request() is not first.claims


async def test_the_cache_is_bounded_and_least_recently_used_goes_first() -> None:
    keys = CountingKeys(SIGNER)
    v = verifier(keys, cache_size=2)
    a, b, c = (SIGNER.token(jti=name) for name in "abc")
    await v.verify(a)
    await v.verify(b)
    await v.verify(a)  # a is now the most recently used
    await v.verify(c)  # evicts b
    assert keys.checks == 3
    assert len(v.cache) == 2
    await v.verify(a)
    assert keys.checks == 3
    await v.verify(b)
    assert keys.checks == 4


async def test_cache_size_zero_verifies_every_time() -> None:
    keys = CountingKeys(SIGNER)
    v = verifier(keys, cache_size=0)
    token = SIGNER.token()
    await v.verify(token)
    await v.verify(token)
    assert keys.checks == 2
    assert len(v.cache) == 0


async def test_a_cached_token_whose_key_left_the_key_set_is_verified_again() -> None:
    keys = CountingKeys(SIGNER)
    v = verifier(keys)
    token = SIGNER.token()
    await v.verify(token)
    keys.keys = keys_from_material(make_signer("ES256").public, ["ES256"])  # a refresh dropped the key
    with pytest.raises(AuthError) as refused:
        await v.verify(token)
    assert refused.value.code == "signature_invalid"


async def test_lasting_refusals_are_remembered_and_passing_ones_are_not() -> None:
    keys = CountingKeys(SIGNER)
    v = verifier(keys)
    now = time.time()
    expired = SIGNER.token(exp=int(now) - 3600)
    for _ in range(3):
        with pytest.raises(AuthError, match="expired"):
            await v.verify(expired)
    assert keys.checks == 1

    forged = SIGNER.token()[:-4] + "AAAA"
    for _ in range(2):
        with pytest.raises(AuthError) as refused:
            await v.verify(forged)
        assert refused.value.code == "signature_invalid"
    assert keys.checks == 3  # not remembered: a key rotation could change this verdict

    early = SIGNER.token(nbf=int(now) + 600, iat=int(now), exp=int(now) + 3600)
    with pytest.raises(AuthError, match="not valid yet"):
        await v.verify(early, now=now)
    verified = await v.verify(early, now=now + 900)  # once its time has come, it passes
    assert verified.claims["nbf"] == int(now) + 600


async def test_a_huge_token_is_refused_before_it_is_hashed() -> None:
    keys = CountingKeys(SIGNER)
    v = verifier(keys, max_token_bytes=1024)
    huge = "a" * 2000
    for _ in range(2):
        with pytest.raises(AuthError) as refused:
            await v.verify(huge)
        assert refused.value.code == "token_too_large"
    assert v.cache.refusal(huge.encode()) is None  # nothing was remembered


async def test_a_cached_verdict_still_checks_the_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    app = app_for(SIGNER, leeway=0)
    token = SIGNER.token()
    async with client_for(app) as client:
        assert (await client.get("/", headers=bearer(token))).status_code == 200
        real_time = time.time
        monkeypatch.setattr(time, "time", lambda: real_time() + 3600)  # an hour later, the token has expired
        response = await client.get("/", headers=bearer(token))
    assert response.status_code == 401
    assert response.json()["code"] == "token_expired"


def test_the_verdict_cache_remembers_only_lasting_refusals_and_stays_bounded() -> None:
    cache: VerdictCache[str] = VerdictCache(2)
    for token in (b"a", b"b", b"c"):
        cache.remember(token, token.decode())
    assert cache.verdict(b"b") == "b"  # now the most recently used
    assert cache.verdicts() == ("c", "b")
    cache.remember_refusal(b"a", ErrorCode.SIGNATURE_INVALID.refusal())
    assert cache.refusal(b"a") is None
    cache.remember_refusal(b"a", ErrorCode.CLAIM_MISSING.refusal("The token has no sub claim."))
    remembered = cache.refusal(b"a")
    assert remembered is not None
    assert (remembered.code, remembered.description) == (ErrorCode.CLAIM_MISSING, "The token has no sub claim.")
    for token in (b"a", b"b", b"c"):
        cache.remember_refusal(token, ErrorCode.TOKEN_EXPIRED.refusal())
    assert cache.refusal(b"a") is None  # evicted: bounded like the verdicts
    cache.forget_where(lambda verdict: verdict in ("b", "c"))
    assert cache.verdicts() == ()
    off: VerdictCache[str] = VerdictCache(0)
    off.remember(b"a", "x")
    off.remember_refusal(b"a", ErrorCode.TOKEN_EXPIRED.refusal())
    assert (off.verdicts(), off.refusal(b"a")) == ((), None)
