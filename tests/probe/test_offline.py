"""Offline checks of the valid token: weak secrets, lifetime, missing claims, readable personal data."""

from __future__ import annotations

import base64
import hmac
import json
import time

import pytest

from jwt_middleware.probe.battery import equivalent
from jwt_middleware.probe.findings import check
from jwt_middleware.probe.offline import decode_unverified, lifetime_issues, personal_claims, weak_secret, weak_secrets

from ..conftest import signer_for


def b64url(data: str | bytes) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@pytest.mark.parametrize(
    ("secret", "alg"),
    [
        ("your-256-bit-secret", "HS256"),
        ("secret", "HS384"),
        ("changeme", "HS512"),
        ("your-very-secure-secret-at-least-32-chars-long", "HS256"),
        ("keyboard cat", "HS256"),  # inner spaces are part of the secret
        ("", "HS256"),
    ],
)
def test_published_secrets_are_found(secret: str, alg: str) -> None:
    # Signed by hand: PyJWT warns about (or refuses) most of these keys, which is the point.
    signing_input = f"{b64url(json.dumps({'alg': alg}))}.{b64url('{}')}"
    signature = hmac.digest(secret.encode(), signing_input.encode(), f"sha{alg[2:]}")
    token = f"{signing_input}.{b64url(signature)}"
    assert weak_secret(token) == secret.encode()


def test_a_random_secret_or_an_asymmetric_token_is_not_flagged() -> None:
    assert weak_secret(signer_for("HS256").token()) is None
    assert weak_secret(signer_for("ES256").token()) is None
    head, payload, _ = signer_for("HS256").token().split(".")
    assert weak_secret(f"{head}.{payload}.abcde") is None  # a signature that is not base64url


def test_the_list_is_read_from_package_data() -> None:
    secrets = list(weak_secrets())
    assert secrets[0] == b""
    assert b"your-256-bit-secret" in secrets
    assert not any(s.startswith(b"#") for s in secrets)
    assert len(secrets) == len(set(secrets))


def test_lifetime_and_claims() -> None:
    now = int(time.time())
    assert [i.check_id for i in lifetime_issues({"iss": "i", "aud": "a", "iat": now, "exp": now + 300})] == []
    assert [i.check_id for i in lifetime_issues({"iss": "i", "aud": "a"})] == ["no-expiry"]
    long = list(lifetime_issues({"iat": now, "exp": now + 7 * 86400}))
    assert [i.check_id for i in long] == ["long-lifetime", "no-audience", "no-issuer"]
    assert "168 hours" in long[0].why
    assert [i.check_id for i in lifetime_issues({"iss": "i", "aud": "a", "exp": True})] == ["no-expiry"]


def test_personal_data_claims() -> None:
    claims = {"sub": "1", "email": "a@b.c", "phone_number": "1", "db_password": "x", "clientSecret": "y", "scope": "r"}
    assert personal_claims(claims) == ["clientSecret", "db_password", "email", "phone_number"]


@pytest.mark.parametrize("token", ["a.b", "!!.!!.x", "WzFd.WzFd.x", "e30.bm90IGpzb24.x"])
def test_decode_unverified_refuses_what_is_not_a_jws_of_objects(token: str) -> None:
    with pytest.raises(ValueError, match=r"JWS|base64url JSON|JSON objects"):
        decode_unverified(token)


def test_equivalent_spellings_of_a_token() -> None:
    token = signer_for("HS256").token()
    head, payload, signature = token.split(".")
    assert equivalent(f"{head}.{payload}.{signature}==", token)  # padding: the same bytes
    assert not equivalent(f"{head}.{payload}", token)  # a segment fewer
    assert not equivalent(f"{head}.{payload}.{signature[:-2]}", token)  # other bytes
    assert not equivalent(f"{head}.{payload}.abcde", token)  # not base64url at all


def test_an_unknown_check_id_is_a_bug() -> None:
    assert check("forgery-accepted.some-future-class").id == "forgery-accepted.other"
    with pytest.raises(KeyError):
        check("no-such-check")
