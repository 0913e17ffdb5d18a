"""Remote keys: a JWKS served over loopback by a real uvicorn server, and the two benchmarks that need one.

- The unknown-`kid` flood is a row of the main table (see `run.py`); this module serves its JWKS and counts fetches.
- `background_refresh` times the same token through two JWKS-backed apps, one refreshing its keys every 0.05 s
  and one not refreshing while timed, to show that the refresh loop does not slow requests down.

Both apps run under `asgi_lifespan.LifespanManager`, as under a server: keys are fetched at startup and the
refresh loop runs in the middleware's task group, in the same event loop as the timed calls.
"""

from __future__ import annotations

import json
import random
import sys
import threading
import time
from collections import Counter
from collections.abc import Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import uvicorn
from asgi_lifespan import LifespanManager
from starlette.types import ASGIApp, Receive, Scope, Send

from benchmarks import apps
from benchmarks.harness import Samples, status_of, time_calls

HOST = "127.0.0.1"


class JWKSServer:
    """A JWKS at `url(path)` for any path, on an ephemeral loopback port; uvicorn runs in a thread of its own.

    >>> with JWKSServer({"keys": [jwk]}) as server:
    ...     app = apps.ours_remote("RS256", server.url("/flood.json")); server.hits["/flood.json"]
    """

    def __init__(self, jwks: dict[str, Any]) -> None:
        # Served with a Content-Length and no Cache-Control: the refresh interval is the configured one.
        self._body = json.dumps(jwks).encode()
        self.hits: Counter[str] = Counter()  # fetches per path; written by the server's thread
        self.port = 0
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def url(self, path: str) -> str:
        return f"http://{HOST}:{self.port}{path}"

    def __enter__(self) -> JWKSServer:
        config = uvicorn.Config(
            self._app,
            host=HOST,
            port=0,
            lifespan="off",
            log_level="warning",
            access_log=False,
            loop="asyncio",
            interface="asgi3",
        )
        self._server = server = uvicorn.Server(config)
        self._thread = threading.Thread(target=server.run, name="jwks-server", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                self.__exit__()
                raise RuntimeError(f"the JWKS server did not start on {HOST}")
            time.sleep(0.005)
        self.port = server.servers[0].sockets[0].getsockname()[1]
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
        self._server = self._thread = None

    async def _app(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.hits[scope["path"]] += 1
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(self._body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": self._body})


@dataclass(frozen=True, slots=True)
class RefreshResult:
    """One variant of the background-refresh benchmark: its timings and the fetches made while it was timed."""

    label: str
    samples: Samples
    fetches_while_timed: int


async def background_refresh(
    server: JWKSServer, headers: Sequence[object], *, interval: float, calls: int, reps: int, warmup: int
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
        name: apps.ours_remote("RS256", server.url(paths[name]), refresh_interval=intervals[name]) for name in paths
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
