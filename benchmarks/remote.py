"""Remote keys: a JWKS served over loopback by the testing kit's server, and the two benchmarks that need one.

- The unknown-`kid` flood is a row of the main table (see `run.py`); this module serves its JWKS and counts fetches.
- `background_refresh` times the same token through two JWKS-backed apps, one refreshing its keys every 0.05 s
  and one not refreshing while timed, to show that the refresh loop does not slow requests down.

Both apps run under `asgi_lifespan.LifespanManager`, as under a server: keys are fetched at startup and the
refresh loop runs in the middleware's task group, in the same event loop as the timed calls.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

from asgi_lifespan import LifespanManager
from starlette.types import ASGIApp

from benchmarks import apps
from benchmarks.harness import Samples, status_of, time_calls
from jwt_middleware.testing import LocalServer


def jwks_server(jwks: dict[str, Any]) -> LocalServer:
    """The testing kit's server on 127.0.0.1 serving `jwks` at every `*.json` path; use it as a context manager.

    >>> with jwks_server({"keys": [jwk]}) as server:
    ...     app = apps.ours_remote("RS256", server.url + "/flood.json"); server.hits["/flood.json"]
    """
    server = LocalServer()
    server.jwks = jwks  # served with a Content-Length and no Cache-Control: the refresh interval is the configured one
    return server


@dataclass(frozen=True, slots=True)
class RefreshResult:
    """One variant of the background-refresh benchmark: its timings and the fetches made while it was timed."""

    label: str
    samples: Samples
    fetches_while_timed: int


async def background_refresh(
    server: LocalServer, headers: Sequence[object], *, interval: float, calls: int, reps: int, warmup: int
) -> tuple[RefreshResult, RefreshResult]:
    """The same valid token through an app that refreshes every `interval` s and one that does not while timed.

    Both are timed by `time_calls(..., yield_to_loop=True)` (one loop yield before every call, untimed), in interleaved
    repetitions in a random order; fetches are counted only while a variant's own batch runs.
    """
    paths = {"refreshing": "/refreshing.json", "still": "/still.json"}
    intervals = {"refreshing": interval, "still": 3600.0}
    labels = {
        "refreshing": f"keys refreshed every {interval:g} s",
        "still": f"no refresh while timed ({intervals['still']:g} s)",
    }
    built = {
        name: apps.ours_remote("RS256", server.url + paths[name], refresh_interval=intervals[name]) for name in paths
    }
    durations: dict[str, list[list[int]]] = {name: [] for name in paths}
    fetches = dict.fromkeys(paths, 0)
    async with AsyncExitStack() as stack:
        for app in built.values():
            await stack.enter_async_context(LifespanManager(app))  # fetches the keys, starts the refresh loop
        for name, app in built.items():
            await _expect(app, headers[0], 200, labels[name])
            await time_calls(app, "/", headers[:warmup], yield_to_loop=True)
        order = list(paths)
        for rep in range(reps):
            random.Random(rep).shuffle(order)
            for name in order:
                before = server.hits[paths[name]]
                durations[name].append(await time_calls(built[name], "/", headers[:calls], yield_to_loop=True))
                fetches[name] += server.hits[paths[name]] - before
    refreshing, still = (RefreshResult(labels[n], Samples(durations[n]), fetches[n]) for n in ("refreshing", "still"))
    return refreshing, still


async def _expect(app: ASGIApp, headers: object, status: int, label: str) -> None:
    if (answered := await status_of(app, "/", headers)) != status:
        raise SystemExit(f"{label}: expected HTTP {status}, got {answered}")


def print_refresh(results: Sequence[RefreshResult], calls: int, reps: int) -> None:
    print(
        f"\nBackground JWKS refresh (RS256 remote keys, the same token on every call; {reps} interleaved repetitions x "
        f"{calls} calls, one untimed loop yield before each call)"
    )
    head = f"{'variant':<56} {'median µs':>10} {'p99 µs':>9} {'p99.9 µs':>9} {'fetches while timed':>20}"
    print(head)
    print("-" * len(head))
    for r in results:
        pooled = sorted(d for rep in r.samples.repetitions for d in rep)
        p999 = pooled[min(len(pooled) - 1, int(len(pooled) * 0.999))] / 1000
        print(
            f"{r.label:<56} {r.samples.median_us:>10.1f} {r.samples.p99_us:>9.1f} {p999:>9.1f} "
            f"{r.fetches_while_timed:>20}"
        )
    if results and results[0].fetches_while_timed == 0:
        print("!! no refresh happened while the refreshing variant was timed: its row proves nothing", file=sys.stderr)
