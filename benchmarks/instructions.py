"""CPU instructions per request, counted by valgrind's callgrind: deterministic budgets that CI can hold.

    python -m benchmarks.instructions            # every row; checks budgets.toml's [instructions]; exit 1 on a miss
    python -m benchmarks.instructions --quick    # fewer calls per row: proves the method works, enforces nothing

Wall clock on a shared 2-core machine varies by tens of percent; the instructions a request executes do not. The
parent process mints every token (key generation is slow under valgrind) and writes them to a file; one child
process runs under `valgrind --tool=callgrind --collect-atstart=no --toggle-collect=sys_call_tracing
--dump-after=sys_call_tracing`, so exactly the measured calls are counted: each row runs its calls inside one
`functools.reduce`, which nothing else calls during the run, and each row's count lands in a dump of its own.
Requests are driven without an event loop (`coroutine.send(None)`): none of the rows suspends, and a loop's own
bookkeeping would otherwise be counted. `PYTHONHASHSEED=0` and a disabled garbage collector keep runs identical.

What instructions hide: a SHA or AES instruction counts as one, however many cycles it takes, and cache misses and
branch mispredictions cost nothing here. Signature checks are therefore compared with their own floor (the same
check called directly), never read as absolute time; benchmarks/README.md shows the wall-clock table beside these.
"""

from __future__ import annotations

import argparse
import base64
import gc
import json
import os
import platform
import random
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.harness import BASE_HEADERS, bearer_headers, request_scope

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

BUDGETS = Path(__file__).with_name("budgets.toml")
WARMUP = 16
ALGORITHMS = ("HS256", "RS256", "ES256", "EdDSA")


# ----------------------------------------------------------------------------------------------------------------
# The child: builds each row, warms it up, and runs its measured calls inside functools.reduce.


@dataclass(frozen=True, slots=True)
class Row:
    """One measured row: `step(item)` is one request (or one signature check, for the floors)."""

    name: str
    step: Callable[[Any], object]
    items: Sequence[Any]
    warm: Sequence[Any]  # run first, not counted: distinct from `items` where those must be new to the cache


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


def asgi_step(app: Any, path: str, expect: int) -> Callable[[Any], object]:
    """One request to `app`, driven without an event loop; it must answer `expect`."""
    statuses: list[int] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    def step(headers: Any) -> object:
        coroutine = app(request_scope(path, headers), _receive, send)
        try:
            coroutine.send(None)
        except StopIteration:
            pass
        else:  # pragma: no cover - a row that suspends cannot be counted this way
            coroutine.close()
            raise SystemExit(f"{path}: the request suspended; it cannot be driven without an event loop")
        status = statuses.pop()
        if status != expect:
            raise SystemExit(f"{path}: answered {status}, expected {expect}")
        return None

    return step


def _rows(spec: dict[str, Any], calls: int) -> list[Row]:

    from benchmarks import apps
    from jwt_middleware.keys import keys_from_material

    def repeated(token: str) -> list[Any]:
        return [bearer_headers(token) for _ in range(calls)]

    def row(name: str, step: Callable[[Any], object], items: list[Any], warm: list[Any] | None = None) -> Row:
        return Row(name, step, items, items[:WARMUP] if warm is None else warm)

    plain = [list(BASE_HEADERS) for _ in range(calls)]
    rows = [
        row("harness: a call that does nothing", lambda item: None, plain),
        row("bare Starlette app", asgi_step(apps.bare(), "/", 200), plain),
        row("bare Starlette app, /health", asgi_step(apps.bare(), "/health", 200), plain),
        row("do-nothing ASGI layer, /health", asgi_step(_do_nothing(apps.bare()), "/health", 200), plain),
        row("bare FastAPI app", asgi_step(apps.bare_fastapi(), "/", 200), plain),
    ]
    rs256 = spec["RS256"]
    ours_rs = apps.ours("RS256", rs256["key"])
    warm_rs = _headers(rs256["warm"])
    rows += [
        row("ours, exempt /health", asgi_step(ours_rs, "/health", 200), plain),
        row("ours, distinct garbage tokens (401)", asgi_step(ours_rs, "/", 401), _headers(spec["garbage"])),
        row("ours, distinct bad signatures, RS256 (401)", asgi_step(ours_rs, "/", 401), _headers(spec["forged"])),
        row("ours, hostile unsigned payload, 6 KB (401)", asgi_step(ours_rs, "/", 401), repeated(spec["hostile"])),
        row("ours, bad signature, same size (401)", asgi_step(ours_rs, "/", 401), repeated(spec["same_size"])),
    ]
    for alg in ALGORITHMS:
        data = spec[alg]
        key = keys_from_material(data["key"], [alg]).keys[0]
        signed = [_split(token) for token in data["fresh"]]
        warm = _headers(data["warm"])
        rows += [
            row(f"{alg} floor: signature check alone", _floor_step(key.check), signed),
            row(f"{alg} ours, cached token", asgi_step(apps.ours(alg, data["key"]), "/", 200), repeated(data["one"])),
            row(
                f"{alg} ours, fresh tokens",
                asgi_step(apps.ours(alg, data["key"]), "/", 200),
                _headers(data["fresh"]),
                warm,
            ),
        ]
    steady = apps.ours("RS256", rs256["key"], cache_size=WARMUP)  # the warm-up fills it: every later token evicts
    rows.append(
        row("RS256 ours, fresh tokens, cache full", asgi_step(steady, "/", 200), _headers(rs256["fresh"]), warm_rs)
    )
    depends = apps.fastapi_depends(_rs256_decoder(rs256["key"]))
    rows.append(
        row(
            "RS256 FastAPI Depends(HTTPBearer) + jwt.decode, fresh",
            asgi_step(depends, "/", 200),
            _headers(rs256["fresh"]),
            warm_rs,
        )
    )
    return rows


