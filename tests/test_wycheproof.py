"""Project Wycheproof's JOSE vectors (tests/vectors/wycheproof, Apache-2.0) against our verifier and key loading.

- json_web_signature_test.json: each JWS at the signature layer (`verify.parse` then `verify.check_signature`,
  no claim checks, since the payloads are not claim sets): every `invalid` vector refused, every `valid` one
  accepted. The invalid ones are also sent through the middleware, end to end.
- json_web_key_test.json: key-set policy. Given in code (`keys_from_material`) a bad key is a
  `ConfigurationError`; fetched (`keys_from_jwks(remote=True)`) it is left out with a stated problem.

Vectors that cannot apply are skipped with the reason, and upstream defects are listed with how they are
treated (see the README beside the vectors).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

from jwt_middleware.errors import ConfigurationError, InvalidToken
from jwt_middleware.jws import HeaderPolicy, b64url_decode, parse_compact, verify_signature
from jwt_middleware.keys import KeySet, keys_from_jwks, keys_from_material

from .conftest import make_app

VECTORS = Path(__file__).parent / "vectors" / "wycheproof"
SIGNATURES = json.loads((VECTORS / "json_web_signature_test.json").read_text())
KEY_SETS = json.loads((VECTORS / "json_web_key_test.json").read_text())

# Upstream defects: marked one way, but must go the other (README "Known upstream defects").
MUST_REJECT_DESPITE_VALID = {
    346: "RFC 7520 Figure 20: the key's alg is PS256 but the token is PS384; a key is bound to its alg",
    350: "RFC 7520 Figure 20: the key's alg is PS256 but the token is PS384; a key is bound to its alg",
    347: "RFC 7520 Figure 27: the key's alg is ES521, which is not a registered algorithm",
    351: "RFC 7520 Figure 27: the key's alg is ES521, which is not a registered algorithm",
    372: "contains '?', and the MAC does not cover the literal signing input",
    373: "contains '?', and the MAC does not cover the literal signing input",
}
SKIPPED = {
    367: "upstream defect: byte-for-byte identical to tcId 357 (valid) yet marked invalid",
    370: "upstream defect: byte-for-byte identical to tcId 357 (valid) yet marked invalid",
}
MAX_TOKEN_BYTES = 8 * 1024
EMPTY_PAYLOAD = (
    "a JWT always carries claims, so parse_compact() refuses an empty payload segment (RFC 7519 section 7.2)"
)
# Vectors whose key our policy refuses when loading it: the token never meets a key.
KEY_REFUSED = {
    347: "alg ES521",
    351: "alg ES521",
    353: 'use "enc"',
    354: 'use "enc"',
    355: 'key_ops ["encrypt"]',
    356: 'key_ops ["encrypt"]',
}
# json_web_key_test.json: every invalid case but one is refused at key loading; tcId 3 is a bad signature.
KEY_POLICY = {
    1: "a set mixing an HMAC secret with an EC key",
    4: "two keys with one kid",
    6: 'use "enc"',
    7: "a ROCA-vulnerable RSA modulus (CVE-2017-15361)",
    8: "a 1024-bit RSA key",
    9: "RSA public exponent 1",
    10: "a 31-byte HS256 secret",
    11: "a 47-byte HS384 secret",
    12: "a 63-byte HS512 secret",
    16: "an empty HS256 secret",
    17: "an empty HS384 secret",
    18: "an empty HS512 secret",
    19: "alg ES521 on a P-256 key",
    20: "alg ES224 on a P-256 key",
    21: 'use "enc"',
    22: "a point not on the curve",
    23: "P-384 named for a P-256 point",
    24: "kty RSA with EC members",
    25: "an AES-GCM key",
    26: "an AES key-wrap key",
}
_ALG_FOR_KTY = {"RSA": "RS256", "EC": "ES256"}


def _algorithms(jwk: Mapping[str, Any]) -> list[str]:
    """What a user would configure for this key: its own `alg`, else the usual one for its type."""
    alg = jwk.get("alg")
    return [alg if isinstance(alg, str) else _ALG_FOR_KTY[jwk["kty"]]]


def _signature_cases() -> Iterator[Any]:
    for group in SIGNATURES["testGroups"]:
        jwk = group.get("public") or group["private"]
        for test in group["tests"]:
            tc_id, jws = test["tcId"], test["jws"]
            expected = "invalid" if tc_id in MUST_REJECT_DESPITE_VALID else test["result"]
            marks = []
            if tc_id in SKIPPED:
                marks.append(pytest.mark.skip(reason=SKIPPED[tc_id]))
            elif expected == "valid" and jws.split(".")[1] == "":
                marks.append(pytest.mark.skip(reason=EMPTY_PAYLOAD))
            yield pytest.param(
                jwk, jws, expected, tc_id, id=f"tc{tc_id}-{group['comment']}-{test['comment']}", marks=marks
            )


def _check_signature(token: str, algorithms: list[str], keys: KeySet) -> None:
    """The JWS layer alone: shape, header, the payload's base64url, then the signature."""
    jws = parse_compact(token.encode(), HeaderPolicy(frozenset(algorithms), None), MAX_TOKEN_BYTES)
    b64url_decode(jws.payload_segment)
    verify_signature(jws, keys)


