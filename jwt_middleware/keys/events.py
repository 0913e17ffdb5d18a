"""What happens to a remote key set, logged once per event, counted for metrics, and kept for health checks.

A `JWKSKeys` source reports each fetch here; `KeyEvents` turns the stream of fetches into the events an operator
wants, each logged once on the `jwt_middleware.keys` logger:

    event            level    when
    keys_fetched     INFO     the first usable key set arrived
    keys_rotated     INFO     a new set replaced the old one: the kids that came in and went out
    keys_unchanged   DEBUG    a fetch brought the same set (INFO when it ends a run of failures)
    fetch_failed     WARNING  the first failure of a run (later ones of the same run: DEBUG)
    serving_stale    WARNING  a failure found the keys past their expiry, still within jwks_max_stale
    unavailable      ERROR    requests get 503: no keys yet, or the last ones are past jwks_max_stale
    available        WARNING  the keys are back after requests got 503

The event name is in each record's `jwt_event` attribute, for log pipelines that filter on it.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from .keyset import KeySet, PreparedKey, describe

__all__ = ["FetchResult", "KeyEvents", "KeyStatus"]

logger = logging.getLogger("jwt_middleware.keys")

# The result of one fetch, as metrics label it: a new set, the same set, or nothing usable.
FetchResult = str
UPDATED, UNCHANGED, FAILED = "updated", "unchanged", "failed"


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyStatus:
    """A key source's state for a health check.

    `age` is the seconds since the keys in use were last confirmed by a fetch (None: never fetched);
    `staleness` how far past their expiry they are (0 while fresh); `usable` whether a token can be checked now.
    """

    keys: int
    usable: bool
    age: float | None
    staleness: float
    last_fetch: FetchResult | None
    last_problem: str | None


class KeyEvents:
    """The event log and fetch listeners of one remote key source.

    >>> events = KeyEvents("https://login.example.com/jwks.json")
    >>> events.on_fetch(lambda result: print(result))   # "updated", "unchanged" or "failed"
    """

    __slots__ = ("_failing", "_listeners", "_stale_logged", "_unavailable", "confirmed_at", "last_fetch", "where")

    def __init__(self, where: str) -> None:
        self.where = where
        self._listeners: list[Callable[[FetchResult], object]] = []
        self._failing = False
        self._stale_logged = False
        self._unavailable = False
        self.last_fetch: FetchResult | None = None
        self.confirmed_at = -math.inf  # monotonic time of the last fetch that brought usable keys

    def on_fetch(self, listener: Callable[[FetchResult], object]) -> None:
        """Call `listener` with the result of every fetch."""
        self._listeners.append(listener)

    def installed(self, previous: KeySet | None, keys: KeySet | None) -> None:
        """A fetch brought usable keys: `keys` replaced `previous`, or (None) the set is unchanged."""
        self.confirmed_at = time.monotonic()
        if keys is None:
            level = logging.INFO if self._failing else logging.DEBUG
            _log(level, "keys_unchanged", "%s answers%s; the keys are unchanged", self.where, self._again())
        elif previous is None:
            _log(logging.INFO, "keys_fetched", "%s: using %d keys %s", self.where, len(keys), _kids(keys.keys))
        else:
            came = [k for k in keys.keys if k not in previous]
            went = [k for k in previous.keys if k not in keys]
            _log(
                logging.INFO,
                "keys_rotated",
                "%s: keys rotated, in %s, out %s; using %d keys",
                self.where,
                _kids(came),
                _kids(went),
                len(keys),
            )
        if self._unavailable:
            _log(logging.WARNING, "available", "%s: keys are available again; requests are verified", self.where)
        self._failing = self._stale_logged = self._unavailable = False
        self._notify(UNCHANGED if keys is None else UPDATED)

    def failed(self, problem: str, *, has_keys: bool, staleness: float, max_stale: float, retry: float) -> None:
        """A fetch brought nothing usable; `staleness` is how far past their expiry the keys in use are."""
        if not has_keys:
            self.unavailable(f"no keys from {self.where}: {problem}; requests get 503 until keys arrive")
        elif staleness > max_stale:
            self.unavailable(
                f"could not refresh keys from {self.where}: {problem}; the last keys are {staleness:.1f} s stale, "
                f"past jwks_max_stale={max_stale:g} s, so requests get 503"
            )
        elif staleness > 0 and not self._stale_logged:
            self._stale_logged = True
            _log(
                logging.WARNING,
                "serving_stale",
                "could not refresh keys from %s: %s; serving keys %.1f s stale, until jwks_max_stale=%g s",
                self.where,
                problem,
                staleness,
                max_stale,
            )
        else:
            level = logging.DEBUG if self._failing else logging.WARNING
            state = "stale" if staleness > 0 else "still fresh"
            _log(
                level,
                "fetch_failed",
                "could not refresh keys from %s: %s; the current keys are %s (retry in %.1f s)",
                self.where,
                problem,
                state,
                retry,
            )
        self._failing = True
        self._notify(FAILED)

    def unavailable(self, message: str) -> None:
        """Requests get 503 from now on: logged once until keys are back. Cheap to call again."""
        if not self._unavailable:
            self._unavailable = True
            _log(logging.ERROR, "unavailable", "%s", message)

    def _again(self) -> str:
        return " again" if self._failing else ""

    def _notify(self, result: FetchResult) -> None:
        self.last_fetch = result
        for listener in self._listeners:
            listener(result)


def _log(level: int, event: str, message: str, *args: object) -> None:
    logger.log(level, message, *args, extra={"jwt_event": event})


def _kids(keys: Iterable[PreparedKey]) -> str:
    """Kids and algorithms of some keys, never key material: `[["k1","RS256"]]`."""
    return describe(KeySet(keys))