def _floor_step(check: Callable[[bytes, bytes], bool]) -> Callable[[Any], object]:
    def step(item: tuple[bytes, bytes]) -> object:
        if not check(*item):
            raise SystemExit("the floor refused a valid signature")
        return None

    return step


def _do_nothing(app: Any) -> Any:
    async def layer(scope: Any, receive: Any, send: Any) -> None:
        await app(scope, receive, send)

    return layer


def _headers(tokens: Iterable[str]) -> list[Any]:
    return [bearer_headers(token) for token in tokens]


def _split(token: str) -> tuple[bytes, bytes]:
    """(signing input, raw signature): what every verifier has to hand its signature check."""
    signing_input, _, signature = token.rpartition(".")
    return signing_input.encode(), base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))


def _rs256_decoder(pem: str) -> Any:
    """What `apps.fastapi_depends` reads of a signer: the algorithm and the loaded key (jwt.decode's best case)."""
    from types import SimpleNamespace

    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    return SimpleNamespace(algorithm="RS256", verifying_key=load_pem_public_key(pem.encode()))


def child(spec_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text())
    count_rows(_rows(spec, spec["calls"]))


def count_rows(rows: Sequence[Row]) -> None:
    """In the child: print the row names, then run each row's warm-up (not counted) and its measured calls inside
    sys.call_tracing (counted, one dump each)."""
    print(json.dumps([row.name for row in rows]), flush=True)
    for row in rows:
        for item in row.warm:  # the middleware stack built, the header policy primed, a cached token cached
            row.step(item)
        gc.collect()
        gc.disable()
        sys.call_tracing(_run, (row.step, row.items))
        gc.enable()


def _run(step: Callable[[Any], object], items: Sequence[Any]) -> None:
    for item in items:
        step(item)


# ----------------------------------------------------------------------------------------------------------------
# The parent: mints tokens, runs the child under callgrind, reads one dump per row.


def _spec(calls: int) -> dict[str, Any]:
    from benchmarks.tokens import make_signer

    spec: dict[str, Any] = {"calls": calls}
    for alg in ALGORITHMS:
        signer = make_signer(alg)
        spec[alg] = signer_spec(signer, calls)
        if alg == "RS256":
            rs256 = signer
    # Seeded, so that the row is the same on every run: random bytes fail in different ways, at different costs.
    garbage = random.Random(8725)
    spec["garbage"] = [".".join(_b64(garbage.randbytes(n)) for n in (27, 96, 256)) for _ in range(calls)]
    spec["forged"] = [_resign(t) for t in rs256.pool(calls, "forged")]
    spec["hostile"] = _unsigned(b"[" * 3000 + b"]" * 3000)
    spec["same_size"] = _unsigned(json.dumps({"iss": "https://issuer.example/", "note": "x" * 5960}).encode())
    return spec


def signer_spec(signer: Any, calls: int) -> dict[str, Any]:
    """What the child needs of one algorithm: the key as configured, a token to repeat, `calls` fresh tokens, and
    warm-up tokens the fresh rows will not measure."""
    return {
        "key": signer.configured_key,
        "one": signer.mint("one"),
        "fresh": signer.pool(calls, "fresh"),
        "warm": signer.pool(WARMUP, "warm"),
    }


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _resign(token: str) -> str:
    """A well-formed RS256 token whose 256-byte signature is random: the flood an attacker sends."""
    return token.rpartition(".")[0] + "." + _b64(secrets.token_bytes(256))


def _unsigned(payload: bytes) -> str:
    return ".".join(_b64(part) for part in (b'{"alg":"RS256","typ":"JWT"}', payload, secrets.token_bytes(256)))


def measure(calls: int) -> dict[str, float]:
    """Instructions per call for every row, from one run of the child under callgrind."""
    return run_under_callgrind("benchmarks.instructions", _spec(calls), calls)


