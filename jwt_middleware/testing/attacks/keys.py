"""The attacker's keys, derived from fixed seeds so every run forges the same tokens, and the caller's keys.

These tables and the signing code are written independently of `jwt_middleware/keys/algorithms.py` (and of
`jwt_middleware.testing.keys`) on purpose: an oracle must not share code with what it checks, or a bug in one
would hide in the other. The seeds keep the label "jwt_middleware.attacks", where this battery began, so the
forged tokens stay the same from release to release.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import hmac
import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import jwt
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

from .encoding import b64, json_bytes

__all__ = [
    "ALL_ALGS",
    "ATTACKER_SECRET",
    "EC_ALGS",
    "HMAC_ALGS",
    "PrivateKey",
    "PublicKey",
    "SigningKey",
    "attacker_algs",
    "attacker_certificate",
    "attacker_key",
    "int_bytes",
    "public_half",
    "public_jwk",
    "public_keys",
    "seed",
    "sign_token",
    "signature_of",
    "signing_key_of",
]

PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | ed448.Ed448PublicKey


PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey


SigningKey = PrivateKey | bytes


def sign_token(header: bytes | Mapping[str, Any], payload: bytes, alg: str, key: SigningKey) -> str:
    head = header if isinstance(header, bytes) else json_bytes(header)
    signing_input = f"{b64(head)}.{b64(payload)}".encode()
    return f"{signing_input.decode()}.{b64(signature_of(alg, key, signing_input))}"


_HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "256": hashes.SHA256,
    "384": hashes.SHA384,
    "512": hashes.SHA512,
}


def signature_of(alg: str, key: SigningKey, message: bytes) -> bytes:
    """A JWS signature (RFC 7518) of `message`; an HMAC `alg` with a non-bytes key, or the reverse, is a bug."""
    if isinstance(key, bytes):
        return hmac.digest(key, message, f"sha{alg[2:]}" if alg[2:] in _HASHES else "sha256")
    if isinstance(key, rsa.RSAPrivateKey):
        hash_ = _HASHES.get(alg[2:], hashes.SHA256)()
        if alg.startswith("PS"):
            return key.sign(message, padding.PSS(padding.MGF1(hash_), hash_.digest_size), hash_)
        return key.sign(message, padding.PKCS1v15(), hash_)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        size = (key.curve.key_size + 7) // 8
        r, s = decode_dss_signature(key.sign(message, _ecdsa(_CURVE_HASH[key.curve.name]())))
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")
    return key.sign(message)


def _ecdsa(hash_: hashes.HashAlgorithm) -> ec.ECDSA:
    """RFC 6979 deterministic ECDSA where OpenSSL has it, so the battery is reproducible; random otherwise."""
    try:
        return ec.ECDSA(hash_, deterministic_signing=True)
    except (TypeError, UnsupportedAlgorithm):  # pragma: no cover - old cryptography or OpenSSL
        return ec.ECDSA(hash_)


_CURVE_HASH: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "secp256r1": hashes.SHA256,
    "secp384r1": hashes.SHA384,
    "secp521r1": hashes.SHA512,
    "secp256k1": hashes.SHA256,
}


_JWK_CURVES = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521", "secp256k1": "secp256k1"}


def public_jwk(key: PublicKey | bytes) -> dict[str, str]:
    """The JWK (RFC 7517, 7518, 8037) of a public key or an HMAC secret."""
    if isinstance(key, bytes):
        return {"kty": "oct", "k": b64(key)}
    if isinstance(key, rsa.RSAPublicKey):
        numbers = key.public_numbers()
        return {"kty": "RSA", "n": b64(int_bytes(numbers.n)), "e": b64(int_bytes(numbers.e))}
    if isinstance(key, ec.EllipticCurvePublicKey):
        size = (key.curve.key_size + 7) // 8
        point = key.public_numbers()
        return {
            "kty": "EC",
            "crv": _JWK_CURVES.get(key.curve.name, key.curve.name),
            "x": b64(point.x.to_bytes(size, "big")),
            "y": b64(point.y.to_bytes(size, "big")),
        }
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {"kty": "OKP", "crv": "Ed25519" if isinstance(key, ed25519.Ed25519PublicKey) else "Ed448", "x": b64(raw)}


def int_bytes(value: int) -> bytes:
    return value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big")


def seed(label: str, size: int) -> bytes:
    return hashlib.shake_256(f"jwt_middleware.attacks:{label}".encode()).digest(size)


ATTACKER_SECRET = seed("hmac", 64)


_SMALL_PRIMES = tuple(p for p in range(3, 2000, 2) if all(p % d for d in range(3, int(p**0.5) + 1, 2)))


def _is_probable_prime(n: int) -> bool:
    if any(n % p == 0 for p in _SMALL_PRIMES):
        return n in _SMALL_PRIMES
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    for witness in _SMALL_PRIMES[:24]:  # enough Miller-Rabin rounds for random, not adversarial, candidates
        x = pow(witness, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def _seeded_prime(label: str, bits: int) -> int:
    counter = 0
    while True:
        candidate = int.from_bytes(seed(f"{label}:{counter}", bits // 8), "big") | (3 << (bits - 2)) | 1
        if candidate % 65537 != 1 and _is_probable_prime(candidate):
            return candidate
        counter += 1


@functools.cache
def _attacker_rsa() -> rsa.RSAPrivateKey:
    """A 2048-bit RSA key from seeded primes: `cryptography` cannot generate one deterministically."""
    p, q = _seeded_prime("rsa-p", 1024), _seeded_prime("rsa-q", 1024)
    e = 65537
    d = pow(e, -1, (p - 1) * (q - 1))
    public = rsa.RSAPublicNumbers(e, p * q)
    return rsa.RSAPrivateNumbers(
        p, q, d, rsa.rsa_crt_dmp1(d, p), rsa.rsa_crt_dmq1(d, q), rsa.rsa_crt_iqmp(p, q), public
    ).private_key()


EC_ALGS: dict[str, tuple[type[ec.EllipticCurve], int]] = {
    "ES256": (ec.SECP256R1, 32),
    "ES384": (ec.SECP384R1, 48),
    "ES512": (ec.SECP521R1, 66),
    "ES256K": (ec.SECP256K1, 32),
}


HMAC_ALGS = ("HS256", "HS384", "HS512")


ALL_ALGS = (*HMAC_ALGS, "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", *EC_ALGS, "EdDSA", "Ed25519", "Ed448")


@functools.cache
def attacker_key(alg: str) -> SigningKey:
    """The attacker's key of the kind `alg` needs (an RSA key for anything unknown)."""
    if alg in HMAC_ALGS:
        return ATTACKER_SECRET
    if alg in EC_ALGS:
        # 31 bytes stay below every curve's order, so the scalar is always valid.
        return ec.derive_private_key(int.from_bytes(seed(f"ec:{alg}", 31), "big"), EC_ALGS[alg][0]())
    if alg in ("EdDSA", "Ed25519"):
        return ed25519.Ed25519PrivateKey.from_private_bytes(seed("ed25519", 32))
    if alg == "Ed448":
        return ed448.Ed448PrivateKey.from_private_bytes(seed("ed448", 57))
    return _attacker_rsa()


