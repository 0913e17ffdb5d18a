"""Token -> verdict: the compact JWS (`jws`), then the claims set (`claims`), with verdicts remembered (`cache`).

The one way in is `Verifier.verify(token)`. Written out rather than delegated to `jwt.decode`, for two reasons.
It is stricter: it refuses what PyJWT tolerates (see `jws`) and never lets a key verify an algorithm it is not
bound to. And it is cheaper: keys are prepared once, a header seen before is not parsed again, the signature is
checked before the payload is decoded, and a token verified before is found in a bounded cache whose hits still
re-check the clock, the key set and revocation. It never accepts a token that PyJWT's strict `jwt.decode`
rejects: tests/test_fuzz.py holds the two side by side.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence
from dataclasses import dataclass
from types import MappingProxyType

from .cache import VerdictCache
from .claims import Claims, ClaimsPolicy, copy_json, scopes_of
from .errors import ErrorCode, InvalidToken, KeyNotFound, KeysUnavailable
from .jws import (
    CompactJWS,
    HeaderPolicy,
    b64url_decode,
    decode_json_object,
    decode_payload,
    parse_compact,
    verify_signature,
)
from .keys import KeySet, KeySource, PreparedKey
from .revocation import RevocationCheck
from .settings import Settings

__all__ = ["Issuer", "Verified", "Verifier"]

# Arrays and objects allowed in a payload parsed before its signature is checked (see _decode_unsigned_claims).
_MAX_UNSIGNED_CONTAINERS = 256


@dataclass(frozen=True, slots=True)
class Issuer:
    """A provider ready for the request path: its `iss` (None: not checked), the audiences that fit, the keys."""

    name: str | None
    audiences: frozenset[str] | None
    keys: KeySource


@dataclass(slots=True)  # not frozen: a frozen dataclass costs three times as much to build on the request path
class Verified:
    """A token that passed every check. Shared by every request that presents the same token: read-only.

    `valid_from <= now < valid_until` is the window in which its time claims hold, so a cache hit re-checks
    the clock with two comparisons.
    """

    claims: Claims
    credentials: tuple[str, ...]  # "authenticated" and the granted scopes, for Starlette's AuthCredentials
    issuer: Issuer
    keys: KeySet  # the snapshot `key` was found in, so a cache hit can check it by identity
    key: PreparedKey
    valid_from: float
    valid_until: float
    # The claims whose values are arrays or objects, found once per verdict: those holding only strings, numbers,
    # booleans and nulls (`flat`), and the rest (`deep`), so that each request copies no more than it must.
    flat_containers: tuple[str, ...]
    deep_containers: tuple[str, ...]

    def claims_for_request(self) -> Claims:
        """A copy of the claims that no other request shares, at any depth: handlers may change it freely.

        `dict.copy()` isolates strings and numbers; arrays and objects are copied too, as JSON trees. Measured
        on a claim set with an object and an array claim: 0.4 us (0.2 us when flat), against 1.8 us to copy the
        whole tree, 3.4 us to decode the payload again and 7.4 us for `copy.deepcopy` (Python 3.11).
        """
        claims = self.claims.copy()
        for name in self.flat_containers:
            claims[name] = claims[name].copy()
        for name in self.deep_containers:
            claims[name] = copy_json(claims[name])
        return claims


def _containers(claims: Claims) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The names of the claims that are arrays or objects: (those holding only scalars, the others)."""
    names = [name for name, value in claims.items() if type(value) is dict or type(value) is list]
    if not names:
        return (), ()
    flat: list[str] = []
    deep: list[str] = []
    for name in names:
        value = claims[name]
        items = value.values() if type(value) is dict else value
        (deep if any(type(v) is dict or type(v) is list for v in items) else flat).append(name)
    return tuple(flat), tuple(deep)


