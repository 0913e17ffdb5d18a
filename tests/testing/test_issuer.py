"""The kit's keys and LocalIssuer, checked through the middleware they are meant for."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from typing import Any

import httpx
import jwt
import pytest

from jwt_middleware import JWTMiddleware
from jwt_middleware.keys import keys_from_material
from jwt_middleware.keys.provenance import fingerprint
from jwt_middleware.testing import ALGORITHMS, LocalIssuer, make_key

from ..conftest import b64url, client_for, make_app

# One issuer for the whole module: RSA keys are slow to make, and RS* and PS* share one.
ISSUER = LocalIssuer(audience="kit-api")


def app_with_key(alg: str, key: object) -> Any:
    return make_app(algorithms=[alg], issuer=ISSUER.issuer, audience="kit-api", key=key)


async def code_of(app: Any, token: str) -> str | None:
    async with client_for(app) as client:
        answer = await client.get("/whoami", headers={"Authorization": f"Bearer {token}"})
    return None if answer.status_code == 200 else str(answer.json()["code"])


@pytest.mark.anyio
@pytest.mark.parametrize("alg", ALGORITHMS)
async def test_every_algorithm_signs_what_its_public_key_verifies(alg: str) -> None:
    assert await code_of(app_with_key(alg, ISSUER.public_key(alg)), ISSUER.token(alg=alg)) is None
    assert await code_of(app_with_key(alg, ISSUER.public_pem(alg)), ISSUER.token(alg=alg)) is None
    assert await code_of(app_with_key(alg, ISSUER.jwk(alg)), ISSUER.token(alg=alg)) is None


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("options", "code"),
    [
        ({"expires_in": -60}, "token_expired"),
        ({"starts_in": 120}, "token_not_yet_valid"),
        ({"aud": "someone-else"}, "audience_invalid"),
        ({"omit": ["exp"]}, "claim_missing"),
        ({"iss": "https://elsewhere.test/"}, "issuer_invalid"),
        ({"headers": {"typ": "JWE"}}, None),  # accepted: typ is only checked when the app asks (typ=...)
        ({"scope": "read write", "tenant": "t1"}, None),
    ],
)
async def test_token_overrides_shape_what_the_middleware_sees(options: dict[str, Any], code: str | None) -> None:
    assert await code_of(app_with_key("RS256", ISSUER.public_pem()), ISSUER.token(**options)) == code


def test_token_carries_defaults_claims_and_header_overrides() -> None:
    token = ISSUER.token(alg="ES256", kid="chosen", headers={"typ": "at+jwt"}, scope="read", omit=["sub"])
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, ISSUER.public_key("ES256"), algorithms=["ES256"], audience="kit-api")
    assert header == {"alg": "ES256", "typ": "at+jwt", "kid": "chosen"}
    assert claims["iss"] == "https://issuer.test/"
    assert claims["scope"] == "read"
    assert "sub" not in claims
    assert claims["exp"] - claims["iat"] == 300
    assert "kid" not in jwt.get_unverified_header(ISSUER.token(alg="ES256", kid=""))
    assert ISSUER.headers(sub="alice")["Authorization"].startswith("Bearer ey")


def test_sign_signs_exactly_the_payload() -> None:
    token = ISSUER.sign({"only": "this"}, alg="EdDSA")
    assert jwt.decode(token, ISSUER.public_key("EdDSA"), algorithms=["EdDSA"]) == {"only": "this"}


def test_sign_raw_keeps_the_bytes() -> None:
    key = make_key("ES256")
    token = key.sign_raw(b'{"alg":"ES256" }', b'{"a":1}')
    assert token.split(".")[:2] == [b64url(b'{"alg":"ES256" }'), b64url(b'{"a":1}')]
    assert jwt.decode(token, key.public, algorithms=["ES256"]) == {"a": 1}


def test_keys_describe_themselves_without_leaking() -> None:
    hmac_key, ec_key = make_key("HS256", kid="h"), make_key("ES384")
    assert hmac_key.public_pem is None
    assert hmac_key.jwk()["kty"] == "oct"
    assert ec_key.jwk() == {**ec_key.jwk(), "alg": "ES384", "use": "sig"}
    assert "kid" not in ec_key.jwk()
    assert repr(hmac_key) == "IssuerKey(alg='HS256', kid='h')"
    assert "IssuerKey" not in repr(ISSUER)
    assert "kit-api" in repr(ISSUER)


def test_unknown_algorithms_and_families_are_refused() -> None:
    with pytest.raises(ValueError, match="alg must be one of"):
        make_key("none")
    with pytest.raises(ValueError, match="cannot sign"):
        make_key("ES256").with_alg("RS256")
    assert ISSUER.key("PS384").public is ISSUER.key("RS256").public


def test_jwks_publishes_asymmetric_keys_only_and_discovery_names_it() -> None:
    issuer = LocalIssuer(algorithm="ES256")
    assert [k["kid"] for k in issuer.jwks()["keys"]] == ["es256-1"]
    issuer.key("HS256")
    assert [k["kid"] for k in issuer.jwks()["keys"]] == ["es256-1"]
    document = issuer.discovery("http://127.0.0.1:1")
    assert document["issuer"] == "https://issuer.test/"
    assert document["jwks_uri"] == "http://127.0.0.1:1/jwks.json"
    assert issuer.discovery()["jwks_uri"] == "https://issuer.test/jwks.json"
    assert LocalIssuer(algorithm="EdDSA").discovery()["id_token_signing_alg_values_supported"] == ["EdDSA"]


def test_rotation_keeps_or_retires_the_old_key() -> None:
    issuer = LocalIssuer(algorithm="ES256")
    old = issuer.key()
    new = issuer.rotate()
    assert new.kid != old.kid
    assert issuer.key() is new
    assert [k["kid"] for k in issuer.jwks()["keys"]] == [old.kid, new.kid]
    newest = issuer.rotate(retire=True)
    assert [k["kid"] for k in issuer.jwks()["keys"]] == [old.kid, newest.kid]
    issuer.retire(old)
    assert [k["kid"] for k in issuer.jwks()["keys"]] == [newest.kid]


def test_rotating_an_rsa_key_moves_its_whole_family() -> None:
    issuer = LocalIssuer()
    ps = issuer.key("PS256")
    rotated = issuer.rotate("RS256")
    assert issuer.key("PS256").public is rotated.public is not ps.public


@pytest.mark.anyio
@pytest.mark.parametrize("discovery", [False, True])
async def test_transport_answers_as_the_issuer(discovery: bool) -> None:
    issuer = LocalIssuer(algorithm="ES256", audience="kit-api")
    remote: dict[str, Any] = {"oidc_discovery": True} if discovery else {"jwks_url": "https://issuer.test/jwks.json"}
    async with httpx.AsyncClient(transport=issuer.transport()) as http_client:
        app = make_app(
            algorithms=["ES256"], issuer=issuer.issuer, audience="kit-api", http_client=http_client, **remote
        )
        assert await code_of(app, issuer.token()) is None
        assert (await http_client.get("https://issuer.test/nothing")).status_code == 404
        document = (await http_client.get("https://issuer.test/.well-known/openid-configuration")).json()
        assert document["jwks_uri"] == "https://issuer.test/jwks.json"


def test_the_middleware_warns_at_start_up_about_a_kit_key(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="jwt_middleware")
    JWTMiddleware(make_app(), algorithms=["ES256"], issuer="i", audience="a", key=ISSUER.public_pem("ES256"))
    assert "made by jwt_middleware.testing" in caplog.text
    caplog.clear()
    foreign = jwt.get_algorithm_by_name("ES256").to_jwk(make_key("ES256").public)  # a kit key, reloaded
    JWTMiddleware(make_app(), algorithms=["ES256"], issuer="i", audience="a", key=json.loads(foreign))
    assert "made by jwt_middleware.testing" in caplog.text


def test_a_key_not_made_by_the_kit_draws_no_warning(caplog: pytest.LogCaptureFixture) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    caplog.set_level(logging.WARNING, logger="jwt_middleware")
    JWTMiddleware(
        make_app(),
        algorithms=["ES256"],
        issuer="i",
        audience="a",
        key=ec.generate_private_key(ec.SECP256R1()).public_key(),
    )
    assert caplog.text == ""


@pytest.mark.parametrize("alg", ["HS256", "RS256", "ES256", "EdDSA"])
def test_provenance_fingerprints_match_the_key_sets(alg: str) -> None:
    # The warning compares these two; if keyset.py changed how it fingerprints, the guard would go quiet.
    key = ISSUER.key(alg)
    assert keys_from_material(key.jwk() if alg == "HS256" else key.public, [alg]).keys[0].fingerprint == fingerprint(
        key.public
    )


def test_reuse_keys_shares_the_first_keys_only() -> None:
    first, second = LocalIssuer(reuse_keys=True), LocalIssuer(reuse_keys=True)
    assert first.key("PS256").public is second.key("RS512").public
    assert first.key("ES256").public is second.key("ES256").public
    assert first.rotate("ES256").public is not second.key("ES256").public
    assert LocalIssuer().key("ES256").public is not second.key("ES256").public


def test_importing_the_kit_needs_neither_pytest_nor_uvicorn() -> None:
    # The jwt-probe CLI imports the battery from here; a user's app may import LocalIssuer outside tests.
    code = "import sys, jwt_middleware.testing; print(sorted({'pytest', 'uvicorn'} & set(sys.modules)))"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)  # noqa: S603
    assert run.stdout.strip() == "[]"
