"""Key material -> prepared keys: the one policy for every key a user configures or an identity provider publishes.

Every form a user can hand us (an HMAC secret, a PEM public key, a `cryptography` key, a JWK, a JWKS, or a
list of these) and every JWKS fetched from an identity provider goes through here, so one policy decides
which keys are usable: RFC 7517 `use`/`key_ops`, RFC 7518's minimum sizes, curves matching algorithms,
no private keys, no ROCA moduli, and no set that mixes HMAC secrets with public keys (RFC 8725 section 3.1).

Inside, a key that policy leaves out raises `_Unusable` with a sentence in our words; the two public functions
are the one boundary that turns those into what their callers need: a `ConfigurationError` for `key=`, and a
list of problems to log for a fetched set.
"""

from __future__ import annotations

import binascii
import hashlib
from collections.abc import Collection, Mapping, Sequence
from typing import Any, cast

from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_pem_public_key
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from ..errors import ConfigurationError
from .algorithms import HMAC, SUPPORTED, PublicKey, fits, make_check
from .keyset import KeySet, PreparedKey

__all__ = ["keys_from_jwks", "keys_from_material"]

MIN_RSA_BITS = 2048
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth"})
_BASE64URL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def keys_from_material(material: object, algorithms: Collection[str]) -> KeySet:
    """Prepare the `key=` argument; anything unusable is a `ConfigurationError` naming what to fix."""
    items = list(material) if isinstance(material, (list, tuple)) else [material]
    if not items:
        raise ConfigurationError("key must not be empty: pass a secret, a public key, a JWK or a JWKS.")
    prepared: list[PreparedKey] = []
    problems: list[str] = []
    for item in items:
        if isinstance(item, Mapping):
            jwks = item if "keys" in item else {"keys": [item]}
            keys, jwk_problems = keys_from_jwks(jwks, algorithms, remote=False)
            prepared.extend(keys)
            problems.extend(jwk_problems)
        else:
            try:
                prepared.extend(_bind(_load_key(item), algorithms, kid=None, jwk_alg=None))
            except _Unusable as exc:
                problems.append(str(exc))
    problems.extend(_ambiguities(prepared))
    if problems:  # a key in code that policy leaves out is a mistake to fix, not a key to skip
        raise ConfigurationError("key: " + "; ".join(dict.fromkeys(problems)))
    return KeySet(prepared)


def keys_from_jwks(
    document: object, algorithms: Collection[str], *, remote: bool
) -> tuple[list[PreparedKey], list[str]]:
    """The usable keys of a JWKS, and a sentence for each key left out and why.

    A fetched set (`remote=True`) never yields HMAC secrets: a secret published at a URL is no secret.
    """
    if not isinstance(document, Mapping) or not isinstance(document.get("keys"), list):
        return [], ['a JWKS must be a JSON object with a "keys" array']
    prepared: list[PreparedKey] = []
    problems: list[str] = []
    for index, jwk in enumerate(document["keys"]):
        name = f"key {index}"
        if isinstance(jwk, Mapping) and isinstance(jwk.get("kid"), str):
            name += f" (kid {jwk['kid'][:64]!r})"
        try:
            prepared.extend(_keys_from_jwk(jwk, algorithms, remote=remote, name=name))
        except _Unusable as exc:
            problems.append(f"{name}: {exc}")
    problems.extend(_ambiguities(prepared))
    if remote:
        prepared = _drop_duplicate_kids(prepared)
    return prepared, problems


class _Unusable(Exception):
    """A key that policy leaves out; the message says why, in our words."""


