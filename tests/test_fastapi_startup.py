"""Fail fast: under `uvicorn app:app` with default options, a misconfigured FastAPI app never starts serving."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

APP_HEAD = """
from typing import Any
from fastapi import FastAPI
from jwt_middleware import JWTMiddleware
from jwt_middleware.fastapi import DOCS_EXEMPT, Claims, install_security

app = FastAPI()

@app.get("/orders")
async def orders(claims: Claims) -> dict[str, Any]:
    return claims
"""

GOOD = "exempt=[*DOCS_EXEMPT]"
CASES = {
    # a keyword is wrong: install_security builds the middleware at import, so the import fails
    "bad_configuration": ("algorithms=['RS256', 'none'], exempt=[*DOCS_EXEMPT]", "algorithms must not contain 'none'"),
    # a route reads claims on an exempt path: the lifespan startup fails
    "claims_on_exempt_path": ("algorithms=['HS256'], exempt=[*DOCS_EXEMPT, '/orders']", "GET /orders reads the token"),
}


def write_app(directory: Path, middleware_options: str) -> None:
    options = f"issuer='https://issuer.test/', audience='api', key='k' * 32, {middleware_options}"
    source = APP_HEAD + f"\napp.add_middleware(JWTMiddleware, {options})\ninstall_security(app)\n"
    (directory / "service.py").write_text(textwrap.dedent(source))


def uvicorn_command(directory: Path) -> list[str]:
    # Default options: --lifespan auto, as `uvicorn service:app` runs it.
    return [sys.executable, "-m", "uvicorn", "service:app", "--app-dir", str(directory), "--port", "0"]


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_misconfigured_app_exits_before_serving(tmp_path: Path, case: str) -> None:
    options, message = CASES[case]
    write_app(tmp_path, options)
    result = subprocess.run(uvicorn_command(tmp_path), capture_output=True, text=True, timeout=60)  # noqa: S603
    assert result.returncode != 0
    assert message in result.stderr
    assert "Uvicorn running on" not in result.stderr
    assert "Application startup complete" not in result.stderr


def test_the_same_app_configured_well_starts(tmp_path: Path) -> None:
    """The control: the harness above can see a server start, so its refusals mean something."""
    write_app(tmp_path, "algorithms=['HS256'], " + GOOD)
    with subprocess.Popen(uvicorn_command(tmp_path), stderr=subprocess.PIPE, text=True) as process:  # noqa: S603
        try:
            assert process.stderr is not None
            seen: list[str] = []
            deadline = time.monotonic() + 60
            while not any("Application startup complete" in line for line in seen) and time.monotonic() < deadline:
                line = process.stderr.readline()
                if not line:
                    break
                seen.append(line)
            assert any("Application startup complete" in line for line in seen), "".join(seen)
            process.send_signal(signal.SIGINT)
            process.communicate(timeout=30)
            assert process.returncode == 0
        finally:
            if process.poll() is None:  # pragma: no cover - only when an assertion above failed
                process.kill()
