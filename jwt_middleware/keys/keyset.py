"""`KeySet`: an immutable snapshot of verification keys, each bound to one algorithm, indexed for the request path.

`keys.loading` builds them from whatever a user or an identity provider hands over.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field

from .algorithms import SignatureCheck

__all__ = ["MAX_CANDIDATES", "KeySet", "PreparedKey", "describe"]

MAX_CANDIDATES = 16  # keys tried for one token: bounds the work a token without `kid` can cause


@dataclass(frozen=True, slots=True, eq=False)
class PreparedKey:
    """One key bound to one algorithm, with its signature check ready to call."""

    kid: str | None
    alg: str
    check: SignatureCheck = field(repr=False)
    # SHA-256 of the key material (the secret, or the public key's DER): the same key in the next fetched set.
    fingerprint: bytes = field(repr=False, default=b"")


class KeySet:
    """An immutable snapshot of verification keys, indexed for the request path.

    >>> keys = keys_from_material(public_pem, algorithms=["RS256"])   # from keys.loading
    >>> keys.for_token("RS256", kid=None)
    """

    __slots__ = ("_by_alg", "_by_kid", "_members", "_without_kid", "keys")

    def __init__(self, keys: Iterable[PreparedKey] = ()) -> None:
        self.keys = tuple(keys)
        self._members = frozenset(self.keys)
        by_kid: dict[tuple[str, str], list[PreparedKey]] = {}
        by_alg: dict[str, list[PreparedKey]] = {}
        without_kid: dict[str, list[PreparedKey]] = {}
        for key in self.keys:
            by_alg.setdefault(key.alg, []).append(key)
            if key.kid is None:
                without_kid.setdefault(key.alg, []).append(key)
            else:
                by_kid.setdefault((key.kid, key.alg), []).append(key)
        self._by_kid = {k: tuple(v[:MAX_CANDIDATES]) for k, v in by_kid.items()}
        self._by_alg = {k: tuple(v[:MAX_CANDIDATES]) for k, v in by_alg.items()}
        self._without_kid = {k: tuple(v[:MAX_CANDIDATES]) for k, v in without_kid.items()}

    def carry_over(self, previous: KeySet | None) -> KeySet:
        """This set, with each key that `previous` already held replaced by that same object.

        Verdicts cached for a key stay valid while the key stays published, and membership is by identity.
        """
        if previous is None:
            return self
        held = {(k.kid, k.alg, k.fingerprint): k for k in previous.keys}
        return KeySet(held.get((k.kid, k.alg, k.fingerprint), k) for k in self.keys)

    def for_token(self, alg: str, kid: str | None) -> tuple[PreparedKey, ...]:
        """The keys to try for a token: those with its `kid`, else those that have no `kid` at all."""
        if kid is None:
            return self._by_alg.get(alg, ())
        found = self._by_kid.get((kid, alg))
        if found is not None:
            return found
        return self._without_kid.get(alg, ())

    def has_kid(self, kid: str | None, alg: str) -> bool:
        """Whether a key published under exactly this `kid` verifies `alg` (no fallback to keys without a kid)."""
        return (kid, alg) in self._by_kid

    def __contains__(self, key: object) -> bool:
        return key in self._members

    def __len__(self) -> int:
        return len(self.keys)

    def __repr__(self) -> str:
        return f"KeySet({[(k.kid, k.alg) for k in self.keys]!r})"


def describe(keys: KeySet) -> str:
    """A loggable summary of a key set: kids and algorithms, never key material."""
    return json.dumps([[k.kid, k.alg] for k in keys.keys])