def _keys_from_jwk(jwk: object, algorithms: Collection[str], *, remote: bool, name: str) -> list[PreparedKey]:
    if not isinstance(jwk, Mapping):
        raise _Unusable("not a JSON object")
    kty = jwk.get("kty")
    kid = jwk.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise _Unusable('"kid" must be a string')
    use = jwk.get("use")
    if use is not None and use != "sig":
        raise _Unusable(f'"use" is {str(use)[:16]!r}, not "sig"')
    key_ops = jwk.get("key_ops")
    if key_ops is not None and (not isinstance(key_ops, list) or "verify" not in key_ops):
        raise _Unusable('"key_ops" does not allow "verify"')
    jwk_alg = jwk.get("alg")
    if jwk_alg is not None and (not isinstance(jwk_alg, str) or jwk_alg not in SUPPORTED):
        raise _Unusable(f'"alg" {str(jwk_alg)[:16]!r} is not a supported signature algorithm')
    if _PRIVATE_MEMBERS & jwk.keys() and kty != "oct":
        # A verifier must never hold a private key; a set that publishes one is badly misconfigured.
        raise _Unusable("it contains private key members; publish and configure only the public key")
    key: PublicKey | bytes
    try:
        if kty == "oct":
            if remote:
                raise _Unusable("an HMAC secret in a fetched JWKS is public, so it is never used")
            key = _b64url_strict(jwk.get("k"))
        elif kty == "RSA":
            key = cast(PublicKey, RSAAlgorithm.from_jwk(dict(jwk)))
        elif kty == "EC":
            key = cast(PublicKey, ECAlgorithm.from_jwk(dict(jwk)))
        elif kty == "OKP":
            key = cast(PublicKey, OKPAlgorithm.from_jwk(dict(jwk)))
        else:
            raise _Unusable(f'"kty" {str(kty)[:16]!r} is not supported')
    except _Unusable:
        raise
    except Exception as exc:  # parsing hostile input: any library error means "unusable", never a crash
        raise _Unusable(f"its {kty} parameters are invalid") from exc
    return _bind(key, algorithms, kid=kid, jwk_alg=jwk_alg)


def _load_key(item: object) -> PublicKey | bytes:
    if isinstance(
        item, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey, ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey)
    ):
        raise _Unusable("it is a private key; pass its public half, e.g. key=private_key.public_key()")
    if isinstance(item, PublicKey):
        return item
    if isinstance(item, str):
        item = item.encode()
    if not isinstance(item, bytes):
        raise _Unusable(
            f"a value of type {type(item).__name__} is not supported: pass a secret (str/bytes), a PEM public key, "
            "a cryptography public key, a JWK dict or a JWKS dict"
        )
    stripped = item.strip()
    if stripped.startswith(b"-----BEGIN"):
        if b"PRIVATE KEY" in stripped.split(b"\n", 1)[0]:
            raise _Unusable("it is a PEM private key; pass the PEM public key instead")
        try:
            loaded = load_pem_public_key(stripped)
        except ValueError as exc:
            raise _Unusable("it looks like PEM but is not a valid public key") from exc
        if not isinstance(loaded, PublicKey):
            raise _Unusable(f"it is a {type(loaded).__name__}, which no JWS algorithm uses")
        return loaded
    if stripped.startswith(b"{"):
        # Older PyJWT accepted a JWK's JSON text as an HMAC secret; make the user say what they mean.
        raise _Unusable("it looks like JSON; pass a JWK or JWKS as a dict (json.loads it first)")
    return item


def _bind(
    key: PublicKey | bytes, algorithms: Collection[str], *, kid: str | None, jwk_alg: str | None
) -> list[PreparedKey]:
    candidates = [alg for alg in algorithms if (jwk_alg is None or alg == jwk_alg) and fits(alg, key)]
    if not candidates:
        raise _Unusable(_why_unbound(key, algorithms, jwk_alg))
    if isinstance(key, rsa.RSAPublicKey):
        _check_rsa(key)
    fingerprint = hashlib.sha256(
        key if isinstance(key, bytes) else key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    ).digest()
    return [PreparedKey(kid=kid, alg=alg, check=make_check(alg, key), fingerprint=fingerprint) for alg in candidates]


