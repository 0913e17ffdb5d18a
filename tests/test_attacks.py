"""The attack battery (`jwt_middleware.testing.attacks`) fired at the middleware: every forgery refused, nothing leaked.

For each algorithm, and with the key given both as a public key and as a JWK with a `kid`, a valid token is
minted, `forge()` turns it into ~400 forgeries (re-signed with the real key where the forgery is wrong on its own
merits), and each is sent through a real Starlette app. Every one must get 400 or 401; the original must get 200
before and after. The responses and the logs of the whole battery must not quote any token, any segment of
one, or any library's exception text.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
import pytest
from asgi_lifespan import LifespanManager
from cryptography.hazmat.primitives.asymmetric import ed448
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from jwt_middleware.testing.attacks import Forgery, forge, replay

from .conftest import ALGORITHMS, Signer, b64url, make_app, signer_for

pytestmark = pytest.mark.anyio

KID = "battery-key-1"
# Text that only a library's exception (or a traceback) would put in a response or a log line.
LIBRARY_TEXT = (
    "Traceback",
    "Expecting ",
    "line 1 column",
    "codec can't",
    "recursion depth",
    "Incorrect padding",
    "Invalid base64",
    "Not enough segments",
    "Signature verification failed",
    "InvalidSignature",
    "JSONDecodeError",
    "UnicodeDecodeError",
    "UnicodeEncodeError",
    "binascii",
    "object has no attribute",
    "not subscriptable",
    "unhashable type",
    "invalid literal",
    "could not convert",
    "NoneType",
    "KeyError",
    "TypeError",
    "ValueError",
    "OverflowError",
    "RecursionError",
    "jwt.exceptions",
    "cryptography",
)
# Our descriptions are short fixed sentences; a str(exc) would bring colons, quotes or braces.
DESCRIPTION = re.compile(r"[A-Z][A-Za-z0-9 ,.'()/<>-]{0,118}\.")


@dataclass
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: str

    @property
    def code(self) -> str | None:
        try:
            code = json.loads(self.body).get("code")
        except (ValueError, AttributeError):
            return None
        return code if isinstance(code, str) else None


def _jwk_for(signer: Signer) -> dict[str, Any]:
    """The middleware's key as a JWK carrying a `kid` and an `alg`, so key choice goes through the kid index."""
    if signer.alg.startswith("HS"):
        assert isinstance(signer.public, bytes)
        jwk: dict[str, Any] = {"kty": "oct", "k": b64url(signer.public)}
    else:
        algorithm = jwt.get_algorithm_by_name(signer.alg)
        jwk = json.loads(algorithm.to_jwk(signer.public))
    return {**jwk, "kid": KID, "alg": signer.alg, "use": "sig"}


def _battery_for(signer: Signer, key_form: str) -> tuple[str, dict[str, Any], list[Forgery]]:
    """A valid token, the middleware keywords that accept it, and its forgeries."""
    asymmetric = not signer.alg.startswith("HS")
    if key_form == "jwk":
        jwk = _jwk_for(signer)
        token = signer.token(headers={"kid": KID})
        options: dict[str, Any] = {"algorithms": [signer.alg], "key": jwk}
        forgeries = forge(token, jwks={"keys": [jwk]} if asymmetric else None, signing_key=signer.private)
    else:
        token = signer.token()
        options = {"algorithms": [signer.alg], "key": signer.public}  # the annotation above covers both
        forgeries = forge(token, public_key=signer.public_pem if asymmetric else None, signing_key=signer.private)
    return token, options, forgeries


async def _send(client: httpx.AsyncClient, token: str) -> Answer:
    # Bytes, so the deliberately malformed tokens (a newline, a NUL) reach the app exactly as forged.
    headers = [(b"authorization", b"Bearer " + token.encode("latin-1"))]
    response = await client.get("/battery", headers=headers)
    return Answer(response.status_code, list(response.headers.items()), response.text)


def _client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


