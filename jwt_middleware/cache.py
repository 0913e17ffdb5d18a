"""Verdicts remembered per token: the tokens verified lately, and the refusals no later moment can reverse.

Verdicts are keyed by the token itself, as Envoy's jwt_authn cache is: a lookup is a dict hit (~1k instructions
for a 600-byte RS256 token) where a 128-bit BLAKE2b digest costs ~11k, more than everything else a cache hit does
(`make bench-instr`). Only tokens that passed every check get there, so what is held are valid credentials, until
evicted: the same tokens the server's request buffers hold anyway. Refusals are keyed by `hash(token)`, since
their tokens are the attacker's choosing: an entry costs a small int however large the token. That hash is
SipHash with a key random per process; a collision could only make a valid token be refused (never accepted),
and finding one for a token the attacker does not know is out of reach. Both maps are LRU-bounded by the same
size; size 0 turns the cache off.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

from .errors import AuthError, ErrorCode

__all__ = ["VerdictCache"]

V = TypeVar("V")


class VerdictCache(Generic[V]):
    """An LRU of verdicts (`V`) by token, and of lasting refusals by token digest.

    >>> cache = VerdictCache[Verified](4096)
    >>> cache.verdict(token) or cache.remember(token, verify(token))
    >>> cache.remember_refusal(token, error); cache.refusal(token)   # an error that `lasts`
    """

    __slots__ = ("_refused", "_size", "_verdicts")

    def __init__(self, size: int) -> None:
        self._size = size
        self._verdicts: OrderedDict[bytes, V] = OrderedDict()
        self._refused: OrderedDict[int, tuple[ErrorCode, str]] = OrderedDict()

    def verdict(self, token: bytes) -> V | None:
        verdict = self._verdicts.get(token)
        if verdict is not None:
            self._verdicts.move_to_end(token)
        return verdict

    def remember(self, token: bytes, verdict: V) -> V:
        if self._size:
            self._verdicts[token] = verdict
            if len(self._verdicts) > self._size:
                self._verdicts.popitem(last=False)
        return verdict

    def forget_where(self, stale: Callable[[V], bool]) -> None:
        for digest in [d for d, verdict in self._verdicts.items() if stale(verdict)]:
            del self._verdicts[digest]

    def refusal(self, token: bytes) -> AuthError | None:
        """The lasting refusal remembered for `token`, as a new exception (each request gets its own)."""
        refused = self._refused.get(hash(token))
        return None if refused is None else refused[0].refusal(refused[1])

    def remember_refusal(self, token: bytes, error: AuthError) -> None:
        if self._size and error.code.lasting:
            self._refused[hash(token)] = (error.code, error.description)
            if len(self._refused) > self._size:
                self._refused.popitem(last=False)

    def verdicts(self) -> tuple[V, ...]:
        """The verdicts held now, least recently used first."""
        return tuple(self._verdicts.values())

    def __len__(self) -> int:
        return len(self._verdicts)