def _why_unbound(key: PublicKey | bytes, algorithms: Collection[str], jwk_alg: str | None) -> str:
    if isinstance(key, bytes):
        wanted = [alg for alg in algorithms if alg in HMAC]
        if jwk_alg is not None and jwk_alg not in HMAC:
            return f'an HMAC secret cannot verify "alg" {jwk_alg}'
        if not wanted:
            return f"an HMAC secret only verifies HS256/HS384/HS512, and algorithms={sorted(algorithms)}"
        need = min(HMAC[alg][1] for alg in wanted if jwk_alg is None or alg == jwk_alg) if wanted else 32
        return (
            f"the HMAC secret is {len(key)} bytes; {'/'.join(wanted)} needs at least {need} "
            "(RFC 7518 section 3.2): generate one with secrets.token_bytes(64)"
        )
    if jwk_alg is not None:
        return f'{_describe(key)} cannot verify its "alg" {jwk_alg}, or {jwk_alg} is not in algorithms'
    return f"{_describe(key)} fits none of algorithms={sorted(algorithms)}"


def _describe(key: PublicKey) -> str:
    if isinstance(key, rsa.RSAPublicKey):
        return f"an RSA-{key.key_size} key"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"an EC key on {key.curve.name}"
    return "an Ed25519 key" if isinstance(key, ed25519.Ed25519PublicKey) else "an Ed448 key"


def _check_rsa(key: rsa.RSAPublicKey) -> None:
    # cryptography itself refuses an even exponent or e < 3 when it loads the key (Wycheproof tcId 9).
    if key.key_size < MIN_RSA_BITS:
        raise _Unusable(f"an RSA key of {key.key_size} bits is too small; at least {MIN_RSA_BITS} are needed")
    if _is_roca_modulus(key.public_numbers().n):
        raise _Unusable("the RSA modulus was made by a ROCA-vulnerable generator (CVE-2017-15361)")


# ROCA (CVE-2017-15361) primes are 65537^a mod M plus a multiple of M, the primorial of the small primes below,
# so a vulnerable modulus is, modulo each of them, a power of 65537: a fingerprint with ~2^-100 false positives.
_ROCA_PRIMES = [p for p in range(3, 168) if all(p % d for d in range(2, p))]
_ROCA_RESIDUES = {p: frozenset(pow(65537, k, p) for k in range(p)) for p in _ROCA_PRIMES}


def _is_roca_modulus(n: int) -> bool:
    return all(n % p in residues for p, residues in _ROCA_RESIDUES.items())


def _ambiguities(keys: Sequence[PreparedKey]) -> list[str]:
    problems = []
    symmetric = {k.alg in HMAC for k in keys}
    if len(symmetric) > 1:
        problems.append("the key set mixes HMAC secrets with public keys; configure them as separate providers")
    seen: set[tuple[str, str]] = set()
    for key in keys:
        if key.kid is not None:
            if (key.kid, key.alg) in seen:
                problems.append(f"kid {key.kid[:64]!r} names two keys for {key.alg}; kids must be unique")
            seen.add((key.kid, key.alg))
    return problems


def _drop_duplicate_kids(keys: list[PreparedKey]) -> list[PreparedKey]:
    """An ambiguous `kid` in a fetched set selects nothing, rather than whichever key happens to come first."""
    counts: dict[tuple[str | None, str], int] = {}
    for key in keys:
        counts[key.kid, key.alg] = counts.get((key.kid, key.alg), 0) + 1
    return [k for k in keys if k.kid is None or counts[k.kid, k.alg] == 1]


def _b64url_strict(value: Any) -> bytes:
    """RFC 7515 base64url without padding, and nothing else: "c2Vj!!cmV0" is not a secret, it is a typo."""
    if not isinstance(value, str) or not value:
        raise _Unusable('"k" must be a non-empty base64url string')
    if not _BASE64URL.issuperset(value) or len(value) % 4 == 1:
        raise _Unusable('"k" is not valid base64url (RFC 7515: the URL-safe alphabet, no padding)')
    # Only the alphabet, and a length that is not 1 mod 4: a2b_base64 has nothing left to refuse.
    return binascii.a2b_base64(value.replace("-", "+").replace("_", "/") + "=" * (-len(value) % 4))