async def _fire(app: Any, forgeries: Iterable[Forgery]) -> dict[str, Answer]:
    async with LifespanManager(app) as manager, _client(manager.app) as client:
        return {forgery.name: await _send(client, forgery.token) for forgery in forgeries}


def _accepted(answers: Mapping[str, Answer]) -> dict[str, str]:
    return {name: f"{a.status} {a.body[:80]}" for name, a in answers.items() if a.status not in (400, 401)}


def _secrets_of(forgery: Forgery) -> set[str]:
    """The token and every piece of it long enough to identify it in a log line or a response."""
    pieces = {forgery.token, *re.split(r"[.\s]+", forgery.token)}
    return {p for p in pieces if len(p) >= 16}


def _leaks(texts: Iterable[str], forgeries: Iterable[Forgery]) -> list[str]:
    """Every token fragment or library exception text found in `texts`."""
    blob = "\n".join(texts)
    found = [f"library text {marker!r}" for marker in LIBRARY_TEXT if marker in blob]
    for forgery in forgeries:
        found.extend(f"{forgery.name}: {secret[:24]}..." for secret in _secrets_of(forgery) if secret in blob)
    return found


def _log_texts(records: Iterable[logging.LogRecord]) -> list[str]:
    formatter = logging.Formatter()
    texts = []
    for record in records:
        texts.append(record.getMessage())
        if record.exc_info:
            texts.append(formatter.formatException(record.exc_info))
        if record.stack_info:
            texts.append(record.stack_info)
    return texts


@pytest.mark.parametrize("key_form", ["public-key", "jwk"])
@pytest.mark.parametrize("alg", ALGORITHMS)
async def test_every_forgery_is_refused_and_nothing_leaks(
    alg: str, key_form: str, caplog: pytest.LogCaptureFixture
) -> None:
    signer = signer_for(alg)
    token, options, forgeries = _battery_for(signer, key_form)
    assert len(forgeries) > 300
    app = make_app(**options)
    async with LifespanManager(app) as manager, _client(manager.app) as client:
        original = await _send(client, token)
        assert original.status == 200, original.body
        assert json.loads(original.body)["claims"] == jwt.decode(token, options={"verify_signature": False})
        caplog.clear()
        caplog.set_level(logging.DEBUG)
        answers = {forgery.name: await _send(client, forgery.token) for forgery in forgeries}
        records = list(caplog.records)
        # A forgery must not have poisoned any cache: the original still passes, with its own claims.
        after = await _send(client, token)
        assert after.status == 200, after.body

    assert _accepted(answers) == {}, "forged tokens accepted, or answered with a server error"

    # Re-signed forgeries carry a genuine signature, so refusing them as forged would hide a missing check.
    misjudged = {n: a.code for n, a in answers.items() if n.endswith("-resigned") and a.code == "signature_invalid"}
    assert misjudged == {}

    # Every refusal is the RFC 6750 answer with our fixed wording.
    for name, answer in answers.items():
        body = json.loads(answer.body)
        assert set(body) == {"error", "error_description", "code"}, name
        assert DESCRIPTION.fullmatch(body["error_description"]), (name, body)
        assert re.fullmatch(r"[a-z_]+", body["code"]), (name, body)
        challenge = dict(answer.headers)["www-authenticate"]
        assert f'error_description="{body["error_description"]}"' in challenge, name

    # Nothing unexpected happened on the way: an "unexpected error" log means a hostile token reached a crash.
    loud = [(r.levelname, r.getMessage()) for r in records if r.levelno >= logging.WARNING]
    assert loud == []

    responses = [a.body for a in answers.values()] + [f"{k}: {v}" for a in answers.values() for k, v in a.headers]
    assert _leaks(responses, forgeries) == []
    assert _leaks(_log_texts(records), forgeries) == []


async def test_a_replayed_expired_token_is_refused() -> None:
    signer = signer_for("ES256")
    now = int(time.time())
    expired = signer.token(iat=now - 7200, exp=now - 3600)
    forgery = replay(expired)
    assert (forgery.attack, forgery.token) == ("replay", expired)
    answers = await _fire(make_app(algorithms=["ES256"], key=signer.public), [forgery])
    assert answers["replay-expired"].status == 401
    assert answers["replay-expired"].code == "token_expired"


