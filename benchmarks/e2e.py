"""End to end: the bench app under uvicorn on 127.0.0.1, driven by wrk, with and without JWTMiddleware (RS256).

    python -m benchmarks.e2e            # 2 repetitions x 5 s per app; exits 1 if the throughput budget is missed
    python -m benchmarks.e2e --smoke    # 1 repetition x 1 s, enforces nothing
    python -m benchmarks.e2e --calibrate  # also a do-nothing middleware and one that burns a known CPU time

Why calibrate: with wrk on the same small machine, a middleware's cost shows in the throughput two to three times
over (see the README), so the ratio alone says little about the middleware; the calibration rows say how much.

Needs `wrk` on PATH: `apt-get install -y wrk` (Debian/Ubuntu, as root), `brew install wrk` (macOS).
Both servers listen on loopback only and are stopped on exit, on error and on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import importlib.util
import math
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from starlette.types import ASGIApp, Receive, Scope, Send

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from benchmarks import apps
from benchmarks.run import BUDGETS
from benchmarks.tokens import make_signer

HOST = "127.0.0.1"
ROOT = Path(__file__).resolve().parent.parent
_VARIANT, _KEY = "BENCH_E2E_VARIANT", "BENCH_E2E_KEY"
BURN_US = 5  # the CPU time the calibration middleware burns per request
LABELS = {
    "bare": "bare Starlette app",
    "ours": "with JWTMiddleware",
    "passthrough": "pure ASGI passthrough",
    "burn": f"pure ASGI, burns {BURN_US} µs",
}


class _Burn:
    """Calibration: a pure ASGI middleware that spends `microseconds` of CPU per http request, then calls the app."""

    def __init__(self, app: ASGIApp, microseconds: int) -> None:
        self.app = app
        self.nanoseconds = microseconds * 1000

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.nanoseconds:
            clock = time.perf_counter_ns
            end = clock() + self.nanoseconds
            while clock() < end:
                pass
        await self.app(scope, receive, send)


def server_app() -> ASGIApp:
    """The uvicorn factory (`--factory benchmarks.e2e:server_app`): the bare app, behind ours or a calibration one."""
    variant = os.environ[_VARIANT]
    if variant == "ours":
        return apps.ours("RS256", os.environ[_KEY])
    if variant in ("passthrough", "burn"):
        return _Burn(apps.bare(), BURN_US if variant == "burn" else 0)
    return apps.bare()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _ready(port: int) -> bool:
    connection = http.client.HTTPConnection(HOST, port, timeout=1)
    try:
        connection.request("GET", "/health")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


@dataclass(frozen=True, slots=True)
class Server:
    url: str
    pid: int


@contextlib.contextmanager
def serve(variant: str, public_key: str) -> Iterator[Server]:
    """Run one uvicorn worker for `variant` on a free loopback port; yield its URL and pid; always stop it."""
    port = _free_port()
    command = [sys.executable, "-m", "uvicorn", "--factory", "benchmarks.e2e:server_app"]
    command += ["--host", HOST, "--port", str(port), "--no-access-log", "--log-level", "warning"]
    env = {**os.environ, _VARIANT: variant, _KEY: public_key}
    # The server's stderr goes to a file, not a pipe nobody reads while it runs (a full pipe would stall it).
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log)  # noqa: S603
        try:
            deadline = time.monotonic() + 20
            while not _ready(port):
                if process.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    output = log.read().decode(errors="replace")
                    raise RuntimeError(f"uvicorn ({variant}) did not start on {HOST}:{port}\n{output}")
                time.sleep(0.1)
            yield Server(f"http://{HOST}:{port}/", process.pid)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@dataclass(frozen=True, slots=True)
class WrkResult:
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    cpu_us: float = math.nan  # the server's CPU time (user + system) per request, where /proc tells it


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of process `pid` (Linux /proc; NaN elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return math.nan
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(value) * _UNITS[unit]


def wrk(server: Server, token: str, *, threads: int, connections: int, seconds: int) -> WrkResult:
    url = server.url
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    command += ["-H", f"Authorization: Bearer {token}", url]
    cpu_before = _cpu_seconds(server.pid)
    result = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60, check=True)  # noqa: S603
    cpu = _cpu_seconds(server.pid) - cpu_before
    out = result.stdout
    if "Non-2xx or 3xx responses" in out or "Socket errors" in out:
        raise RuntimeError(f"wrk saw failed requests against {url}:\n{out}")
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    count = re.search(r"(\d+) requests in", out)
    p50, p99 = (re.search(rf"^\s+{p}%\s+(\S+)", out, re.MULTILINE) for p in (50, 99))
    if not (rps and p50 and p99 and count):
        raise RuntimeError(f"could not read wrk's output:\n{out}")
    cpu_us = 1e6 * cpu / max(1, int(count.group(1)))
    return WrkResult(float(rps.group(1)), _ms(p50.group(1)), _ms(p99.group(1)), cpu_us)


def _stop_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit so the `finally` blocks stop the servers."""

    def handler(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handler)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.e2e", description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="1 repetition of 1 s per app; enforces nothing")
    parser.add_argument("--seconds", type=int, help="length of each wrk run (default 5)")
    parser.add_argument("--reps", type=int, help="repetitions per app, alternating the apps (default 2)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument(
        "--calibrate", action="store_true", help=f"also a passthrough middleware and one burning {BURN_US} µs"
    )
    args = parser.parse_args(argv)
    seconds, reps = args.seconds or (1 if args.smoke else 5), args.reps or (1 if args.smoke else 2)
    if shutil.which("wrk") is None:
        print("wrk is not installed: `apt-get install -y wrk` (Debian/Ubuntu, as root) or `brew install wrk`")
        return 2
    _stop_on_sigterm()
    signer = make_signer("RS256")
    token = signer.mint("e2e")
    load = {"threads": args.threads, "connections": args.connections}
    names = ["bare", "ours", *(["passthrough", "burn"] if args.calibrate else [])]
    results: dict[str, list[WrkResult]] = {name: [] for name in names}
    with contextlib.ExitStack() as stack:
        servers = {name: stack.enter_context(serve(name, signer.configured_key)) for name in names}
        for server in servers.values():  # warm-up, discarded
            wrk(server, token, seconds=1, **load)
        for rep in range(reps):
            for name in names if rep % 2 == 0 else names[::-1]:  # ABBA: drift hits every app alike
                results[name].append(wrk(servers[name], token, seconds=seconds, **load))
                print(
                    f"  {name:<11} run {rep + 1}/{reps}: {results[name][-1].requests_per_s:,.0f} req/s", file=sys.stderr
                )

    stack_info = ", ".join(f"{m} {'yes' if importlib.util.find_spec(m) else 'no'}" for m in ("uvloop", "httptools"))
    print(f"uvicorn (1 worker; {stack_info}) on {HOST}, wrk -t{args.threads} -c{args.connections} -d{seconds}s")
    print(f"{reps} repetition(s) per app, alternating; RS256, the same token on every request; medians")
    print(
        f"{'app':<28} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'µs/req':>8} {'+µs/req':>8} {'server CPU µs/req':>18}"
    )
    bare_rps = statistics.median(r.requests_per_s for r in results["bare"])
    for name, runs in results.items():
        rps = statistics.median(r.requests_per_s for r in runs)
        p50, p99, cpu = (statistics.median(getattr(r, f) for r in runs) for f in ("p50_ms", "p99_ms", "cpu_us"))
        added = 1e6 / rps - 1e6 / bare_rps
        print(f"{LABELS[name]:<28} {rps:>10,.0f} {p50:>8.2f} {p99:>8.2f} {1e6 / rps:>8.1f} {added:>8.1f} {cpu:>18.1f}")
    if args.calibrate:
        burn = 1e6 / statistics.median(r.requests_per_s for r in results["burn"]) - 1e6 / bare_rps
        print(
            f"calibration: {BURN_US} µs of CPU per request shows as {burn:.1f} µs/request here ({burn / BURN_US:.1f}x)"
        )
    ratio = statistics.median(r.requests_per_s for r in results["ours"]) / statistics.median(
        r.requests_per_s for r in results["bare"]
    )
    limit = tomllib.loads(BUDGETS.read_text())["e2e"]["min_throughput_ratio"]
    verdict = "PASS" if ratio >= limit else "FAIL"
    print(f"{verdict}  throughput with middleware / bare: {ratio:.3f} (budget >= {limit}){' (smoke)' * args.smoke}")
    return 0 if args.smoke or ratio >= limit else 1


if __name__ == "__main__":
    sys.exit(main())
