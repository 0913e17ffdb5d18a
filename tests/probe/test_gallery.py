"""jwt-probe against real servers: our middleware reports nothing; each vulnerable app exactly its mistake.

Every app runs under uvicorn on 127.0.0.1 and the probe talks to it over real sockets, as it would to staging.
PyJWT decodes base64url leniently, so every PyJWT-based app also shows the informational `token-malleable`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
import pytest

from jwt_middleware.testing import LocalServer

from ..conftest import AUDIENCE, ISSUER, make_app, signer_for
from ..helpers import jwk_of, keyed_signer
from ..live_server import serve
from . import fastapi_apps, vulnerable_apps
from .helpers import expired_token, foreign_token, pem_file, probe, run_probe
from .vulnerable_apps import Signer

pytestmark = pytest.mark.anyio

MALLEABLE = "token-malleable"
EVERY_SIGNATURE_CHECK = {
    "forgery-accepted.alg-none",
    "forgery-accepted.algorithm-confusion",
    "forgery-accepted.claims-tampering",
    "forgery-accepted.embedded-jwk",
    "forgery-accepted.embedded-x5c",
    "forgery-accepted.header-tampering",
    "forgery-accepted.jku-injection",
    "forgery-accepted.kid-injection",
    "forgery-accepted.other",
    "forgery-accepted.psychic-signature",
    "forgery-accepted.signature-tampering",
    "forgery-accepted.weak-hmac-secret",
    "forgery-accepted.x5u-injection",
}

# (app factory, --fail-on, the findings it must produce: no more, no fewer)
GALLERY: dict[str, tuple[Callable[[Signer], Any], str, set[str]]] = {
    # Nothing is verified: every forgery class is accepted, expired and foreign tokens too, and PyJWT's
    # unverified decode crashes on a UTF-16 payload.
    "no-signature-check": (
        vulnerable_apps.no_signature_check,
        "high",
        EVERY_SIGNATURE_CHECK | {"expired-token-accepted", "foreign-token-accepted", "server-error", MALLEABLE},
    ),
    # The public PEM as HMAC secret; the same mistake (alg from the header) crashes on an EC alg with an RSA key.
    "algorithm-from-header": (
        vulnerable_apps.algorithm_from_header,
        "high",
        {"forgery-accepted.algorithm-confusion", "server-error", MALLEABLE},
    ),
    "iss-aud-unchecked": (vulnerable_apps.claims_unchecked, "high", {"foreign-token-accepted", MALLEABLE}),
    "exp-unchecked": (vulnerable_apps.exp_unchecked, "high", {"expired-token-accepted", MALLEABLE}),
    "exception-echoed": (vulnerable_apps.exception_echoed, "medium", {"error-text-leaked", MALLEABLE}),
    "garbage-crashes": (vulnerable_apps.garbage_crashes, "high", {"server-error", MALLEABLE}),
    "no-www-authenticate": (vulnerable_apps.no_www_authenticate, "low", {"www-authenticate-missing", MALLEABLE}),
    "forgot-dependency": (
        fastapi_apps.forgot_dependency,
        "high",
        {"unprotected-operation", "operation-without-security", MALLEABLE},
    ),
}


async def test_our_middleware_with_a_static_key_has_no_findings(tmp_path: Path) -> None:
    signer = signer_for("RS256")
    app = make_app(algorithms=["RS256"], key=signer.public)
    run = await probe(
        app,
        "--token",
        signer.token(),
        "--public-key",
        pem_file(signer, tmp_path),
        "--expired-token",
        expired_token(signer),
        "--foreign-token",
        foreign_token(signer),
        "--format",
        "json",
    )
    assert run.code == 0, run.stderr
    assert run.report["findings"] == []
    summary = run.report["summary"]
    assert summary["forgeries_sent"] > 250  # the whole battery went out...
    assert summary["complete"]
    assert summary["no_answer"] == 0
    assert summary["forgeries_skipped"] > 0  # ...except what cannot travel in a header, counted


@pytest.mark.parametrize("alg", ["HS256", "ES256", "EdDSA"])
async def test_our_middleware_with_other_algorithms_has_no_findings(alg: str) -> None:
    signer = signer_for(alg)
    run = await probe(make_app(algorithms=[alg], key=signer.public), "--token", signer.token(), "--format", "json")
    assert (run.code, run.finding_ids) == (0, set()), run.stdout


async def test_our_middleware_with_a_jwks_behind_a_discovery_document_has_no_findings() -> None:
    signer = keyed_signer("probe-k1", "RS256")
    with LocalServer() as server:
        server.jwks = {"keys": [jwk_of(signer)]}
        server.discovery = {"issuer": ISSUER, "jwks_uri": server.jwks_url}
        app = make_app(algorithms=["RS256"], jwks_url=server.jwks_url)
        discovery_url = f"{server.url}/.well-known/openid-configuration"
        run = await probe(app, "--token", signer.token(), "--jwks-url", discovery_url, "--format", "json")
        assert server.hits["/jwks.json"] >= 1  # the probe followed jwks_uri (and so did the middleware)
    assert (run.code, run.finding_ids) == (0, set()), run.stdout
    assert run.report["summary"]["forgeries_sent"] > 250


@pytest.mark.parametrize("name", list(GALLERY))
async def test_each_vulnerable_app_shows_exactly_its_mistake(name: str, tmp_path: Path) -> None:
    factory, fail_on, expected = GALLERY[name]
    signer = signer_for("RS256")
    run = await probe(
        factory(signer),
        "--token",
        signer.token(),
        "--public-key",
        pem_file(signer, tmp_path),
        "--expired-token",
        expired_token(signer),
        "--foreign-token",
        foreign_token(signer),
        "--fail-on",
        fail_on,
        "--format",
        "json",
    )
    assert run.finding_ids == expected, run.stdout
    assert run.code == 1


async def test_a_weak_hs256_secret_is_found_offline() -> None:
    signer = signer_for("RS256")
    token = jwt.encode(signer.claims(), vulnerable_apps.WEAK_SECRET, algorithm="HS256")
    run = await probe(vulnerable_apps.weak_secret(signer), "--token", token, "--format", "json")
    assert (run.code, run.finding_ids) == (1, {"weak-secret", MALLEABLE}), run.stdout
    [finding] = [f for f in run.report["findings"] if f["id"] == "weak-secret"]
    assert finding["severity"] == "critical"
    assert vulnerable_apps.WEAK_SECRET in finding["examples"][0]["why"]  # a published secret: shown, to be found


async def test_fastapi_oauth2_password_bearer_tutorial_pattern() -> None:
    """The tutorial's code verifies correctly; its SECRET_KEY and its aud-less, iss-less tokens are the findings."""
    now = int(time.time())
    token = jwt.encode({"sub": "johndoe", "exp": now + 1800}, fastapi_apps.FASTAPI_TUTORIAL_SECRET, algorithm="HS256")
    run = await probe(
        fastapi_apps.fastapi_oauth2_password_bearer(signer_for("RS256")), "--token", token, "--format", "json"
    )
    assert (run.code, run.finding_ids) == (1, {"weak-secret", "no-audience", "no-issuer", MALLEABLE}), run.stdout


