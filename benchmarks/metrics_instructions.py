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
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.harness import bearer_headers
from benchmarks.instructions import Row, asgi_step, count_rows, run_under_callgrind, signer_spec

ALGORITHMS = ("HS256", "RS256")
BACKENDS = ("off", "prometheus", "otel", "otel-histogram")
WARMUP = 16


def _metrics(backend: str) -> Any:
    from benchmarks.run import _metrics as build

    return None if backend == "off" else build(backend)


def child(spec_path: str) -> None:
    from benchmarks import apps

    spec = json.loads(Path(spec_path).read_text())
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
                step = asgi_step(apps.ours(alg, s["key"], metrics=_metrics(backend)), "/", 200)
                rows.append(Row(f"{alg} {mode} {backend}", step, items, warm))
    count_rows(rows)


def measure(calls: int) -> dict[str, float]:
    from benchmarks.tokens import make_signer

    # Each backend's app has a cache of its own, so the same fresh tokens are fresh to every one of them.
    spec: dict[str, Any] = {"calls": calls, **{alg: signer_spec(make_signer(alg), calls) for alg in ALGORITHMS}}
    return run_under_callgrind("benchmarks.metrics_instructions", spec, calls)


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
