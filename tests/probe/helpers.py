"""Running the probe in a test: serve an app with uvicorn on 127.0.0.1, await the CLI in the same event loop."""

from __future__ import annotations

import io
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from jwt_middleware.probe import run_cli

from ..live_server import serve
from .vulnerable_apps import Signer

__all__ = ["Run", "expired_token", "foreign_token", "pem_file", "probe", "run_probe"]


@dataclass
class Run:
    """One probe run: its exit status, what it wrote, and how long it took."""

    code: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def report(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.stdout)
        return loaded

    @property
    def finding_ids(self) -> set[str]:
        return {finding["id"] for finding in self.report["findings"]}


async def run_probe(*argv: str, transport: httpx.AsyncBaseTransport | None = None) -> Run:
    """`jwt-probe *argv`, awaited here (the apps under test run in this event loop too)."""
    stdout, stderr = io.StringIO(), io.StringIO()
    started = time.monotonic()
    code = await run_cli(list(argv), stdout=stdout, stderr=stderr, transport=transport)
    return Run(code, stdout.getvalue(), stderr.getvalue(), time.monotonic() - started)


async def probe(app: Any, *argv: str, path: str = "/orders") -> Run:
    """Serve `app` under uvicorn and probe `path` on it; `--rate 0` since the server is our own loopback app."""
    async with serve(app) as base:
        return await run_probe(f"{base}{path}", "--rate", "0", *argv)


def pem_file(signer: Signer, directory: Path) -> str:
    assert signer.public_pem is not None
    path = directory / f"{signer.alg}.pem"
    path.write_bytes(signer.public_pem)
    return str(path)


def expired_token(signer: Signer) -> str:
    now = int(time.time())
    return signer.token(iat=now - 600, exp=now - 300)


def foreign_token(signer: Signer, **claims: Any) -> str:
    """Genuinely signed, for another API: another audience and issuer unless `claims` say otherwise."""
    return signer.token(**({"aud": "https://other-api.test", "iss": "https://other-issuer.test/"} | claims))
