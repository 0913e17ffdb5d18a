"""Misconfiguration is refused at construction, with a message that names the argument to fix."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from jwt_middleware import ConfigurationError, JWKSOptions, JWTMiddleware, Provider
from jwt_middleware.settings import REQUIRED

from .conftest import AUDIENCE, ISSUER, signer_for

RSA = signer_for("RS256")


async def app(scope: Any, receive: Any, send: Any) -> None:  # pragma: no cover - never called
    pass


def build(**options: Any) -> JWTMiddleware:
    defaults: dict[str, Any] = {"algorithms": ["RS256"], "issuer": ISSUER, "audience": AUDIENCE, "key": RSA.public}
    return JWTMiddleware(app, **{**defaults, **options})


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"algorithms": None}, "algorithms must be listed explicitly"),
        ({"algorithms": []}, "algorithms must be listed explicitly"),
        ({"algorithms": "RS256"}, "algorithms must be listed explicitly"),
        ({"algorithms": ["none"]}, "must not contain 'none'"),
        ({"algorithms": ["RS256", "NoNe"]}, "must not contain 'none'"),
        ({"algorithms": ["rs256"]}, "did you mean 'RS256'"),
        ({"algorithms": ["XS256"]}, "unknown algorithm 'XS256'"),
        ({"issuer": ""}, "issuer must be a non-empty string"),
        ({"audience": []}, "audience must be a non-empty string"),
        ({"audience": [1]}, "audience must be a non-empty string"),
        ({"key": None}, "pass exactly one of key"),
        ({"jwks_url": "https://x.test/jwks"}, "pass exactly one of key"),
        ({"leeway": -1}, "leeway must be between 0 and 300"),
        ({"leeway": 3600}, "leeway must be between 0 and 300"),
        ({"leeway": float("nan")}, "leeway must be a number"),
        ({"leeway": True}, "leeway must be a number"),
        ({"max_age": 0}, "max_age must be between"),
        ({"max_token_bytes": 10}, "max_token_bytes must be an integer of at least 256"),
        ({"cache_size": -1}, "cache_size must be an integer of at least 0"),
        ({"required_claims": "exp"}, "required_claims must be a list"),
        ({"typ": ""}, "typ must be a media type"),
        ({"realm": 'a"b'}, "realm must be a printable string"),
        ({"exempt": "/health"}, "exempt must be a list of patterns"),
        ({"exempt": ["health"]}, "the path must start with '/'"),
        ({"exempt": ["/a*"]}, "'*' is only allowed as a final '/*'"),
        ({"exempt": ["/*/x"]}, "'*' is only allowed as a final '/*'"),
        ({"optional": ["FETCH /x"]}, "names unknown methods"),
        ({"optional": ["GET /x y"]}, "must be 'PATH' or 'METHOD[,METHOD] PATH'"),
        ({"providers": [Provider(issuer=ISSUER, audience=AUDIENCE, key=RSA.public)]}, "providers replaces"),
    ],
)
def test_bad_configuration_names_the_argument(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message.replace("(", r"\(").replace("[", r"\[").replace("*", r"\*")):
        build(**options)


def test_issuer_and_audience_are_required_unless_explicitly_none(caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(ConfigurationError, match="issuer is required"):
        JWTMiddleware(app, algorithms=["RS256"], audience=AUDIENCE, key=RSA.public)
    with pytest.raises(ConfigurationError, match="audience is required"):
        JWTMiddleware(app, algorithms=["RS256"], issuer=ISSUER, key=RSA.public)
    caplog.set_level(logging.WARNING, logger="jwt_middleware")
    build(issuer=None, audience=None, required_claims=[])
    assert "iss claim is not checked" in caplog.text
    assert "aud claim is not checked" in caplog.text
    assert "tokens without expiry are accepted" in caplog.text


def test_secure_defaults_log_no_warning(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="jwt_middleware")
    build()
    # The suite's keys come from the testing kit, whose own warning is tested in tests/testing/.
    assert [r for r in caplog.records if "jwt_middleware.testing" not in r.getMessage()] == []


def test_several_providers_need_distinct_issuers() -> None:
    one = Provider(issuer=ISSUER, audience=AUDIENCE, key=RSA.public)
    with pytest.raises(ConfigurationError, match="distinct issuers"):
        JWTMiddleware(app, algorithms=["RS256"], providers=[one, one])
    with pytest.raises(ConfigurationError, match="each needs an issuer"):
        JWTMiddleware(app, algorithms=["RS256"], providers=[one, Provider(issuer=None, audience=None, key=RSA.public)])
    with pytest.raises(ConfigurationError, match="non-empty list"):
        JWTMiddleware(app, algorithms=["RS256"], providers=[])


@pytest.mark.parametrize(
    ("key", "algorithms", "message"),
    [
        (b"short", ["HS256"], "the HMAC secret is 5 bytes; HS256 needs at least 32"),
        ("x" * 40, ["HS512"], "HS512 needs at least 64"),
        (b"x" * 64, ["RS256"], "an HMAC secret only verifies HS256/HS384/HS512"),
        ('{"kty":"oct","k":"abc"}', ["HS256"], "key: it looks like JSON"),
        (RSA.private, ["RS256"], "key: it is a private key"),
        (b"-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----", ["RS256"], "PEM private key"),
        (b"-----BEGIN PUBLIC KEY-----\nabc\n-----END PUBLIC KEY-----", ["RS256"], "not a valid public key"),
        (RSA.public, ["ES256"], "fits none of algorithms"),
        (12345, ["RS256"], "key: a value of type int is not supported"),
        ([], ["RS256"], "key must not be empty"),
        (rsa.generate_private_key(65537, 1024).public_key(), ["RS256"], "1024 bits is too small"),  # noqa: S505
        ({"kty": "RSA", "use": "enc", "n": "AQAB", "e": "AQAB"}, ["RS256"], "\"use\" is 'enc'"),
    ],
)
def test_unusable_keys_are_refused(key: Any, algorithms: list[str], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message.replace("(", r"\(")):
        build(key=key, algorithms=algorithms)


def test_str_secret_of_sufficient_length_is_accepted() -> None:
    middleware = build(key="k" * 32, algorithms=["HS256", "HS512"])
    # A 32-byte secret is long enough for HS256 only, so HS512 is simply not bound to it.
    keys = middleware.key_sources[0].current()
    assert [k.alg for k in keys.keys] == ["HS256"]


async def _app(scope: Any, receive: Any, send: Any) -> None:  # pragma: no cover - never called
    pass


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"jwks": {"cooldown": 1}}, "jwks must be a JWKSOptions"),
        ({"algorithms": [256]}, "algorithms must be strings"),
        ({"providers": ["https://issuer.test/"]}, r"providers\[0\] must be a Provider"),
    ],
)
def test_wrongly_typed_options_name_themselves(options: dict[str, Any], message: str) -> None:
    keywords: dict[str, Any] = {"algorithms": ["ES256"], "issuer": ISSUER, "audience": AUDIENCE}
    if "providers" in options:
        keywords = {"algorithms": ["ES256"]}
    else:
        keywords["key"] = signer_for("ES256").public
    with pytest.raises(ConfigurationError, match=message):
        JWTMiddleware(_app, **{**keywords, **options})


def test_the_required_sentinel_reads_as_its_name() -> None:
    assert repr(REQUIRED) == "REQUIRED"


def test_jwks_options_group_the_remote_knobs_and_a_keyword_of_its_own_wins() -> None:
    server = "https://issuer.test/jwks.json"
    options = JWKSOptions(cooldown=60, timeout=2)
    grouped = JWTMiddleware(
        _app, algorithms=["ES256"], issuer=ISSUER, audience=AUDIENCE, jwks_url=server, jwks=options, jwks_timeout=3
    )
    assert (grouped.settings.jwks.cooldown, grouped.settings.jwks.timeout) == (60.0, 3.0)
    with pytest.raises(ConfigurationError, match=r"jwks\.cooldown"):
        JWTMiddleware(
            _app, algorithms=["ES256"], issuer=ISSUER, audience=AUDIENCE, jwks_url=server, jwks=JWKSOptions(cooldown=-1)
        )
    with pytest.raises(ConfigurationError, match="jwks_cooldown"):
        JWTMiddleware(_app, algorithms=["ES256"], issuer=ISSUER, audience=AUDIENCE, jwks_url=server, jwks_cooldown=-1)
