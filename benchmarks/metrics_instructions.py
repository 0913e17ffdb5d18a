"""What metrics cost per request in CPU instructions (valgrind's callgrind): off, and with each backend on.

    python -m benchmarks.metrics_instructions           # `make bench-metrics`
    python -m benchmarks.metrics_instructions --calls 50

The wall-clock rows of `benchmarks.run` show the same comparison, but on a shared 2-core machine their medians
move by tens of percent between runs; instructions do not. The method is `benchmarks/instructions.py`'s (issue
10): a child process under `valgrind --tool=callgrind --collect-atstart=no --toggle-collect=sys_call_tracing
--dump-after=sys_call_tracing` runs each row's measured calls inside one `sys.call_tracing`, so exactly those are
counted, one dump per row; requests are driven without an event loop (none of these rows suspends).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from benchmarks.harness import bearer_headers

ALGORITHMS = ("HS256", "RS256")
BACKENDS = ("off", "prometheus", "otel", "otel-histogram")
WARMUP = 16
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


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


def _step(app: Any) -> Callable[[Any], None]:
    statuses: list[int] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    def step(headers: Any) -> None:
        coroutine = app({**_SCOPE, "path": "/", "raw_path": b"/", "headers": headers, "state": {}}, _receive, send)
        try:
            coroutine.send(None)
        except StopIteration:
            pass
        else:  # pragma: no cover - a row that suspends cannot be counted this way
            coroutine.close()
            raise SystemExit("the request suspended; it cannot be driven without an event loop")
        if statuses.pop() != 200:
            raise SystemExit("a request was refused")

    return step


def _metrics(backend: str) -> Any:
    from benchmarks.run import _metrics as build

    return None if backend == "off" else build(backend)


def _run(step: Callable[[Any], None], items: Sequence[Any]) -> None:
    for item in items:
        step(item)


def child(spec_path: str) -> None:
    from benchmarks import apps

    spec = json.loads(Path(spec_path).read_text())
    names = []
    rows = []
    for alg in ALGORITHMS:
        s = spec[alg]
        for mode in ("repeated", "fresh"):
            items = (
                [bearer_headers(s["one"])] * spec["calls"]
                if mode == "repeated"
                else list(map(bearer_headers, s["fresh"]))
            )
            warm = [bearer_headers(s["one"])] * WARMUP if mode == "repeated" else list(map(bearer_headers, s["warm"]))
            for backend in BACKENDS:
                step = _step(apps.ours(alg, s["key"], metrics=_metrics(backend)))
                names.append(f"{alg} {mode} {backend}")
                rows.append((step, items, warm))
    print(json.dumps(names), flush=True)
    for step, items, warm in rows:
        for item in warm:
            step(item)
        gc.collect()
        gc.disable()
        sys.call_tracing(_run, (step, items))
        gc.enable()


def measure(calls: int) -> dict[str, float]:
    from benchmarks.tokens import make_signer

    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise SystemExit("valgrind is missing: apt-get install -y valgrind")
    spec: dict[str, Any] = {"calls": calls}
    for alg in ALGORITHMS:
        signer = make_signer(alg)
        spec[alg] = {
            "key": signer.configured_key,
            "one": signer.mint("one"),
            "fresh": signer.pool(calls * len(BACKENDS), "fresh")[:calls],  # each backend's app has its own cache
            "warm": signer.pool(WARMUP, "warm"),
        }
    with tempfile.TemporaryDirectory() as tmp:
        spec_path = Path(tmp, "spec.json")
        spec_path.write_text(json.dumps(spec))
        out = Path(tmp, "callgrind.out")
        command = [
            valgrind,
            "--tool=callgrind",
            "--collect-atstart=no",
            "--toggle-collect=sys_call_tracing",
            "--dump-after=sys_call_tracing",
            f"--callgrind-out-file={out}",
            sys.executable,
            "-m",
            "benchmarks.metrics_instructions",
            "--child",
            str(spec_path),
        ]
        env = {**os.environ, "PYTHONHASHSEED": "0"}
        done = subprocess.run(command, capture_output=True, text=True, env=env, check=False, timeout=3000)  # noqa: S603
        if done.returncode != 0:
            raise SystemExit(f"the child failed:\n{done.stdout}\n{done.stderr[-4000:]}")
        names = json.loads(done.stdout.splitlines()[0])
        dumps = sorted(Path(tmp).glob("callgrind.out.*"), key=lambda p: int(p.name.rsplit(".", 1)[1]))
        if len(dumps) != len(names):
            raise SystemExit(f"expected {len(names)} dumps, found {len(dumps)}")
        return {name: _total(dump) / calls for name, dump in zip(names, dumps, strict=True)}


def _total(dump: Path) -> int:
    for line in dump.read_text().splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    raise SystemExit(f"{dump} has no totals")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.metrics_instructions", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--calls", type=int, default=200, help="measured calls per row (default 200)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child)
        return 0
    per_call = measure(args.calls)
    print(f"Instructions per request (callgrind, {args.calls} calls per row); metrics on vs off")
    print(f"{'row':<22}" + "".join(f"{b:>24}" for b in BACKENDS))
    for alg in ALGORITHMS:
        for mode in ("repeated", "fresh"):
            off = per_call[f"{alg} {mode} off"]
            cells = [f"{off / 1000:>23.1f}k"]
            for backend in BACKENDS[1:]:
                on = per_call[f"{alg} {mode} {backend}"]
                cells.append(f"{on / 1000:>9.1f}k ({(on - off) / off * 100:+5.1f}%)".rjust(24))
            print(f"{alg + ' ' + mode:<22}" + "".join(cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