class Verifier:
    """Verifies tokens for every configured provider, remembering verdicts in a bounded cache.

    >>> verified = await Verifier(settings, issuers).verify(token)
    >>> verified.claims["sub"]
    """

    def __init__(
        self, settings: Settings, issuers: Sequence[Issuer], *, is_revoked: RevocationCheck | None = None
    ) -> None:
        self._policy = HeaderPolicy(settings.algorithms, settings.typ)
        self._claims = ClaimsPolicy(leeway=settings.leeway, max_age=settings.max_age, required=settings.required_claims)
        self._max_bytes = settings.max_token_bytes
        self._scope_claims = settings.scope_claims
        self._is_revoked = is_revoked
        self._single = issuers[0] if len(issuers) == 1 else None
        self._by_name = {i.name: i for i in issuers}
        self.cache: VerdictCache[Verified] = VerdictCache(settings.cache_size)  # public: tests and health checks
        # Tokens verified in full (the cache had no verdict): metrics tell cache hits from misses by it.
        self.verifications = 0
        for issuer in issuers:
            issuer.keys.on_new_keys(functools.partial(self._forget_retired_keys, issuer))

    async def verify(self, token: bytes | str, now: float | None = None) -> Verified:
        """Every check, in order; raises an `AuthError` subclass on the first failure. The verdict is shared:
        hand requests `claims_for_request()`, never `claims`."""
        if isinstance(token, str):
            token = token.encode("utf-8", "surrogateescape")
        if len(token) > self._max_bytes:  # before hashing: a huge token costs nothing but this comparison
            raise ErrorCode.TOKEN_TOO_LARGE.refusal()
        if now is None:
            now = time.time()
        verified = self.cache.verdict(token)
        if verified is not None and verified.issuer.keys.remote:
            # A hit from remote keys holds only while its key is published: the set it was verified with is
            # compared by identity first, as a membership test is a Python-level __contains__ call (~0.5k instr.).
            # Static keys never change, so a hit from them skips even the current() call (~0.9k instr.).
            keys = verified.issuer.keys.current()
            if keys is not verified.keys and verified.key not in keys:
                verified = None
        if verified is None:
            refused = self.cache.refusal(token)
            if refused is not None:
                raise refused
            self.verifications += 1  # ~20 instructions, on a path that checks a signature (100k and up)
            verified = self.cache.remember(token, await self._verify_uncached(token, now))
        elif not verified.valid_from <= now < verified.valid_until:
            self._claims.time_window(verified.claims, now)  # raises the precise error (or agrees at an edge)
        if self._is_revoked is not None and await self._is_revoked(MappingProxyType(verified.claims_for_request())):
            raise ErrorCode.TOKEN_REVOKED.refusal()
        return verified

    def _forget_retired_keys(self, issuer: Issuer, keys: KeySet) -> None:
        """Drop the verdicts a key that has left `issuer`'s key set gave, as soon as the new set is in place."""
        self.cache.forget_where(lambda verified: verified.issuer is issuer and verified.key not in keys)

    async def _verify_uncached(self, token: bytes, now: float) -> Verified:
        jws = parse_compact(token, self._policy, self._max_bytes)
        claims: Claims | None = None
        issuer = self._issuer_by_kid(jws)
        if issuer is None:  # several providers, and the kid names none of them alone: the claims must choose
            claims = _decode_unsigned_claims(jws)
            issuer = self._issuer_by_iss(claims)
        # Otherwise the signature is checked before the payload is even decoded: an unsigned token then costs its
        # header check and one signature check, whatever its payload holds.
        keys = issuer.keys.current()
        try:
            key = verify_signature(jws, keys)
        except KeyNotFound:
            if jws.header.kid is None or not issuer.keys.may_refresh_for_unknown_kid():
                raise
            # A fetch is allowed only for a token that passed the allow-list and the issuer check, so an attacker
            # cannot make us fetch for tokens we would refuse anyway; the source rate-limits the rest.
            if claims is None:
                claims = decode_payload(jws)
                self._claims.check_issuer(claims, issuer.name)
            refreshed = await issuer.keys.refresh_for_unknown_kid()
            if refreshed is None:
                raise
            keys = refreshed
            key = verify_signature(jws, keys)
        try:
            if claims is None:
                claims = decode_payload(jws)
                self._claims.check_issuer(claims, issuer.name)
            valid_from, valid_until = self._claims.check(claims, issuer.audiences, now)
        except InvalidToken as exc:
            # Remembered only past the signature check, the work a retry is spared; a refusal before it costs less
            # to repeat than to remember, and a flood of distinct garbage would only churn the memory.
            self.cache.remember_refusal(token, exc)
            raise
        credentials = ("authenticated", *scopes_of(claims, self._scope_claims))
        return Verified(claims, credentials, issuer, keys, key, valid_from, valid_until, *_containers(claims))

    def _issuer_by_kid(self, jws: CompactJWS) -> Issuer | None:
        """The provider whose keys must have signed this token, when that is known without reading its claims."""
        if self._single is not None:
            return self._single
        header = jws.header
        if header.kid is None:
            return None
        owners = [issuer for issuer in self._by_name.values() if _publishes(issuer, header.kid, header.alg)]
        return owners[0] if len(owners) == 1 else None

    def _issuer_by_iss(self, claims: Claims) -> Issuer:
        iss = claims.get("iss")
        issuer = self._by_name.get(iss) if isinstance(iss, str) else None
        if issuer is None:
            raise ErrorCode.ISSUER_INVALID.refusal()
        return issuer


def _publishes(issuer: Issuer, kid: str, alg: str) -> bool:
    """Whether `issuer`'s current keys hold `kid` for `alg` (a provider without keys yet does not)."""
    try:
        keys = issuer.keys.current()
    except KeysUnavailable:
        return False
    return keys.has_kid(kid, alg)


def _decode_unsigned_claims(jws: CompactJWS) -> Claims:
    """Claims read before any signature vouches for them, with the parser's work bounded.

    Only needed when several providers could have signed the token and its `kid` does not say which. Nesting is
    what makes a hostile payload expensive (1800 nested empty arrays in 6 KB cost ~1 ms, against ~0.25 ms for a
    refused token of the same size), and nesting is bounded by the number of brackets, which bytes.count finds
    at C speed. Real claim sets hold a few dozen arrays and objects at most.
    """
    payload = b64url_decode(jws.payload_segment)
    if payload.count(b"[") + payload.count(b"{") > _MAX_UNSIGNED_CONTAINERS:
        raise ErrorCode.TOKEN_MALFORMED.refusal("The token payload is not a strict JSON object.")
    return decode_json_object(payload, "payload")
