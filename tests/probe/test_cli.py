"""The command line: every documented option, usage errors and failed baselines (exit 2), the entry points."""

from __future__ import annotations

import runpy
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

import jwt_middleware.probe as probe_package
from jwt_middleware import __version__
from jwt_middleware.probe import main
from jwt_middleware.testing import LocalServer

from ..conftest import make_app, signer_for
from ..helpers import jwk_of, keyed_signer
from ..live_server import serve
from .helpers import probe, run_probe

pytestmark = pytest.mark.anyio

# The public contract, plus what --help must also explain.
CONTRACT = (
    "URL",
    "--token",
    "--jwks-url",
    "--public-key",
    "--openapi",
    "--expired-token",
    "--foreign-token",
    "--header",
    "--format",
    "--output",
    "--fail-on",
    "--rate",
    "--max-requests",
    "--timeout",
    "--method",
    "--unsafe-methods",
    "exit status: 0",
)


def test_help_documents_every_option_through_python_m() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "jwt_middleware.probe", "--help"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    for option in CONTRACT:
        assert option in result.stdout, option
    assert "{text,json,sarif}" in result.stdout
    assert "{low,medium,high,critical}" in result.stdout


def test_the_console_script_is_declared() -> None:
    [script] = entry_points(group="console_scripts", name="jwt-probe")
    assert script.value == "jwt_middleware.probe.cli:main"
    assert script.load() is main


def test_python_m_runs_the_command(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "argv", ["jwt-probe", "--version"])
    with pytest.raises(SystemExit) as exited:
        # run_path, not run_module: the kit's pytest plugin makes pytest's assertion rewriter the package's loader,
        # and runpy.run_module asks that loader for code it does not serve.
        runpy.run_path(str(Path(probe_package.__file__).with_name("__main__.py")), run_name="__main__")
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"jwt-probe {__version__}\n"


def test_main_runs_its_own_event_loop(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("jwt-probe ")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["http://127.0.0.1:9/x"], "the following arguments are required: --token"),
        (["ftp://127.0.0.1/x", "--token", "t"], "not an http(s) URL"),
        (["http://127.0.0.1:9/x", "--token", "t", "--header", "no colon"], "expected 'Name: value'"),
        (["http://127.0.0.1:9/x", "--token", "t", "--header", "Authorization: x"], "set by the probe itself"),
        (["http://127.0.0.1:9/x", "--token", "t", "--rate", "-1"], "must be >= 0"),
        (["http://127.0.0.1:9/x", "--token", "t", "--max-requests", "0"], "must be > 0"),
        (["http://127.0.0.1:9/x", "--token", "t", "--fail-on", "info"], "invalid choice"),
        (["http://127.0.0.1:9/x", "--token", "not-a-jwt"], "--token is not a JWT"),
        (["http://127.0.0.1:9/x", "--token", "@/nonexistent/token"], "--token: cannot read"),
        (["http://127.0.0.1:9/x", "--token", "T", "--public-key", "/nonexistent.pem"], "--public-key: cannot read"),
        (["http://127.0.0.1:9/x", "--token", "T", "--foreign-token", "x.y"], "--foreign-token is not a JWT"),
        (["http://127.0.0.1:9/x", "--token", "T", "--expired-token", "T"], "--expired-token: replay() needs"),
        (["http://127.0.0.1:9/x", "--token", "T", "--openapi", "http://example.com/o.json"], "--openapi must be on"),
        (["http://127.0.0.1:9/x", "--token", "T", "--jwks-url", "http://127.0.0.1:9/j"], "--jwks-url: no answer"),
        (["http://127.0.0.1:9/x", "--token", "eyJ0eXAiOiJKV1QifQ.e30.c2ln"], "--token cannot be forged from"),
    ],
)
async def test_usage_errors_exit_2_and_say_why(argv: list[str], message: str) -> None:
    token = signer_for("HS256").token()
    run = await run_probe(*[token if arg == "T" else arg for arg in argv])
    assert run.code == 2
    assert message in run.stderr
    assert run.stdout == ""


