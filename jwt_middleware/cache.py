"""Verdicts remembered per token: the tokens verified lately, and the refusals no later moment can reverse.

Keyed by a 128-bit BLAKE2b digest of the token, never the token: the cache holds no credential, and an entry
costs 16 bytes of key however long the token is. Both maps are LRU-bounded by the same size; size 0 turns the
cache off.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

from .errors import AuthError, ErrorCode

__all__ = ["VerdictCache"]

V = TypeVar("V")


class VerdictCache(Generic[V]):
    """An LRU of verdicts (`V`) and of lasting refusals, by token digest.

    >>> cache = VerdictCache[Verified](4096)
    >>> digest = cache.digest(token)
    >>> cache.verdict(digest) or cache.remember(digest, verify(token))
    """

    __slots__ = ("_refused", "_size", "_verdicts")

    def __init__(self, size: int) -> None:
        self._size = size
        self._verdicts: OrderedDict[bytes, V] = OrderedDict()
        self._refused: OrderedDict[bytes, tuple[ErrorCode, str]] = OrderedDict()

    def digest(self, token: bytes) -> bytes:
        """The key for `token`, or b"" when the cache is off."""
        return hashlib.blake2b(token, digest_size=16).digest() if self._size else b""

    def verdict(self, digest: bytes) -> V | None:
        verdict = self._verdicts.get(digest)
        if verdict is not None:
            self._verdicts.move_to_end(digest)
        return verdict

    def remember(self, digest: bytes, verdict: V) -> V:
        if digest:
            self._verdicts[digest] = verdict
            if len(self._verdicts) > self._size:
                self._verdicts.popitem(last=False)
        return verdict

    def forget_where(self, stale: Callable[[V], bool]) -> None:
        for digest in [d for d, verdict in self._verdicts.items() if stale(verdict)]:
            del self._verdicts[digest]

    def refusal(self, digest: bytes) -> AuthError | None:
        """The lasting refusal remembered for this digest, raised anew (each request gets its own exception)."""
        refused = self._refused.get(digest)
        return None if refused is None else refused[0].refusal(refused[1])

    def remember_refusal(self, digest: bytes, error: AuthError) -> None:
        if digest and error.code.lasting:
            self._refused[digest] = (error.code, error.description)
            if len(self._refused) > self._size:
                self._refused.popitem(last=False)

    def verdicts(self) -> tuple[V, ...]:
        """The verdicts held now, least recently used first."""
        return tuple(self._verdicts.values())

    def __len__(self) -> int:
        return len(self._verdicts)