async def test_fastapi_http_bearer_with_pyjwkclient_pattern() -> None:
    """No issuer=, detail=str(e), no challenge: three findings from one common snippet."""
    signer = keyed_signer("probe-k2", "RS256")
    with LocalServer() as server:
        server.jwks = {"keys": [jwk_of(signer)]}
        app = fastapi_apps.fastapi_http_bearer_jwks(signer, server.jwks_url)
        run = await probe(
            app,
            "--token",
            signer.token(),
            "--jwks-url",
            server.jwks_url,
            "--expired-token",
            expired_token(signer),
            "--foreign-token",
            foreign_token(signer, aud=AUDIENCE),  # right audience, another issuer: only issuer= would catch it
            "--format",
            "json",
        )
    expected = {"foreign-token-accepted", "error-text-leaked", "www-authenticate-missing", MALLEABLE}
    assert (run.code, run.finding_ids) == (1, expected), run.stdout


async def test_a_correct_app_is_probed_well_under_a_minute_at_the_default_rate(tmp_path: Path) -> None:
    """The defaults (25 requests a second) against our middleware: the whole battery, then exit 0."""
    signer = signer_for("ES256")
    app = make_app(algorithms=["ES256"], key=signer.public)
    async with serve(app) as base:
        run = await run_probe(f"{base}/orders", "--token", signer.token(), "--public-key", pem_file(signer, tmp_path))
    assert run.code == 0, run.stdout
    assert "summary: 0 finding(s): nothing" in run.stdout
    assert run.seconds < 55  # the issue's bound is a minute; ~300 requests at 25/s take ~12 s
