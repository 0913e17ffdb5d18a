"""Calls an ASGI app in-process, with no sockets and the same overhead for every app timed.

Each call gets a fresh copy of one http scope template, a `receive` that returns the request at once and a `send`
that drops every message; only `await app(scope, receive, send)` sits between the two clock reads.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import anyio
from starlette.types import ASGIApp, Message

BASE_HEADERS = [(b"host", b"bench.local"), (b"user-agent", b"bench/1"), (b"accept", b"*/*")]

_SCOPE: dict[str, Any] = {
    "type": "http",
    "asgi": {"version": "3.0", "spec_version": "2.4"},
    "http_version": "1.1",
    "method": "GET",
    "scheme": "http",
    "root_path": "",
    "query_string": b"",
    "client": ("127.0.0.1", 50000),
    "server": ("127.0.0.1", 8000),
}
_REQUEST: Message = {"type": "http.request", "body": b"", "more_body": False}


def bearer_headers(token: str) -> list[tuple[bytes, bytes]]:
    return [*BASE_HEADERS, (b"authorization", b"Bearer " + token.encode())]


async def _receive() -> Message:
    return _REQUEST


async def _discard(message: Message) -> None:
    return None


def request_scope(path: str, headers: object) -> dict[str, Any]:
    """A fresh http scope for one call: every harness (timed or counted) sends the same one."""
    return {**_SCOPE, "path": path, "raw_path": path.encode(), "headers": headers, "state": {}}


async def time_calls(app: ASGIApp, path: str, headers: Sequence[object], *, yield_to_loop: bool = False) -> list[int]:
    """One call per item of `headers`; returns each call's duration in ns. The garbage collector is off meanwhile.

    `yield_to_loop` lets the event loop run its other tasks before every call, outside the timed section: a call
    that finds its token in the cache never suspends, so without it no background task (the JWKS refresh loop)
    would ever run during a batch. The yield costs the same for every app timed this way.
    """
    clock = time.perf_counter_ns
    durations: list[int] = []
    record = durations.append
    checkpoint = anyio.sleep
    gc.collect()
    gc.disable()
    try:
        for item in headers:
            scope = request_scope(path, item)
            if yield_to_loop:
                await checkpoint(0)
            start = clock()
            await app(scope, _receive, _discard)
            record(clock() - start)
    finally:
        gc.enable()
    return durations


async def status_of(app: ASGIApp, path: str, headers: object) -> int:
    """The status an app answers with, to check each variant does what its row claims before it is timed."""
    messages: list[Message] = []

    async def send(message: Message) -> None:
        messages.append(message)

    await app(request_scope(path, headers), _receive, send)
    return int(messages[0]["status"]) if messages else 0


@dataclass(slots=True)
class Samples:
    """Every duration of one variant, kept per repetition."""

    repetitions: list[list[int]]

    @property
    def median_us(self) -> float:
        """The lowest of the per-repetition medians: a neighbour can only slow a batch down, never speed it up."""
        return min(statistics.median(r) for r in self.repetitions) / 1000

    @property
    def p99_us(self) -> float:
        pooled = sorted(d for r in self.repetitions for d in r)
        return pooled[min(len(pooled) - 1, int(len(pooled) * 0.99))] / 1000

    @property
    def spread_pct(self) -> float:
        """How far apart the repetitions' medians are, as a percentage of the overall median."""
        medians = [statistics.median(r) for r in self.repetitions]
        return 100 * (max(medians) - min(medians)) / statistics.median(medians)