async def test_a_token_the_endpoint_refuses_fails_the_baseline() -> None:
    other = keyed_signer("not-the-apps-key", "ES256")
    run = await probe(make_app(algorithms=["ES256"], key=signer_for("ES256").public), "--token", other.token())
    assert run.code == 2
    assert (
        'baseline failed: the valid token got 401 (WWW-Authenticate: Bearer realm="api", error="invalid_token"'
        in run.stderr
    )
    assert other.token().split(".")[1] not in run.stderr


async def test_the_baseline_never_prints_a_token_the_server_quotes() -> None:
    signer = signer_for("HS256")
    token = signer.token()
    quoting = Starlette(
        routes=[
            Route(
                "/orders",
                lambda request: JSONResponse(
                    {}, 401, headers={"WWW-Authenticate": f'Bearer error_description="bad {token}"'}
                ),
            )
        ]
    )
    run = await probe(quoting, "--token", token)
    assert run.code == 2
    assert 'error_description="bad <token>.<token>.<token>"' in run.stderr


async def test_an_unprotected_endpoint_fails_the_baseline() -> None:
    app = Starlette(routes=[Route("/orders", lambda request: JSONResponse([]))])
    run = await probe(app, "--token", signer_for("HS256").token())
    assert run.code == 2
    assert "is not protected" in run.stderr


async def test_no_server_fails_the_baseline() -> None:
    async with serve(make_app(algorithms=["HS256"], key=signer_for("HS256").public)) as base:
        pass  # the server is gone: its port refuses connections
    run = await run_probe(f"{base}/orders", "--token", signer_for("HS256").token(), "--timeout", "2")
    assert run.code == 2
    assert "no answer" in run.stderr


async def test_token_from_a_file(tmp_path: Path) -> None:
    signer = signer_for("HS256")
    (tmp_path / "token").write_text(signer.token() + "\n")
    run = await probe(make_app(algorithms=["HS256"], key=signer.public), "--token", f"@{tmp_path / 'token'}")
    assert run.code == 0, run.stderr


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"keys": "nope"}, "neither a JWK Set nor a discovery document"),
        ({"jwks_uri": "http://198.51.100.7/jwks.json"}, "jwks_uri is on another host"),
    ],
)
async def test_bad_key_urls_exit_2(document: dict[str, object], message: str) -> None:
    signer = keyed_signer("k-bad", "RS256")
    with LocalServer() as server:
        server.jwks = {"keys": [jwk_of(signer)]}
        server.discovery = document
        run = await run_probe(
            "http://127.0.0.1:9/orders",
            "--token",
            signer.token(),
            "--jwks-url",
            f"{server.url}/.well-known/openid-configuration",
        )
        assert server.hits.total() == 1  # read once; nothing fetched from the other host
    assert run.code == 2
    assert message in run.stderr


async def test_a_key_url_that_is_not_json_or_fails_exits_2() -> None:
    signer = keyed_signer("k-bad2", "RS256")
    with LocalServer() as server:
        server.mode = "garbage"
        garbage = await run_probe("http://127.0.0.1:9/o", "--token", signer.token(), "--jwks-url", server.jwks_url)
        server.mode = "500"
        failing = await run_probe("http://127.0.0.1:9/o", "--token", signer.token(), "--jwks-url", server.jwks_url)
    assert (garbage.code, failing.code) == (2, 2)
    assert "did not answer JSON" in garbage.stderr
    assert "answered 500" in failing.stderr


def test_scrubbing_replaces_only_segments_long_enough_to_be_the_tokens() -> None:
    from jwt_middleware.probe.runner import _scrub

    token = "eyJhbGciOiJub25lIn0.e30.c2lnbmF0dXJlLXNpZ25hdHVyZQ"
    assert _scrub("got eyJhbGciOiJub25lIn0.e30.c2lnbmF0dXJlLXNpZ25hdHVyZQ", token) == "got <token>.e30.<token>"
