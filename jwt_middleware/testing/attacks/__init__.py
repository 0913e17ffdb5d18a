"""A battery of forged tokens: every known way to make a JWT verifier accept what it must not.

Give `forge()` one valid compact JWT (and, if you have them, the verifier's public key or JWKS) and it returns
a list of `Forgery` objects, each a token that a correct verifier answers with 400 or 401, never 2xx and never
5xx. The battery covers `alg: none` in every casing, algorithm confusion (a public key used as an HMAC secret,
CVE-2022-29217 / CVE-2024-33663), psychic ECDSA signatures (CVE-2022-21449), embedded and remote attacker keys
(`jwk`, CVE-2018-0114; `jku`, `x5u`, `x5c`), `kid` injection, weak HMAC secrets, tampered claims under the
original signature, `crit` and RFC 7797 `b64`, JWE-shaped and nested tokens, duplicate JSON members,
non-canonical base64, malformed compact serialization, wrongly typed claims, non-UTF-8 JSON and oversized or
deeply nested headers.

    >>> for forgery in forge(token, public_key=public_pem):
    ...     assert client.get("/", headers={"Authorization": f"Bearer {forgery.token}"}).status_code in (400, 401)

The test suite fires the battery at the middleware in-process; the `jwt-probe` CLI fires the same list at a live
URL. For a probe, a 5xx answer is a finding too: it means a hostile token reached code that crashed on it.

Most forgeries keep the original signature, which no longer matches, so they prove little about the checks
behind the signature. When the legitimate signing key is known (`signing_key=`, in tests), the variants that
are invalid on their own merits (a wrong `aud`, a string `exp`, UTF-16 JSON, an unknown `crit` extension...)
are also re-signed with it, named `...-resigned`, so a verifier has to reject them for the right reason.

Everything is deterministic: the attacker's keys are derived from fixed seeds, so the same input token yields
the same battery on every run, and reports can be compared. Some tokens are deliberately malformed (inner
whitespace, a newline) and cannot travel in a real HTTP header; an in-process ASGI client can still send them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from .keys import public_keys, signing_key_of
from .signature import (
    alg_none,
    algorithm_confusion,
    embedded_keys,
    kid_injection,
    psychic_signature,
    signature_tampering,
    weak_hmac_secret,
)
from .structure import (
    claim_types,
    claims_tampering,
    crit_and_b64,
    duplicate_members,
    header_tampering,
    json_encoding,
    jwe_and_nested,
    malformed_compact,
    non_canonical_base64,
    not_json_objects,
    oversized,
)
from .token import ATTACKER_URL, Battery, Forgery, Token

__all__ = ["Forgery", "forge", "replay"]


def forge(
    token: str,
    *,
    public_key: object | None = None,
    jwks: Mapping[str, Any] | None = None,
    signing_key: object | None = None,
    attacker_url: str = ATTACKER_URL,
) -> list[Forgery]:
    """Forged variants of `token`, a valid compact JWS whose header is a JSON object.

    `public_key` (PEM bytes or str, or a `cryptography` public key) and `jwks` (a JWK Set dict) enable the
    algorithm-confusion forgeries. `signing_key` (the HMAC secret or private key that signed `token`) adds
    re-signed variants that must be rejected even though their signature is genuine. `attacker_url` is what
    the `jku` and `x5u` forgeries point at. Names are unique; no variant equals `token`.

    >>> forgeries = forge(token, public_key=public_pem)
    >>> next(f.name for f in forgeries if f.attack == "algorithm-confusion")
    'algorithm-confusion-key0-pem-HS256'
    """
    battery = Battery(
        original=Token.parse(token),
        public_keys=tuple(public_keys(public_key, jwks)),
        jwks=jwks,
        signing_key=signing_key_of(signing_key),
        attacker_url=attacker_url,
    )
    forgeries: list[Forgery] = []
    names: set[str] = set()
    tokens = {token}
    for generate in _GENERATORS:
        for forgery in generate(battery):
            if forgery.name in names:
                raise RuntimeError(f"duplicate forgery name {forgery.name!r}")  # pragma: no cover - a bug here
            names.add(forgery.name)
            if forgery.token not in tokens:  # e.g. re-padding a segment that needs no padding
                tokens.add(forgery.token)
                forgeries.append(forgery)
    return forgeries


def replay(expired_token: str, *, now: float | None = None) -> Forgery:
    """An expired but genuinely signed token, as a forgery: replaying it must fail (RFC 7519 section 4.1.4).

    >>> replay(token_minted_with_exp_in_the_past).attack
    'replay'
    """
    payload = Token.parse(expired_token).payload
    exp = payload.get("exp") if payload is not None else None
    if not isinstance(exp, (int, float)) or isinstance(exp, bool) or exp > (time.time() if now is None else now):
        raise ValueError("replay() needs a token whose numeric exp claim has passed")
    return Forgery("replay-expired", "replay", "RFC 7519 section 4.1.4", expired_token)


_GENERATORS: tuple[Callable[[Battery], Iterator[Forgery]], ...] = (
    alg_none,
    algorithm_confusion,
    psychic_signature,
    signature_tampering,
    claims_tampering,
    header_tampering,
    weak_hmac_secret,
    kid_injection,
    embedded_keys,
    crit_and_b64,
    jwe_and_nested,
    oversized,
    duplicate_members,
    non_canonical_base64,
    malformed_compact,
    claim_types,
    not_json_objects,
    json_encoding,
)
