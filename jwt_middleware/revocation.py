"""Revocation: `is_revoked(claims) -> bool` hooks for a `jti` denylist, in memory or in Redis.

The middleware awaits the hook on every request, after the signature and claims pass (cache hits included),
and refuses the token with `token_revoked` when it answers True.

>>> denylist = MemoryDenylist()                  # one process
>>> denylist = RedisDenylist(redis.asyncio.Redis.from_url("redis://127.0.0.1:6379"))  # many instances
>>> app.add_middleware(JWTMiddleware, ..., is_revoked=denylist)
>>> await denylist.revoke(claims["jti"], expires_at=claims["exp"])
"""

from __future__ import annotations

import heapq
import math
import time
from collections.abc import Awaitable, Mapping
from typing import Any, Protocol

__all__ = ["MemoryDenylist", "RedisDenylist", "RevocationCheck"]


class RevocationCheck(Protocol):
    """What `is_revoked=` takes: any async callable from verified claims to "is this token revoked?"."""

    def __call__(self, claims: Mapping[str, Any], /) -> Awaitable[bool]: ...


def _jti(claims: Mapping[str, Any]) -> str | None:
    jti = claims.get("jti")
    return jti if isinstance(jti, str) else None


class MemoryDenylist:
    """A `jti` denylist for a single process; an entry lives until the token it names would expire anyway.

    With several processes or hosts each would keep its own list: use `RedisDenylist` there.
    """

    def __init__(self, *, max_entries: int = 1_000_000) -> None:
        self._expiry: dict[str, float] = {}
        self._by_expiry: list[tuple[float, str]] = []  # a heap, so expired entries leave in O(log n)
        self._max_entries = max_entries

    def revoke(self, jti: str, *, expires_at: float) -> None:
        """Deny `jti` until `expires_at` (the token's `exp`, a Unix time)."""
        if not isinstance(jti, str) or not jti:
            raise ValueError("jti must be a non-empty string")
        self._purge(time.time())
        if len(self._expiry) >= self._max_entries:
            raise OverflowError("the denylist is full; raise max_entries or use RedisDenylist")
        self._expiry[jti] = max(expires_at, self._expiry.get(jti, -math.inf))
        heapq.heappush(self._by_expiry, (expires_at, jti))

    async def __call__(self, claims: Mapping[str, Any]) -> bool:
        jti = _jti(claims)
        if jti is None or not self._expiry:
            return False
        expires_at = self._expiry.get(jti)
        return expires_at is not None and expires_at > time.time()

    def __len__(self) -> int:
        self._purge(time.time())
        return len(self._expiry)

    def _purge(self, now: float) -> None:
        while self._by_expiry and self._by_expiry[0][0] <= now:
            expires_at, jti = heapq.heappop(self._by_expiry)
            if self._expiry.get(jti) == expires_at:
                del self._expiry[jti]


class AsyncRedis(Protocol):
    """The two commands `RedisDenylist` needs from a `redis.asyncio.Redis` client."""

    def exists(self, *names: str) -> Awaitable[int]: ...

    def set(self, name: str, value: str, *, exat: int) -> Awaitable[Any]: ...


class RedisDenylist:
    """A `jti` denylist shared by every instance through Redis; keys expire with the tokens (EXAT).

    Each check is one `EXISTS` round trip. If Redis is down the check raises, and the middleware refuses the
    token (401 `token_invalid`): failing closed is the safe default for a revocation list.
    """

    def __init__(self, client: AsyncRedis, *, prefix: str = "jwt_middleware:revoked:") -> None:
        self._client = client
        self._prefix = prefix

    async def revoke(self, jti: str, *, expires_at: float) -> None:
        """Deny `jti` until `expires_at` (the token's `exp`); past that Redis drops the key itself."""
        if not isinstance(jti, str) or not jti:
            raise ValueError("jti must be a non-empty string")
        if expires_at <= time.time():
            return  # already expired: nothing to deny
        await self._client.set(self._prefix + jti, "1", exat=math.ceil(expires_at))

    async def __call__(self, claims: Mapping[str, Any]) -> bool:
        jti = _jti(claims)
        if jti is None:
            return False
        return bool(await self._client.exists(self._prefix + jti))