def _verdict(jwk: Mapping[str, Any], jws: str) -> str:
    """`accepted`, `key-refused`, or the code the signature layer refused the token with."""
    algorithms = _algorithms(jwk)
    try:
        keys = keys_from_material(dict(jwk), algorithms)
    except ConfigurationError:
        return "key-refused"
    try:
        _check_signature(jws, algorithms, keys)
    except InvalidToken as exc:
        return exc.code
    return "accepted"


@pytest.mark.parametrize(("jwk", "jws", "expected", "tc_id"), list(_signature_cases()))
def test_signature_vector(jwk: Mapping[str, Any], jws: str, expected: str, tc_id: int) -> None:
    verdict = _verdict(jwk, jws)
    if expected == "valid":
        assert verdict == "accepted"
    elif tc_id in KEY_REFUSED:
        assert verdict == "key-refused", KEY_REFUSED[tc_id]
    else:
        assert verdict not in ("accepted", "key-refused")


def _end_to_end_groups() -> Iterator[Any]:
    for index, group in enumerate(SIGNATURES["testGroups"]):
        jwk = group.get("public") or group["private"]
        tokens = [t["jws"] for t in group["tests"] if t["result"] == "invalid" and t["tcId"] not in SKIPPED]
        tokens += [t["jws"] for t in group["tests"] if t["tcId"] in MUST_REJECT_DESPITE_VALID]
        if not tokens:
            continue
        marks = []
        try:
            keys_from_material(dict(jwk), _algorithms(jwk))
        except ConfigurationError:
            marks.append(pytest.mark.skip(reason="our key policy refuses this group's key (see test_signature_vector)"))
        yield pytest.param(jwk, tokens, id=f"group{index}-{group['comment']}", marks=marks)


@pytest.mark.anyio
@pytest.mark.parametrize(("jwk", "tokens"), list(_end_to_end_groups()))
async def test_invalid_signature_vectors_are_refused_by_the_middleware(
    jwk: Mapping[str, Any], tokens: list[str]
) -> None:
    # The vectors carry no iss/aud/exp, so those checks are off: only the token's own defects can refuse it.
    app = make_app(algorithms=_algorithms(jwk), key=dict(jwk), issuer=None, audience=None, required_claims=())
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            for token in tokens:
                headers = [(b"authorization", b"Bearer " + token.encode())]
                response = await client.get("/", headers=headers)
                assert response.status_code in (400, 401), token[:60]


# --- json_web_key_test.json: key-set policy ---------------------------------------------------------------


def _key_cases() -> Iterator[Any]:
    for group in KEY_SETS["testGroups"]:
        # Sets of HMAC secrets have no public form; the "private" set is what a verifier is given.
        key_set = group.get("public") or group["private"]
        for test in group["tests"]:
            yield pytest.param(key_set, test, id=f"tc{test['tcId']}-{group['comment']}-{test['comment']}")


def _token_header(jws: str) -> dict[str, Any]:
    segment = jws.split(".")[0]
    header: dict[str, Any] = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    return header


def _verifies(keys: KeySet, jws: str) -> bool:
    alg = _token_header(jws)["alg"]
    try:
        _check_signature(jws, [alg], keys)
    except InvalidToken:
        return False
    return True


@pytest.mark.parametrize(("key_set", "test"), list(_key_cases()))
def test_key_set_given_in_code(key_set: Mapping[str, Any], test: Mapping[str, Any]) -> None:
    algorithms = [_token_header(test["jws"])["alg"]]
    if test["tcId"] in KEY_POLICY:
        with pytest.raises(ConfigurationError):
            keys_from_material(dict(key_set), algorithms)
        return
    keys = keys_from_material(dict(key_set), algorithms)
    assert _verifies(keys, test["jws"]) is (test["result"] == "valid")


@pytest.mark.parametrize(("key_set", "test"), list(_key_cases()))
def test_key_set_fetched_from_a_jwks_url(key_set: Mapping[str, Any], test: Mapping[str, Any]) -> None:
    kid = _token_header(test["jws"]).get("kid")
    algorithms = [_token_header(test["jws"])["alg"]]
    oct_only = all(key.get("kty") == "oct" for key in key_set["keys"])
    if test["result"] == "valid" and oct_only:
        pytest.skip("an HMAC secret published at a URL is no secret: fetched sets never yield oct keys")
    keys, problems = keys_from_jwks(dict(key_set), algorithms, remote=True)
    key_set_ = KeySet(keys)
    if test["tcId"] in KEY_POLICY:
        # The offending key is left out, with a sentence saying why; the token then finds no key of that kid.
        assert problems, KEY_POLICY[test["tcId"]]
        assert not any(key.kid == kid and key.alg in algorithms for key in keys)
    assert _verifies(key_set_, test["jws"]) is (test["result"] == "valid")


def test_every_vector_is_accounted_for() -> None:
    # A newer copy of the files must not silently change what is tested.
    assert SIGNATURES["numberOfTests"] == sum(len(g["tests"]) for g in SIGNATURES["testGroups"]) == 401
    assert KEY_SETS["numberOfTests"] == sum(len(g["tests"]) for g in KEY_SETS["testGroups"]) == 26
    invalid_keys = {t["tcId"] for g in KEY_SETS["testGroups"] for t in g["tests"] if t["result"] == "invalid"}
    assert invalid_keys - set(KEY_POLICY) == {3}  # the one with a modified signature rather than a bad key
