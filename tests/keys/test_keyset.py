"""Key material in every accepted form, bound to the algorithms it may verify."""

from __future__ import annotations

import json
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from jwt_middleware import ConfigurationError
from jwt_middleware.keys import KeySet, keys_from_jwks, keys_from_material

from ..conftest import Signer, app_for, b64url, bearer, client_for, make_signer, signer_for

pytestmark = pytest.mark.anyio


def public_jwk(signer: Signer, **members: Any) -> dict[str, Any]:
    alg = {"PS256": "RS256"}.get(signer.alg, signer.alg)
    jwk: dict[str, Any] = json.loads(jwt.get_algorithm_by_name(alg).to_jwk(signer.public))
    return {**jwk, **members}


@pytest.mark.parametrize("form", ["object", "pem", "jwk", "jwks", "list"])
async def test_every_key_form_verifies(signer: Signer, form: str) -> None:
    if signer.alg.startswith("HS") and form == "pem":
        pytest.skip("an HMAC secret has no PEM form")
    forms: dict[str, Any] = {
        "object": signer.public,
        "pem": signer.public_pem,
        "jwk": public_jwk(signer),
        "jwks": {"keys": [public_jwk(signer)]},
        "list": [public_jwk(signer)],
    }
    async with client_for(app_for(signer, key=forms[form])) as client:
        response = await client.get("/", headers=bearer(signer.token()))
    assert response.status_code == 200, response.text


async def test_rotation_selects_by_kid_and_tries_only_fitting_keys_without_kid() -> None:
    old, new = make_signer("ES256"), make_signer("ES256")
    old.kid, new.kid = "2025", "2026"
    rsa_signer = signer_for("RS256")
    keys = [public_jwk(old, kid="2025"), public_jwk(new, kid="2026"), public_jwk(rsa_signer)]
    app = app_for(old, key=keys, algorithms=["ES256", "RS256"])
    async with client_for(app) as client:
        assert (await client.get("/", headers=bearer(old.token()))).status_code == 200
        assert (await client.get("/", headers=bearer(new.token()))).status_code == 200
        # Without a kid, every ES256 key is tried; the RSA key is never offered an ES256 token.
        new.kid = None
        assert (await client.get("/", headers=bearer(new.token()))).status_code == 200
        assert (await client.get("/", headers=bearer(rsa_signer.token()))).status_code == 200
        unknown = await client.get("/", headers=bearer(new.token(headers={"kid": "2027"})))
        assert unknown.json()["code"] == "key_not_found"


def test_a_key_is_bound_to_its_jwk_alg() -> None:
    rsa_signer = signer_for("RS256")
    keys = keys_from_material(public_jwk(rsa_signer, alg="RS256"), ["RS256", "PS256"])
    assert [k.alg for k in keys.keys] == ["RS256"]
    unbound = keys_from_material(public_jwk(rsa_signer), ["RS256", "PS256"])
    assert [k.alg for k in unbound.keys] == ["RS256", "PS256"]


def test_ec_keys_only_verify_their_own_curve() -> None:
    p384 = ec.generate_private_key(ec.SECP384R1()).public_key()
    assert [k.alg for k in keys_from_material(p384, ["ES256", "ES384", "ES512"]).keys] == ["ES384"]
    with pytest.raises(ConfigurationError, match="fits none"):
        keys_from_material(p384, ["ES256"])


def test_jwks_policy_skips_unusable_keys_and_says_why() -> None:
    es = signer_for("ES256")
    document = {
        "keys": [
            public_jwk(es, kid="good"),
            public_jwk(es, kid="enc", use="enc"),
            public_jwk(es, kid="ops", key_ops=["encrypt"]),
            public_jwk(es, kid="wrong-alg", alg="ES384"),
            public_jwk(es, kid="private", d="AAAA"),
            {"kty": "oct", "kid": "secret", "k": "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0cw"},
            {"kty": "XYZ", "kid": "odd"},
            {"kty": "EC", "kid": "broken", "crv": "P-256", "x": "AA", "y": "AA"},
            "not an object",
        ]
    }
    keys, problems = keys_from_jwks(document, ["ES256", "HS256"], remote=True)
    assert [k.kid for k in keys] == ["good"]
    assert problems == [
        "key 1 (kid 'enc'): \"use\" is 'enc', not \"sig\"",
        'key 2 (kid \'ops\'): "key_ops" does not allow "verify"',
        "key 3 (kid 'wrong-alg'): an EC key on secp256r1 cannot verify its \"alg\" ES384, "
        "or ES384 is not in algorithms",
        "key 4 (kid 'private'): it contains private key members; publish and configure only the public key",
        "key 5 (kid 'secret'): an HMAC secret in a fetched JWKS is public, so it is never used",
        "key 6 (kid 'odd'): \"kty\" 'XYZ' is not supported",
        "key 7 (kid 'broken'): its EC parameters are invalid",
        "key 8: not a JSON object",
    ]
    assert all("AAAA" not in p for p in problems)  # never quote key material
    assert keys_from_jwks({"nope": []}, ["ES256"], remote=True) == (
        [],
        ['a JWKS must be a JSON object with a "keys" array'],
    )


