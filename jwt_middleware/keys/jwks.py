"""Keys fetched from a JWKS URL (RFC 7517 section 5), refreshed ahead of expiry and kept through outages.

How the keys stay fresh depends on whether the server runs the ASGI lifespan:

- With a lifespan (uvicorn, hypercorn and `LifespanManager` do by default) `start()` fetches once at startup and
  runs a refresh loop in the middleware's task group until shutdown cancels it: no request ever waits for a fetch
  except the rate-limited one an unknown `kid` asks for.
- Without one there is nowhere to run a loop between requests (anyio has no detached tasks), so the middleware
  calls `refresh_if_due()` before verifying. The first request fetches and concurrent ones wait for that same
  fetch; later, the one request that finds the keys due fetches while the others go on with the keys they have.

When to fetch: every `refresh_interval` (300 s by default), or the response's `Cache-Control: max-age` clamped to
[min(60 s, refresh_interval), 24 h], at 85-95 % of it so that the keys are renewed before they expire. A failed
fetch is retried after 1 s (or the shortest interval if smaller), doubling up to that shortest interval, with
jitter. An unknown `kid` may cause one fetch per `cooldown`; tokens that arrive while it is running share it, and
tokens that arrive during the cooldown are refused at once rather than queued.

What survives an outage: a response that is not a 200 with a JSON body under 1 MiB (read as it streams and cut
off there), that redirects, times out or yields no usable key never replaces the keys in use. Those keep serving
until `max_stale` seconds past their expiry, with a warning that says how stale they are; after that, and before
the first keys ever arrive, requests get 503 with `Retry-After`.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import AsyncIterator, Callable, Collection
from contextlib import asynccontextmanager

import anyio
import httpx
from anyio.abc import TaskGroup, TaskStatus

from ..errors import ConfigurationError, FetchError, KeysUnavailable, StartupError
from .discovery import Discovery
from .events import FetchResult, KeyEvents, KeyStatus
from .fetch import Fetched, JWKSOptions, fetch_json, new_client, redact, refresh_interval
from .keyset import KeySet
from .loading import keys_from_jwks

__all__ = ["MAX_JWKS_KEYS", "JWKSKeys"]

logger = logging.getLogger("jwt_middleware.keys")

MAX_JWKS_KEYS = 100  # parsing is CPU work on the event loop; real sets hold a handful of keys


class JWKSKeys:
    """A `KeySource` over a remote JWKS, at a fixed URL or at the `jwks_uri` that OIDC discovery names.

    >>> keys = JWKSKeys("https://login.example.com/.well-known/jwks.json", algorithms=["RS256"])
    """

    remote = True

    def __init__(
        self,
        url: str | None,
        *,
        algorithms: Collection[str],
        options: JWKSOptions | None = None,
        discovery: Discovery | None = None,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        if (url is None) == (discovery is None):
            raise ConfigurationError("JWKSKeys needs exactly one of url and discovery")
        self._url = url or ""
        self._discovery = discovery
        # Where the keys come from, for log lines.
        self.where = f"the jwks_uri of {redact(discovery.url)}" if discovery is not None else redact(self._url)
        self._algorithms = frozenset(algorithms)
        self._options = options = options or JWKSOptions()
        self._http_client = http_client  # the caller's: used, never closed
        self._client: httpx.AsyncClient | None = None  # ours, while a lifespan runs
        self._retry_after = min(30, max(1, math.ceil(options.shortest_interval)))
        self._keys: KeySet | None = None
        self._digest: bytes | None = None
        self._expires = -math.inf  # monotonic time after which the keys are stale
        self._next_attempt = -math.inf
        self._failures = 0
        self._last_kid_refresh = -math.inf
        self._last_problem = "no fetch has been made yet"
        self._in_flight: anyio.Event | None = None
        self._running = False
        self._loop_scope: anyio.CancelScope | None = None
        self._loop_done: anyio.Event | None = None
        self._listeners: list[Callable[[KeySet], object]] = []
        # Key events logged once each, fetch results for metrics, state for health checks (see keys/events.py).
        self.events = KeyEvents(self.where)

    def current(self) -> KeySet:
        keys = self._keys
        if keys is None or time.monotonic() > self._expires + self._options.max_stale:
            if keys is not None:  # the keys went past jwks_max_stale between fetches: logged once
                self.events.unavailable(f"the keys from {self.where} are past jwks_max_stale; requests get 503")
            raise KeysUnavailable(self._retry_after)
        return keys

    def status(self) -> KeyStatus:
        """The state of these keys for a health check: count, usable now, age, staleness, last fetch."""
        now = time.monotonic()
        keys = self._keys
        confirmed = self.events.confirmed_at
        return KeyStatus(
            keys=0 if keys is None else len(keys),
            usable=keys is not None and now <= self._expires + self._options.max_stale,
            age=None if keys is None else now - confirmed,
            staleness=0.0 if keys is None else max(0.0, now - self._expires),
            last_fetch=self.events.last_fetch,
            last_problem=self._last_problem or None,
        )

    def may_refresh_for_unknown_kid(self) -> bool:
        return self._in_flight is not None or time.monotonic() - self._last_kid_refresh >= self._options.cooldown

    async def refresh_for_unknown_kid(self) -> KeySet | None:
        before = self._keys
        if self._in_flight is None:
            now = time.monotonic()
            if now - self._last_kid_refresh < self._options.cooldown:
                return None  # refused at once: a flood of made-up kids must not queue, nor reach the endpoint
            self._last_kid_refresh = now
        await self._refresh(shield=True)
        keys = self._keys
        return keys if keys is not None and keys is not before else None

    def refresh_due(self) -> bool:
        """Whether a request should call `refresh_if_due()`: only without a lifespan, and cheap to ask."""
        return not self._running and (self._keys is None or time.monotonic() >= self._next_attempt)

    async def refresh_if_due(self) -> None:
        """Without a lifespan: fetch if the keys are missing or due; with none yet, wait for a fetch in flight."""
        if self._in_flight is not None:
            if self._keys is None:
                await self._in_flight.wait()
            return
        if time.monotonic() >= self._next_attempt:
            await self._refresh(shield=True)

    def on_new_keys(self, listener: Callable[[KeySet], object]) -> None:
        self._listeners.append(listener)

    def on_fetch(self, listener: Callable[[FetchResult], object]) -> None:
        self.events.on_fetch(listener)

    async def start(self, task_group: TaskGroup) -> None:
        if self._running:
            return
        if self._http_client is None and self._client is None:
            self._client = new_client(self._options.timeout)
        await self._refresh(shield=False)
        if self._keys is None and self._options.required_at_startup:
            await self.aclose()
            raise StartupError(
                f"jwks_required_at_startup=True and no usable keys came from {self.where}: {self._last_problem}"
            )
        await task_group.start(self._refresh_loop)
        self._running = True

    async def aclose(self) -> None:
        self._running = False
        if self._loop_scope is not None and self._loop_done is not None:  # both are set as the loop starts
            self._loop_scope.cancel()
            await self._loop_done.wait()
        self._loop_scope = self._loop_done = None
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    async def _refresh_loop(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        self._loop_done = done = anyio.Event()
        try:
            with anyio.CancelScope() as self._loop_scope:
                task_status.started()
                while True:
                    # A request may have refreshed meanwhile and moved the next attempt: check again on waking.
                    delay = self._next_attempt - time.monotonic()
                    if delay > 0:
                        await anyio.sleep(delay)
                    else:
                        await self._refresh(shield=False)
        finally:
            done.set()

    async def _refresh(self, *, shield: bool) -> None:
        """One fetch at a time: a caller that finds one in flight waits for it instead of starting another."""
        if self._in_flight is not None:
            await self._in_flight.wait()
            return
        self._in_flight = event = anyio.Event()
        try:
            # A fetch a request started is finished even if that request goes away: others may be waiting on it.
            # It is bounded by the timeout, so a shielded fetch cannot hold up a shutdown for long.
            with anyio.CancelScope(shield=shield):
                await self._fetch_and_install()
        finally:
            self._in_flight = None
            event.set()

    async def _fetch_and_install(self) -> None:
        try:
            async with self._client_for_fetch() as client:
                if self._discovery is not None:
                    url = await self._discovery.jwks_uri(client, self._options)
                else:
                    url = self._url
                fetched = await fetch_json(client, url, self._options)
            keys = None if fetched.digest == self._digest else self._parse(fetched.document)
        except FetchError as exc:
            self._failed(str(exc))
            return
        except Exception as exc:  # nothing the endpoint sends may stop the refreshing
            self._failed(f"unexpected {type(exc).__name__}")
            return
        self._installed(keys, fetched)

    @asynccontextmanager
    async def _client_for_fetch(self) -> AsyncIterator[httpx.AsyncClient]:
        client = self._http_client or self._client
        if client is not None:
            yield client
            return
        # Without a lifespan nothing could close a long-lived client, so each fetch has its own.
        async with new_client(self._options.timeout) as client:
            yield client

    def _parse(self, document: object) -> KeySet:
        listed = document.get("keys") if isinstance(document, dict) else None
        if isinstance(listed, list) and len(listed) > MAX_JWKS_KEYS:
            raise FetchError(f"the JWKS has {len(listed)} keys, more than the {MAX_JWKS_KEYS} accepted")
        keys, problems = keys_from_jwks(document, self._algorithms, remote=True)
        for problem in problems:
            # A published private key is an incident at the identity provider, not a detail.
            level = logging.ERROR if "private key" in problem else logging.WARNING
            logger.log(level, "%s: left out %s", self.where, problem, extra={"jwt_event": "key_left_out"})
        if not keys:
            raise FetchError("the JWKS holds no usable key for the configured algorithms")
        return KeySet(keys).carry_over(self._keys)

    def _installed(self, keys: KeySet | None, fetched: Fetched) -> None:
        now = time.monotonic()
        interval = refresh_interval(fetched.max_age, self._options)
        previous = self._keys
        if keys is not None:
            self._keys = keys
            self._digest = fetched.digest
            for listener in self._listeners:
                listener(keys)
        self._failures = 0
        self._last_problem = ""
        self._expires = now + interval
        self._next_attempt = now + interval * random.uniform(0.85, 0.95)  # noqa: S311 - jitter, not secrecy
        self.events.installed(previous, keys)

    def _failed(self, problem: str) -> None:
        now = time.monotonic()
        self._failures += 1
        self._last_problem = problem
        cap = self._options.shortest_interval
        delay = min(cap, min(1.0, cap) * 2 ** min(self._failures - 1, 30)) * random.uniform(0.75, 1.0)  # noqa: S311
        self._next_attempt = now + delay
        self.events.failed(
            problem,
            has_keys=self._keys is not None,
            staleness=now - self._expires,
            max_stale=self._options.max_stale,
            retry=delay,
        )