def attacker_algs(original_alg: str) -> tuple[str, ...]:
    """The algorithms an attacker signs with: the victim's own (if a known one), and RS256, the classic."""
    own = original_alg if original_alg in ALL_ALGS else "RS256"
    return (own,) if own == "RS256" else (own, "RS256")


def public_half(key: SigningKey) -> PublicKey | bytes:
    return key if isinstance(key, bytes) else key.public_key()


@functools.cache
def attacker_certificate(alg: str) -> bytes:
    """A self-signed X.509 certificate (DER) for the attacker's `alg` key, with fixed dates and serial."""
    key = attacker_key(alg)
    assert not isinstance(key, bytes)  # only asymmetric algorithms reach here
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "attacker.invalid")])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(0x0A77AC)
        .not_valid_before(datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc))
        .not_valid_after(datetime.datetime(2100, 1, 1, tzinfo=datetime.timezone.utc))
    )
    if isinstance(key, (ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey)):
        return builder.sign(key, None).public_bytes(serialization.Encoding.DER)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        certificate = builder.sign(key, hashes.SHA256(), ecdsa_deterministic=True)
    else:
        certificate = builder.sign(key, hashes.SHA256())
    return certificate.public_bytes(serialization.Encoding.DER)


def public_keys(
    public_key: object | None, jwks: Mapping[str, Any] | None
) -> Iterator[tuple[str | None, PublicKey, bytes | None]]:
    if public_key is not None:
        yield None, _load_public_key(public_key), None
    if jwks is not None:
        for jwk in list(jwks.get("keys") or [])[:8]:  # enough to cover a rotation; bounds the battery's size
            if not isinstance(jwk, Mapping) or jwk.get("kty") == "oct":
                continue
            try:
                key = jwt.PyJWK(dict(jwk)).key
            except (jwt.PyJWTError, ValueError, TypeError, KeyError):
                continue  # a key this module cannot parse cannot be confused either
            if isinstance(key, PrivateKey):
                key = key.public_key()
            if not isinstance(key, PublicKey):  # pragma: no cover - PyJWK makes no other kind from RSA, EC, OKP
                continue
            kid = jwk.get("kid")
            yield (kid if isinstance(kid, str) else None), key, json.dumps(dict(jwk)).encode()


def _load_public_key(material: object) -> PublicKey:
    if isinstance(material, PrivateKey):
        return material.public_key()
    if isinstance(material, PublicKey):
        return material
    if isinstance(material, str):
        material = material.encode()
    if isinstance(material, bytes):
        loaded = serialization.load_pem_public_key(material.strip())
        if isinstance(loaded, PublicKey):
            return loaded
    raise TypeError("public_key must be PEM bytes or str, or a cryptography RSA, EC or EdDSA public key")


def signing_key_of(material: object | None) -> SigningKey | None:
    if material is None or isinstance(material, (PrivateKey, bytes)):
        return material
    if isinstance(material, str):
        return material.encode()
    raise TypeError("signing_key must be an HMAC secret (bytes or str) or a cryptography private key")
