"""Differential fuzzing: we never accept a token that PyJWT's strict `jwt.decode` rejects.

Tokens are generated from random headers and claims (right and wrong types, near and far times), encoded
(sometimes with duplicate members or in UTF-16), signed (sometimes with the wrong key), then mutated
(characters flipped, inserted, dropped, padded, segments swapped). Whatever we accept, PyJWT must accept with
the same key, algorithm, issuer, audience and required claims, and both must read the same claims.

A long session: HYPOTHESIS_PROFILE=long .venv/bin/pytest tests/test_fuzz.py  (see README, "Security").
"""

from __future__ import annotations

import json
import math
import time
from typing import Any

import anyio
import jwt
import pytest
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st

from jwt_middleware import AuthError, JWTMiddleware

from .conftest import AUDIENCE, ISSUER, b64url, signer_for

ALGORITHMS = ["HS256", "RS256", "PS256", "ES256", "EdDSA"]
LEEWAY = 30
settings.register_profile("ci", max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("long", max_examples=200_000, deadline=None, suppress_health_check=list(HealthCheck))
settings.load_profile("ci")


async def _app(scope: Any, receive: Any, send: Any) -> None:  # pragma: no cover - never reached
    pass


VERIFIERS = {
    alg: JWTMiddleware(
        _app,
        algorithms=[alg],
        issuer=ISSUER,
        audience=AUDIENCE,
        key=signer_for(alg).public,
        leeway=LEEWAY,
        cache_size=0,
    ).verifier
    for alg in ALGORITHMS
}

# Offsets from now, in seconds, kept clear of the leeway edges so the two clocks cannot straddle one.
offsets = st.integers(-(10**6), 10**6).filter(lambda o: all(abs(o - edge) > 5 for edge in (-LEEWAY, 0, LEEWAY)))
odd_values = st.one_of(
    st.text(max_size=8),
    st.booleans(),
    st.none(),
    st.lists(st.integers(), max_size=2),
    st.sampled_from([1e30, -1.0, math.inf, -math.inf, math.nan, 2**64, "99999999999"]),
)


FAULTS = ("iss", "aud", "sub", "exp", "nbf", "iat", "jti", "header", "encoding", "signer", "mutation")


@st.composite
def numeric_dates(draw: st.DrawFn, now: int) -> Any:
    kind = draw(st.sampled_from(["int", "float", "odd", "absent"]))
    if kind == "int":
        return now + draw(offsets)
    if kind == "float":
        return now + draw(offsets) + draw(st.floats(0, 0.99))
    return draw(odd_values) if kind == "odd" else ...


@st.composite
def claim_sets(draw: st.DrawFn, now: int, faults: frozenset[str]) -> dict[str, Any]:
    """Valid claims, except for the fields named in `faults`, which may get any value at all."""
    valid = {
        "iss": st.just(ISSUER),
        "aud": st.one_of(st.just(AUDIENCE), st.just([AUDIENCE, "other"])),
        "sub": st.one_of(st.just("user-1"), st.just(...)),
        "exp": st.integers(LEEWAY + 10, 10**6).map(lambda o: now + o),
        "nbf": st.one_of(st.just(...), st.integers(0, 10**6).map(lambda o: now - o)),
        "iat": st.one_of(st.just(...), st.integers(0, 10**6).map(lambda o: now - o)),
        "jti": st.one_of(st.just(...), st.text(max_size=4)),
    }
    faulty = {
        "iss": st.one_of(st.just(ISSUER + "x"), odd_values, st.just(...)),
        "aud": st.one_of(st.lists(st.sampled_from([AUDIENCE, "other", 7]), max_size=3), odd_values, st.just(...)),
        "sub": st.one_of(st.integers(), odd_values),
        "exp": numeric_dates(now),
        "nbf": numeric_dates(now),
        "iat": numeric_dates(now),
        "jti": st.one_of(st.integers(), odd_values),
    }
    claims = {name: draw(faulty[name] if name in faults else valid[name]) for name in valid}
    claims = {k: v for k, v in claims.items() if v is not ...}
    claims.update(draw(st.dictionaries(st.text(max_size=4), st.integers() | st.text(max_size=4), max_size=2)))
    return claims


@st.composite
def headers(draw: st.DrawFn, alg: str, faulty: bool) -> dict[str, Any]:
    header: dict[str, Any] = {"alg": alg}
    if not faulty:
        return header | draw(st.sampled_from([{}, {"typ": "JWT"}, {"kid": "k1"}]))
    header["alg"] = draw(st.sampled_from([alg, "none", "NONE", "HS256", "ES256", "RS256", ""]))
    optional = {
        "typ": st.sampled_from(["JWT", "at+jwt", 1]),
        "kid": st.one_of(st.text(max_size=6), st.integers()),
        "crit": st.sampled_from([["exp"], [], "b64", ["b64"]]),
        "b64": st.booleans(),
        "jku": st.just("https://attacker.test/jwks"),
        "enc": st.just("A128GCM"),
    }
    for name, strategy in optional.items():
        if draw(st.booleans()):
            header[name] = draw(strategy)
    return header


def encode(draw: st.DrawFn, value: dict[str, Any], faulty: bool) -> bytes:
    text = json.dumps(value, allow_nan=True)
    style = draw(st.sampled_from(["duplicate", "utf-16", "bom", "spaces"])) if faulty else "plain"
    if style == "duplicate" and value:
        first = next(iter(value))
        text = "{" + json.dumps(first) + ":0," + text[1:]
    if style == "spaces":
        text = " " + text.replace(":", " : ") + "\n"
    if style == "utf-16":
        return text.encode("utf-16")
    if style == "bom":
        return b"\xef\xbb\xbf" + text.encode()
    return text.encode()


@st.composite
def tokens(draw: st.DrawFn) -> tuple[str, str]:
    alg = draw(st.sampled_from(ALGORITHMS))
    faults = frozenset(draw(st.sets(st.sampled_from(FAULTS), max_size=3)))
    now = int(time.time())
    header_bytes = encode(draw, draw(headers(alg, "header" in faults)), "encoding" in faults and draw(st.booleans()))
    payload_bytes = encode(draw, draw(claim_sets(now, faults)), "encoding" in faults and draw(st.booleans()))
    signer = signer_for(draw(st.sampled_from(ALGORITHMS)) if "signer" in faults else alg)
    signing_input = f"{b64url(header_bytes)}.{b64url(payload_bytes)}"
    algorithm = jwt.get_algorithm_by_name(signer.alg)
    signature = algorithm.sign(signing_input.encode(), algorithm.prepare_key(signer.private))
    token = f"{signing_input}.{b64url(signature)}"
    return alg, draw(mutations(token)) if "mutation" in faults else token


@st.composite
def mutations(draw: st.DrawFn, token: str) -> str:
    kind = draw(st.sampled_from(["flip", "insert", "delete", "pad", "swap", "alphabet", "truncate"]))
    index = draw(st.integers(0, len(token) - 1))
    alphabet = st.sampled_from("AZaz09-_.=+/ ~!\x00é")
    if kind == "flip":
        return token[:index] + draw(alphabet) + token[index + 1 :]
    if kind == "insert":
        return token[:index] + draw(alphabet) + token[index:]
    if kind == "delete":
        return token[:index] + token[index + 1 :]
    if kind == "pad":
        return ".".join(part + "=" * (-len(part) % 4) for part in token.split("."))
    if kind == "swap":
        parts = token.split(".")
        return ".".join([parts[1], parts[0], *parts[2:]])
    if kind == "alphabet":
        return token.replace("-", "+").replace("_", "/")
    return token[:index]


def ours(alg: str, token: str) -> dict[str, Any] | None:
    try:
        return anyio.run(VERIFIERS[alg].verify, token).claims
    except AuthError:
        return None


def pyjwt(alg: str, token: str) -> dict[str, Any] | None:
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            signer_for(alg).public,
            algorithms=[alg],
            issuer=ISSUER,
            audience=AUDIENCE,
            leeway=LEEWAY,
            options={"require": ["exp", "iss", "aud"], "strict_aud": False},
        )
    except Exception:  # any PyJWT failure, even a non-PyJWT exception, counts as "rejected"
        return None
    return claims


@given(tokens())
def test_we_never_accept_what_pyjwt_rejects(case: tuple[str, str]) -> None:
    alg, token = case
    accepted = ours(alg, token)
    if accepted is not None:
        assert pyjwt(alg, token) == accepted, "accepted a token PyJWT rejects, or read different claims"


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_the_generator_reaches_acceptance(alg: str) -> None:
    # Without this, a generator that only made garbage would pass the property above vacuously.
    found = find(tokens().filter(lambda case: case[0] == alg), lambda case: ours(*case) is not None)
    assert pyjwt(*found) is not None