def test_replay_refuses_a_token_that_has_not_expired() -> None:
    with pytest.raises(ValueError, match="exp"):
        replay(signer_for("HS256").token())


# --- The battery itself: deterministic, complete, and able to catch a verifier that accepts too much -------


async def _accept_everything(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True})


async def test_the_battery_catches_a_verifier_that_accepts_anything() -> None:
    # A test that cannot fail proves nothing: behind no middleware, every forgery "gets in".
    signer = signer_for("RS256")
    _, _, forgeries = _battery_for(signer, "public-key")
    app = Starlette(routes=[Route("/battery", _accept_everything)])
    assert len(_accepted(await _fire(app, forgeries))) == len(forgeries)


def test_the_leak_check_finds_token_fragments_and_library_text() -> None:
    forgery = forge(signer_for("HS256").token())[0]
    segment = max(forgery.token.split("."), key=len)
    assert _leaks([f"refused {segment}"], [forgery])
    assert _leaks(["Expecting value: line 1 column 1 (char 0)"], [])
    assert _leaks(["refused http '/battery': signature_invalid"], [forgery]) == []


def test_forge_is_deterministic_with_unique_names_and_never_returns_the_original() -> None:
    signer = signer_for("ES256")
    token = signer.token()
    first = forge(token, public_key=signer.public_pem)
    second = forge(token, public_key=signer.public_pem)
    assert [f.token for f in first] == [f.token for f in second]
    names = [f.name for f in first]
    assert len(names) == len(set(names))
    assert token not in {f.token for f in first}
    assert all(f.attack and f.reference for f in first)


EXPECTED_ATTACKS = {
    "alg-none",
    "psychic-signature",
    "signature-tampering",
    "claims-tampering",
    "header-tampering",
    "weak-hmac-secret",
    "kid-injection",
    "embedded-jwk",
    "jku-injection",
    "x5u-injection",
    "embedded-x5c",
    "crit-extension",
    "b64-false",
    "jwe-confusion",
    "nested-jwt",
    "oversized",
    "duplicate-members",
    "non-canonical-base64",
    "malformed-compact",
    "claim-type",
    "not-a-json-object",
    "json-encoding",
}


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_forge_covers_every_attack_class(alg: str) -> None:
    signer = signer_for(alg)
    token = signer.token()
    without_key = {f.attack for f in forge(token)}
    expected = EXPECTED_ATTACKS - ({"embedded-x5c"} if alg.startswith("HS") else set())
    assert expected <= without_key
    # Algorithm confusion needs the public key, and is only generated when it is given.
    assert "algorithm-confusion" not in without_key
    if signer.public_pem is not None:
        assert "algorithm-confusion" in {f.attack for f in forge(token, public_key=signer.public_pem)}


def test_forge_covers_every_casing_of_none_and_the_psychic_signature_sizes() -> None:
    names = {f.name for f in forge(signer_for("RS256").token())}
    casings = {"".join(c.upper() if m >> i & 1 else c for i, c in enumerate("none")) for m in range(16)}
    assert {f"alg-none-{c}-{s}" for c in casings for s in ("empty-sig", "no-sig", "orig-sig")} <= names
    assert {f"psychic-signature-{a}-raw-zeros" for a in ("ES256", "ES384", "ES512")} <= names


def test_forge_refuses_what_is_not_a_compact_jws() -> None:
    for bad in ("a.b", "x.y.z", "e30.e30.", "W10.e30."):
        with pytest.raises(ValueError, match="token"):
            forge(bad)


def _ed448_token() -> tuple[str, Any]:
    private = ed448.Ed448PrivateKey.generate()
    return jwt.encode({"sub": "u"}, private, algorithm="EdDSA"), private


