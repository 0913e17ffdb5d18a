"""`make demo`, exercised: its non-interactive form runs every printed request, and Ctrl+C stops it cleanly."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).parent.parent
COMMAND = [sys.executable, "-m", "demo", "--port", "0", "--issuer-port", "0"]


def test_demo_check_runs_every_example_request() -> None:
    result = subprocess.run([*COMMAND, "--check"], cwd=ROOT, capture_output=True, text=True, timeout=120)  # noqa: S603
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 10
    assert all(line.split()[0] == "ok" for line in lines), result.stdout
    assert 'error="invalid_token", error_description="The token has expired."' in result.stdout
    assert 'error="insufficient_scope"' in result.stdout
    assert 'scope="orders:admin"' in result.stdout


def test_demo_prints_a_token_and_curl_commands_and_stops_on_ctrl_c() -> None:
    with subprocess.Popen(COMMAND, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as process:  # noqa: S603
        try:
            assert process.stdout is not None
            seen: list[str] = []
            deadline = time.monotonic() + 60
            while not any("Press Ctrl+C" in line for line in seen) and time.monotonic() < deadline:
                line = process.stdout.readline()
                if not line:
                    break
                seen.append(line)
            output = "".join(seen)
            assert "export TOKEN=ey" in output
            assert 'curl -i -H "Authorization: Bearer $TOKEN" http://127.0.0.1:' in output
            assert "/docs, press Authorize" in output
            assert "jwt-probe http://127.0.0.1:" in output  # the command that audits the demo (issue 13)
            assert '/orders --token "$TOKEN" --jwks-url http://127.0.0.1:' in output
            process.send_signal(signal.SIGINT)
            rest, _ = process.communicate(timeout=30)
            assert process.returncode == 0, rest
        finally:
            if process.poll() is None:  # pragma: no cover - only when an assertion above failed
                process.kill()