def test_static_sets_refuse_ambiguity() -> None:
    es = signer_for("ES256")
    with pytest.raises(ConfigurationError, match="names two keys"):
        keys_from_material([public_jwk(es, kid="a"), public_jwk(make_signer("ES256"), kid="a")], ["ES256"])
    with pytest.raises(ConfigurationError, match="mixes HMAC secrets with public keys"):
        keys_from_material([b"k" * 32, es.public], ["ES256", "HS256"])


def test_fetched_sets_drop_duplicate_kids_instead_of_guessing() -> None:
    a, b = signer_for("ES256"), make_signer("ES256")
    keys, problems = keys_from_jwks(
        {"keys": [public_jwk(a, kid="dup"), public_jwk(b, kid="dup"), public_jwk(b, kid="ok")]}, ["ES256"], remote=True
    )
    assert [k.kid for k in keys] == ["ok"]
    assert any("names two keys" in p for p in problems)


async def test_a_key_without_kid_serves_tokens_that_name_any_kid() -> None:
    signer = signer_for("ES256")
    async with client_for(app_for(signer, key=signer.public_pem)) as client:
        response = await client.get("/", headers=bearer(signer.token(headers={"kid": "rotated-2026"})))
    assert response.status_code == 200


async def test_an_unknown_kid_is_refused_before_the_payload_is_read() -> None:
    # With no fetch possible, a made-up kid costs a header check only: even a broken payload is not looked at.
    signer = make_signer("ES256")
    app = app_for(signer, key=[public_jwk(signer, kid="known")])
    header = b64url(json.dumps({"alg": "ES256", "kid": "made-up"}))
    async with client_for(app) as client:
        response = await client.get("/", headers=bearer(f"{header}.bm90LWpzb24.c2ln"))
        known = await client.get("/", headers=bearer(signer.token(headers={"kid": "known"})))
    assert response.json()["code"] == "key_not_found"
    assert known.status_code == 200


def test_a_refetched_set_keeps_the_objects_of_keys_it_already_held() -> None:
    a, b = signer_for("ES256"), make_signer("ES256")
    first = KeySet(keys_from_jwks({"keys": [public_jwk(a, kid="a")]}, ["ES256"], remote=True)[0])
    second = KeySet(
        keys_from_jwks({"keys": [public_jwk(a, kid="a"), public_jwk(b, kid="b")]}, ["ES256"], remote=True)[0]
    ).carry_over(first)
    kept = first.for_token("ES256", "a")[0]
    assert kept in second  # the same object: verdicts cached for it stay valid
    assert second.for_token("ES256", "b")[0] not in first
    # The same kid with other key material is a new key, not a kept one.
    replaced = KeySet(keys_from_jwks({"keys": [public_jwk(b, kid="a")]}, ["ES256"], remote=True)[0]).carry_over(first)
    assert kept not in replaced


@pytest.mark.parametrize("k", ["c2Vj!!cmV0" * 8, "c2VjcmV0" * 8 + "==", "c2Vj cmV0" * 8, "c2VjcmV0+/" * 8, "A" * 45])
def test_an_oct_key_must_be_strict_base64url(k: str) -> None:
    with pytest.raises(ConfigurationError, match='"k" is not valid base64url'):
        keys_from_material({"kty": "oct", "k": k}, ["HS256"])


@pytest.mark.parametrize(
    ("jwk", "message"),
    [
        ({"kty": "EC", "crv": "P-256", "kid": 7}, '"kid" must be a string'),
        ({"kty": "oct", "k": "c2VjcmV0" * 8, "alg": "RS256"}, 'an HMAC secret cannot verify "alg" RS256'),
    ],
)
def test_jwk_members_of_the_wrong_kind_are_named(jwk: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        keys_from_material(jwk, ["HS256", "RS256"])


def test_a_pem_key_no_jws_algorithm_uses_is_refused() -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import dsa

    pem = (
        dsa.generate_private_key(key_size=1024)  # noqa: S505 - a key only to be refused
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(ConfigurationError, match="DSAPublicKey, which no JWS algorithm uses"):
        keys_from_material(pem, ["RS256"])


def test_an_ed448_key_names_itself_when_it_fits_no_algorithm() -> None:
    from cryptography.hazmat.primitives.asymmetric import ed448

    with pytest.raises(ConfigurationError, match="an Ed448 key fits none"):
        keys_from_material(ed448.Ed448PrivateKey.generate().public_key(), ["RS256"])


def test_no_key_fits_an_algorithm_we_do_not_know() -> None:
    from jwt_middleware.keys.algorithms import fits

    assert not fits("XS999", b"s" * 64)


async def test_static_keys_never_refresh() -> None:
    from jwt_middleware.keys.static import StaticKeys

    source = StaticKeys(signer_for("ES256").public, ["ES256"])
    assert (source.remote, source.refresh_due(), source.may_refresh_for_unknown_kid()) == (False, False, False)
    assert await source.refresh_for_unknown_kid() is None
    await source.refresh_if_due()  # nothing to do, and nothing done
    fetches: list[str] = []
    new_sets: list[KeySet] = []
    source.on_fetch(fetches.append)
    source.on_new_keys(new_sets.append)
    assert (fetches, new_sets) == ([], [])  # and nothing to report
    assert source.current() is source.current()