@pytest.mark.parametrize(
    "form", ["pem-bytes", "pem-str", "public-key-object", "private-key-object", "jwks", "jwks-with-junk"]
)
def test_forge_takes_the_public_key_in_every_form(form: str) -> None:
    signer = signer_for("ES256")
    assert signer.public_pem is not None
    jwk = {**json.loads(jwt.get_algorithm_by_name("ES256").to_jwk(signer.public)), "kid": "k"}
    private_jwk: dict[str, Any] = json.loads(jwt.get_algorithm_by_name("ES256").to_jwk(signer.private))
    forms: dict[str, dict[str, Any]] = {
        "pem-bytes": {"public_key": signer.public_pem},
        "pem-str": {"public_key": signer.public_pem.decode()},
        "public-key-object": {"public_key": signer.public},
        "private-key-object": {"public_key": signer.private},
        "jwks": {"jwks": {"keys": [jwk]}},
        # Secrets, unparsable keys and non-objects are passed over; a private JWK is used by its public half.
        "jwks-with-junk": {"jwks": {"keys": [{"kty": "oct", "k": "c2VjcmV0"}, {"kty": "EC"}, 7, private_jwk]}},
    }
    given = forms[form]
    confusion = [f for f in forge(signer.token(), **given) if f.attack == "algorithm-confusion"]
    assert confusion
    if form == "jwks":
        # Forgeries made from a published key name it by its kid, so a verifier looks that key up.
        assert all(jwt.get_unverified_header(f.token)["kid"] == "k" for f in confusion if "-key0-" in f.name)


def test_forge_refuses_keys_it_cannot_use() -> None:
    token = signer_for("HS256").token()
    with pytest.raises(TypeError, match="public_key"):
        forge(token, public_key=12)
    with pytest.raises(TypeError, match="signing_key"):
        forge(token, signing_key=12)


def test_forge_signs_with_ed448_and_a_str_secret_and_handles_a_raw_jws() -> None:
    token, private = _ed448_token()
    forgeries = forge(token, public_key=private.public_key(), signing_key=private)
    resigned = next(f for f in forgeries if f.name == "claims-aud-changed-resigned")
    assert jwt.decode(resigned.token, private.public_key(), algorithms=["EdDSA"], audience="https://attacker.invalid")
    # The HMAC secret may be a str; and a payload that is no JSON object (a raw JWS) gets no claim forgeries.
    raw = jwt.api_jws.encode(b"not json", "s" * 32, algorithm="HS256")
    forgeries = forge(raw, signing_key="s" * 32)
    assert forgeries
    assert not {f.attack for f in forgeries} & {"claim-type", "claims-tampering"}
    assert not [f for f in forgeries if f.name.startswith("duplicate-claim-")]
    assert forgeries[0].name in repr(forgeries[0])


def test_an_ed448_token_draws_ed448_attacker_keys() -> None:
    token = f"{b64url(json.dumps({'alg': 'Ed448'}))}.{b64url(json.dumps({'sub': 'a'}))}.{b64url(b'sig')}"
    forged = next(f for f in forge(token) if f.name == "jwk-Ed448")
    assert json.loads(jwt.utils.base64url_decode(forged.token.split(".")[0]))["jwk"]["crv"] == "Ed448"


def test_a_public_key_of_no_jws_kind_is_refused() -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import dsa

    dsa_pem = (
        dsa.generate_private_key(key_size=2048)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(TypeError, match="public_key must be"):
        forge(signer_for("ES256").token(), public_key=dsa_pem)


def test_a_published_jwk_equal_to_a_derived_form_is_tried_once() -> None:
    signer = signer_for("ES256")
    bare = {k: v for k, v in signer.key.jwk().items() if k in ("kty", "crv", "x", "y")}  # json.dumps of it = a form
    forgeries = forge(signer.token(), jwks={"keys": [bare]})
    names = [f.name for f in forgeries if f.attack == "algorithm-confusion"]
    assert not any("jwk-json-published" in name for name in names)
    assert any("jwk-json-spaced" in name for name in names)
