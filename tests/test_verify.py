"""The verification table: every algorithm, every way a token can be wrong, through a real app."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest

from .conftest import AUDIENCE, ISSUER, Signer, app_for, b64url, bearer, client_for, make_signer, signer_for

pytestmark = pytest.mark.anyio


def now() -> int:
    return int(time.time())


def _flip_last_char(segment: str) -> str:
    return segment[:-2] + ("A" if segment[-2] != "A" else "B") + segment[-1]


def _none_token(casing: str, signature: str) -> Callable[[Signer], str]:
    def build(signer: Signer) -> str:
        header = b64url(json.dumps({"alg": casing, "typ": "JWT"}))
        return f"{header}.{b64url(json.dumps(signer.claims()))}.{signature}"

    return build


def _confusion(signer: Signer) -> str:
    # The classic forgery: HMAC keyed with the bytes of the public key the server trusts.
    assert signer.public_pem is not None
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}))
    payload = b64url(json.dumps(signer.claims()))
    signature = jwt.get_algorithm_by_name("HS256").sign(f"{header}.{payload}".encode(), signer.public_pem)
    return f"{header}.{payload}.{b64url(signature)}"


def _tamper_payload(signer: Signer) -> str:
    header, _, signature = signer.token().split(".")
    return f"{header}.{b64url(json.dumps(signer.claims(sub='admin')))}.{signature}"


def _tamper_header(signer: Signer) -> str:
    _, payload, signature = signer.token().split(".")
    return f"{b64url(json.dumps({'alg': signer.alg, 'typ': 'JWT', 'x': 1}))}.{payload}.{signature}"


def _tamper_signature(signer: Signer) -> str:
    header, payload, signature = signer.token().split(".")
    return f"{header}.{payload}.{_flip_last_char(signature)}"


def _wrong_key(signer: Signer) -> str:
    if signer.alg.startswith("HS"):
        return jwt.encode(signer.claims(), b"t" * 64, algorithm=signer.alg)
    return make_signer(signer.alg).token()


def _attacker_header(name: str) -> Callable[[Signer], str]:
    # The attacker points at (or embeds) their own key and signs with it; we must never look there.
    def build(signer: Signer) -> str:
        attacker = make_signer(signer.alg) if not signer.alg.startswith("HS") else None
        values = {"jku": "https://attacker.test/jwks.json", "x5u": "https://attacker.test/cert.pem"}
        if attacker is None:
            return jwt.encode(signer.claims(), b"a" * 64, algorithm=signer.alg, headers={name: values.get(name, "x")})
        header_value: Any = values.get(name)
        if name == "jwk":
            header_value = json.loads(
                jwt.algorithms.get_default_algorithms()[_jwk_alg(signer.alg)].to_jwk(attacker.public)
            )
        return attacker.token(headers={name: header_value})

    return build


def _jwk_alg(alg: str) -> str:
    return {"PS256": "RS256"}.get(alg, alg)


def _raw(header: dict[str, Any] | None = None, **claims: Any) -> Callable[[Signer], str]:
    """A correctly signed token whose header or claims break a rule: the signature is not what fails."""

    def build(signer: Signer) -> str:
        body = signer.claims(**claims)
        return signer.sign_raw(json.dumps({"alg": signer.alg, **(header or {})}), json.dumps(body))

    return build


def _zero_padded_signature(signer: Signer) -> str:
    # ECDSA's r || 0x00 || s still encodes the same integers: only the fixed width of RFC 7518 section 3.4
    # stops this second spelling of one signature (for other algorithms: one more byte in front).
    header, payload, signature = signer.token().split(".")
    raw = base64.urlsafe_b64decode(signature + "==")
    half = len(raw) // 2
    padded = raw[:half] + b"\0" + raw[half:] if signer.alg.startswith("ES") else b"\0" + raw
    return f"{header}.{payload}.{b64url(padded)}"


def _non_canonical_signature(signer: Signer) -> str:
    # Same decoded bytes, different spelling: the unused low bits of the last character are set.
    token = signer.token()
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(token[-1])
    unused_bits = 0b11 if len(token.rsplit(".", 1)[1]) % 4 == 3 else 0b1111
    return token[:-1] + alphabet[last | unused_bits]


def _signed_bytes(header: bytes | None = None, payload: bytes | None = None) -> Callable[[Signer], str]:
    """A correctly signed token over exactly these bytes: only strict parsing can refuse it."""

    def build(signer: Signer) -> str:
        return signer.sign_raw(
            (header or b'{"alg":"%s"}') % signer.alg.encode() if header is None or b"%s" in header else header,
            payload if payload is not None else json.dumps(signer.claims()).encode(),
        )

    return build


# (case id, token builder, expected status, expected code)
REJECTED: list[tuple[str, Callable[[Signer], str], int, str]] = [
    *[
        (f"alg-{casing}-{'signed' if sig else 'unsigned'}", _none_token(casing, sig), 401, code)
        for casing in ("none", "None", "NONE", "nOnE")
        for sig, code in (("", "token_malformed"), ("c2lnbmF0dXJl", "algorithm_not_allowed"))
    ],
    ("tampered-payload", _tamper_payload, 401, "signature_invalid"),
    ("tampered-header", _tamper_header, 401, "signature_invalid"),
    ("tampered-signature", _tamper_signature, 401, "signature_invalid"),
    ("wrong-key", _wrong_key, 401, "signature_invalid"),
    ("expired", lambda s: s.token(exp=now() - 100), 401, "token_expired"),
    ("not-yet-valid", lambda s: s.token(nbf=now() + 100), 401, "token_not_yet_valid"),
    ("issued-in-future", lambda s: s.token(iat=now() + 100), 401, "token_issued_in_future"),
    ("wrong-iss", lambda s: s.token(iss="https://evil.test/"), 401, "issuer_invalid"),
    ("iss-with-trailing-difference", lambda s: s.token(iss=ISSUER.rstrip("/")), 401, "issuer_invalid"),
    ("missing-iss", lambda s: s.token(iss=...), 401, "issuer_invalid"),
    ("wrong-aud", lambda s: s.token(aud="other-api"), 401, "audience_invalid"),
    ("wrong-aud-list", lambda s: s.token(aud=["a", "b"]), 401, "audience_invalid"),
    ("missing-aud", lambda s: s.token(aud=...), 401, "claim_missing"),
    ("missing-exp", lambda s: s.token(exp=...), 401, "claim_missing"),
    ("exp-as-string", _raw(exp="99999999999"), 401, "claim_invalid"),
    ("exp-as-bool", _raw(exp=True), 401, "claim_invalid"),
    ("exp-as-null", _raw(exp=None), 401, "claim_invalid"),
    ("exp-absurd", _raw(exp=1e30), 401, "claim_invalid"),
    ("exp-negative", _raw(exp=-1), 401, "claim_invalid"),
    ("nbf-as-list", _raw(nbf=[1]), 401, "claim_invalid"),
    ("iat-as-string", _raw(iat="now"), 401, "claim_invalid"),
    ("aud-as-number", _raw(aud=123), 401, "claim_invalid"),
    ("aud-empty-list", _raw(aud=[]), 401, "claim_invalid"),
    ("aud-list-with-number", _raw(aud=[AUDIENCE, 1]), 401, "claim_invalid"),
    ("iss-as-number", _raw(iss=1), 401, "issuer_invalid"),
    ("sub-as-number", _raw(sub=1), 401, "claim_invalid"),
    ("jti-as-object", _raw(jti={}), 401, "claim_invalid"),
    ("unknown-crit", _raw(header={"crit": ["exp-ext"], "exp-ext": 1}), 401, "crit_unsupported"),
    ("crit-b64", _raw(header={"crit": ["b64"], "b64": False}), 401, "crit_unsupported"),
    ("b64-false", _raw(header={"b64": False}), 401, "crit_unsupported"),
    ("enc-header-on-a-jws", _raw(header={"enc": "A128GCM"}), 401, "token_encrypted"),
    ("signature-with-leading-zeros", _zero_padded_signature, 401, "signature_invalid"),
    ("kid-not-string", _raw(header={"kid": 7}), 401, "header_invalid"),
    ("jku-elsewhere", _attacker_header("jku"), 401, "signature_invalid"),
    ("x5u-elsewhere", _attacker_header("x5u"), 401, "signature_invalid"),
    ("embedded-jwk", _attacker_header("jwk"), 401, "signature_invalid"),
    ("duplicate-header-member", _signed_bytes(header=b'{"alg":"none","alg":"%s"}'), 401, "token_malformed"),
    ("duplicate-claim", _signed_bytes(payload=b'{"sub":"a","sub":"b","exp":99999999999}'), 401, "token_malformed"),
    ("header-not-object", _signed_bytes(header=b'["alg"]'), 401, "token_malformed"),
    ("payload-not-object", _signed_bytes(payload=b'"claims"'), 401, "token_malformed"),
    ("payload-spaced-array", _signed_bytes(payload=b' ["exp", 99999999999]'), 401, "token_malformed"),
    ("payload-not-json", _signed_bytes(payload=b"hello"), 401, "token_malformed"),
    ("payload-trailing-data", _signed_bytes(payload=b'{"exp":99999999999} {}'), 401, "token_malformed"),
    ("payload-nan", _signed_bytes(payload=b'{"exp":NaN}'), 401, "token_malformed"),
    ("payload-utf16", _signed_bytes(payload='{"exp":1}'.encode("utf-16")), 401, "token_malformed"),
    ("payload-bom", _signed_bytes(payload=b'\xef\xbb\xbf{"exp":1}'), 401, "token_malformed"),
    ("payload-lone-surrogate", _signed_bytes(payload=b'{"sub":"\\ud800","exp":99999999999}'), 401, "token_malformed"),
    ("padded-segments", lambda s: ".".join(p + "==" for p in s.token().split(".")), 400, "authorization_malformed"),
    ("padded-signature", lambda s: s.token() + "==", 401, "token_malformed"),
    ("plus-slash-alphabet", lambda s: s.token().replace("-", "+").replace("_", "/") + "+/", 401, "token_malformed"),
    ("jwe-five-segments", lambda s: "eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d", 401, "token_encrypted"),
    ("one-segment", lambda s: "abc", 401, "token_malformed"),
    ("two-segments", lambda s: "abc.def", 401, "token_malformed"),
    ("four-segments", lambda s: s.token() + ".abc", 401, "token_malformed"),
    ("empty-signature", lambda s: s.token().rsplit(".", 1)[0] + ".", 401, "token_malformed"),
    ("bad-base64-length", lambda s: "a" + s.token(), 401, "token_malformed"),
    ("non-canonical-last-character", _non_canonical_signature, 401, "token_malformed"),
    ("huge-header", _raw(header={"pad": "x" * 10_000}), 401, "token_too_large"),
]


@pytest.mark.parametrize(("case", "build", "status", "code"), REJECTED, ids=[c[0] for c in REJECTED])
async def test_rejected(signer: Signer, case: str, build: Callable[[Signer], str], status: int, code: str) -> None:
    token = build(signer)
    async with client_for(app_for(signer)) as client:
        response = await client.get("/orders", headers=bearer(token))
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code
    if status == 401:
        challenge = response.headers["www-authenticate"]
        assert challenge.startswith('Bearer realm="api", error="invalid_token", error_description="')
    else:
        assert 'error="invalid_request"' in response.headers["www-authenticate"]
    for part in token.split("."):
        if len(part) > 8:
            assert part not in response.text
            assert part not in response.headers["www-authenticate"]


async def test_valid_token_lands_claims_in_request_state(signer: Signer) -> None:
    token = signer.token(scope="read write")
    async with client_for(app_for(signer)) as client:
        response = await client.get("/orders", headers=bearer(token))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["claims"] == jwt.decode(token, options={"verify_signature": False})
    assert body["user"] == "user-1"
    assert body["scopes"] == ["authenticated", "read", "write"]


@pytest.mark.parametrize("alg", ["RS256", "PS256", "ES256", "EdDSA"])
async def test_public_key_cannot_verify_hmac_even_when_hs256_is_allowed(alg: str) -> None:
    # CVE-2022-29217 / CVE-2024-33663: with HS256 in the allow-list, the public key must still not act as a secret.
    signer = signer_for(alg)
    async with client_for(app_for(signer, algorithms=[alg, "HS256"])) as client:
        forged = await client.get("/", headers=bearer(_confusion(signer)))
        genuine = await client.get("/", headers=bearer(signer.token()))
    assert forged.status_code == 401
    assert forged.json()["code"] == "key_not_found"
    assert genuine.status_code == 200


async def test_leeway_accepts_small_clock_skew(signer: Signer) -> None:
    async with client_for(app_for(signer, leeway=60)) as client:
        skewed = await client.get("/", headers=bearer(signer.token(exp=now() - 30, nbf=now() + 30, iat=now() + 30)))
        too_far = await client.get("/", headers=bearer(signer.token(exp=now() - 90)))
    assert skewed.status_code == 200
    assert too_far.json()["code"] == "token_expired"


async def test_fractional_numeric_dates_are_legal() -> None:
    signer = signer_for("HS256")
    async with client_for(app_for(signer)) as client:
        response = await client.get("/", headers=bearer(signer.token(exp=now() + 300.5, iat=now() - 0.25)))
    assert response.status_code == 200


async def test_audience_list_matches_any_configured_audience() -> None:
    signer = signer_for("HS256")
    async with client_for(app_for(signer, audience=["other", AUDIENCE])) as client:
        one = await client.get("/", headers=bearer(signer.token(aud=[AUDIENCE, "x"])))
        none = await client.get("/", headers=bearer(signer.token(aud=["x", "y"])))
    assert one.status_code == 200
    assert none.json()["code"] == "audience_invalid"


async def test_jku_header_is_ignored_when_the_signature_is_ours() -> None:
    # The header is not an error in itself; it is simply never used to find a key.
    signer = signer_for("ES256")
    async with client_for(app_for(signer)) as client:
        response = await client.get("/", headers=bearer(signer.token(headers={"jku": "https://attacker.test/"})))
    assert response.status_code == 200


async def test_typ_check_keeps_access_tokens_and_id_tokens_apart() -> None:
    signer = signer_for("RS256")
    async with client_for(app_for(signer, typ="at+jwt")) as client:
        access = await client.get("/", headers=bearer(signer.token(headers={"typ": "at+jwt"})))
        long_form = await client.get("/", headers=bearer(signer.token(headers={"typ": "application/AT+JWT"})))
        id_token = await client.get("/", headers=bearer(signer.token(headers={"typ": "JWT"})))
    assert access.status_code == 200
    assert long_form.status_code == 200
    assert id_token.json()["code"] == "typ_invalid"


async def test_max_age_limits_time_since_iat() -> None:
    signer = signer_for("HS256")
    async with client_for(app_for(signer, max_age=600, leeway=0)) as client:
        fresh = await client.get("/", headers=bearer(signer.token(iat=now() - 60)))
        old = await client.get("/", headers=bearer(signer.token(iat=now() - 3600)))
        no_iat = await client.get("/", headers=bearer(signer.token(iat=...)))
    assert fresh.status_code == 200
    assert old.json()["code"] == "token_too_old"
    assert no_iat.json()["code"] == "claim_missing"


async def test_required_claims_can_be_extended() -> None:
    signer = signer_for("HS256")
    async with client_for(app_for(signer, required_claims=["exp", "jti"])) as client:
        without = await client.get("/", headers=bearer(signer.token()))
        with_jti = await client.get("/", headers=bearer(signer.token(jti="abc")))
    assert without.json()["code"] == "claim_missing"
    assert with_jti.status_code == 200


async def test_json_whitespace_around_and_inside_is_legal() -> None:
    signer = signer_for("HS256")
    claims = json.dumps(signer.claims(), indent=1)
    token = signer.sign_raw(' \n{ "alg" : "HS256" }\n', f"\t{claims}\r\n")
    async with client_for(app_for(signer)) as client:
        response = await client.get("/", headers=bearer(token))
    assert response.status_code == 200, response.text


async def test_scopes_come_from_scope_and_scp_in_any_form() -> None:
    signer = signer_for("ES256")
    app = app_for(signer)
    cases: list[tuple[dict[str, Any], list[str]]] = [
        ({"scope": ["a", "b"]}, ["a", "b"]),
        ({"scp": "c d"}, ["c", "d"]),
        ({"scope": "a", "scp": ["a", "e"]}, ["a", "e"]),
    ]
    async with client_for(app) as client:
        for claims, scopes in cases:
            response = await client.get("/", headers=bearer(signer.token(**claims)))
            assert response.json()["scopes"] == ["authenticated", *scopes], claims


async def test_without_a_configured_audience_a_token_without_aud_is_accepted() -> None:
    signer = signer_for("ES256")
    async with client_for(app_for(signer, audience=None)) as client:
        response = await client.get("/", headers=bearer(signer.token(aud=...)))
    assert response.json()["claims"]["sub"] == "user-1"


def test_parse_compact_refuses_a_token_over_the_size_limit_on_its_own() -> None:
    from jwt_middleware.errors import InvalidToken
    from jwt_middleware.jws import HeaderPolicy, parse_compact

    with pytest.raises(InvalidToken) as refused:
        parse_compact(b"a" * 300, HeaderPolicy(frozenset({"ES256"}), None), 256)
    assert refused.value.code == "token_too_large"


async def test_a_token_without_exp_is_accepted_only_when_exp_is_not_required(caplog: pytest.LogCaptureFixture) -> None:
    signer = signer_for("ES256")
    token = signer.token(exp=...)
    async with client_for(app_for(signer)) as client:
        assert (await client.get("/", headers=bearer(token))).json()["code"] == "claim_missing"
    async with client_for(app_for(signer, required_claims=[])) as client:
        assert (await client.get("/", headers=bearer(token))).json()["claims"]["sub"] == "user-1"
    assert "tokens without expiry are accepted" in caplog.text  # and the opt-out is warned about at start-up