def run_under_callgrind(module: str, spec: dict[str, Any], calls: int) -> dict[str, float]:
    """Run `python -m <module> --child <spec file>` under callgrind; instructions per call, by the row names the
    child prints first. The child counts each row inside `sys.call_tracing` (see `count_rows`)."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise SystemExit("valgrind is missing: apt-get install -y valgrind (CI's .ci/run installs it)")
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
            module,
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


# ----------------------------------------------------------------------------------------------------------------
# Budgets.


@dataclass(frozen=True, slots=True)
class Check:
    id: str  # what budgets.toml's `enforced` list names
    name: str
    value: float
    limit: float
    unit: str = "k"
    at_least: bool = False

    @property
    def ok(self) -> bool:
        return self.value >= self.limit if self.at_least else self.value <= self.limit

    def line(self) -> str:
        op = ">=" if self.at_least else "<="
        value = f"{self.value / 1000:.1f}k" if self.unit == "k" else f"{self.value:.2f}x"
        limit = f"{self.limit / 1000:.1f}k" if self.unit == "k" else f"{self.limit:.2f}x"
        return f"{'PASS' if self.ok else 'FAIL'}  [{self.id}] {self.name}: {value} (budget {op} {limit})"


def checks(per_call: dict[str, float], budgets: dict[str, Any]) -> list[Check]:
    bare, harness = per_call["bare Starlette app"], per_call["harness: a call that does nothing"]
    layer = per_call["do-nothing ASGI layer, /health"] - per_call["bare Starlette app, /health"]
    result = [
        Check(
            "exempt",
            "exempt path over bare /health, vs a do-nothing ASGI layer + allowance",
            per_call["ours, exempt /health"] - per_call["bare Starlette app, /health"],
            layer + budgets["exempt_over_do_nothing_layer"],
        ),
        Check("garbage", "distinct garbage token vs bare app", per_call["ours, distinct garbage tokens (401)"], bare),
        Check(
            "hostile",
            "hostile unsigned payload vs a refused token of the same size",
            per_call["ours, hostile unsigned payload, 6 KB (401)"] / per_call["ours, bad signature, same size (401)"],
            budgets["hostile_max_ratio"],
            unit="x",
        ),
    ]
    for alg in ALGORITHMS:
        floor = per_call[f"{alg} floor: signature check alone"] - harness
        result += [
            Check(
                f"cached-{alg}",
                f"{alg} cached token over bare",
                per_call[f"{alg} ours, cached token"] - bare,
                budgets["cached_over_bare"],
            ),
            Check(
                f"fresh-{alg}",
                f"{alg} fresh token over bare, without the signature",
                per_call[f"{alg} ours, fresh tokens"] - bare - floor,
                budgets["fresh_without_signature"],
            ),
        ]
    # The signature check is the same work on both sides (both call cryptography), and on its own it would cap
    # the ratio near 3x whatever either side did: compare the work around it.
    rs256_floor = per_call["RS256 floor: signature check alone"] - harness
    depends = (
        per_call["RS256 FastAPI Depends(HTTPBearer) + jwt.decode, fresh"] - per_call["bare FastAPI app"] - rs256_floor
    )
    ours = per_call["RS256 ours, fresh tokens"] - bare - rs256_floor
    result.append(
        Check(
            "versus-depends",
            "RS256 fresh: Depends(HTTPBearer) + jwt.decode overhead / ours, both without the signature",
            depends / ours,
            budgets["min_factor_vs_fastapi_depends"],
            unit="x",
            at_least=True,
        )
    )
    return result


def print_table(per_call: dict[str, float]) -> None:
    bare = per_call["bare Starlette app"]
    harness = per_call["harness: a call that does nothing"]
    print(f"{'row':58} {'instr/call':>11} {'over bare':>10}")
    for name, value in per_call.items():
        over = "" if "floor" in name or "harness" in name or "FastAPI" in name else f"{(value - bare) / 1000:+9.1f}k"
        if "floor" in name:
            over = f"{(value - harness) / 1000:9.1f}k net"
        print(f"{name:58} {value / 1000:10.1f}k {over:>10}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer calls; report budgets without enforcing them")
    parser.add_argument(
        "--enforced-only", action="store_true", help="fail only on the budgets budgets.toml lists as enforced (CI)"
    )
    parser.add_argument("--calls", type=int, default=None, help="measured calls per row (default 200, quick 40)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child)
        return 0
    calls = args.calls or (40 if args.quick else 200)
    print(f"python {platform.python_version()} on {platform.machine()}; {calls} calls per row, callgrind\n")
    per_call = measure(calls)
    print_table(per_call)
    budgets = tomllib.loads(BUDGETS.read_text())["instructions"]
    results = checks(per_call, budgets)
    enforced = set(budgets["enforced"]) if args.enforced_only else {c.id for c in results}
    print(f"\nInstruction budgets (budgets.toml [instructions]){', reported only: --quick' if args.quick else ''}")
    for check in results:
        print(check.line() + ("" if check.id in enforced else "  (not enforced)"))
    return 0 if args.quick or all(c.ok for c in results if c.id in enforced) else 1


if __name__ == "__main__":
    sys.exit(main())
