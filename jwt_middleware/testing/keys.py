"""Key pairs for tests, one per algorithm, each able to sign tokens and describe its public half.

Every key made here is marked in `jwt_middleware.keys.provenance`, so a middleware configured with one of them
logs a warning at start-up: these keys are for tests only.

>>> key = make_key("ES256", kid="k1")
>>> key.sign({"sub": "alice"})   # a compact JWS with kid "k1"
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from ..keys.provenance import mark_test_key

__all__ = ["ALGORITHMS", "IssuerKey", "make_key"]

# Every algorithm the kit can sign with: those JWTMiddleware verifies.
ALGORITHMS = (
    "HS256",
    "HS384",
    "HS512",
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
)
_CURVES: dict[str, type[ec.EllipticCurve]] = {"ES256": ec.SECP256R1, "ES384": ec.SECP384R1, "ES512": ec.SECP521R1}
# RFC 7518 section 3.2: an HMAC secret at least as long as the hash. 48 random bytes as 64 URL-safe characters
# (384 bits) fit all three, and the secret can also be handed as a str to libraries that only take one.
_SECRET_ENTROPY_BYTES = 48

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey


@dataclass(frozen=True, slots=True, repr=False)
class IssuerKey:
    """One signing key: `private` signs, `public` is what a verifier is given (the secret itself for HS*).

    >>> key = make_key("RS256", kid="2024-01")
    >>> JWTMiddleware(app, algorithms=["RS256"], key=key.public_pem, ...)
    """

    alg: str
    kid: str | None
    private: PrivateKey | bytes
    public: PublicKey | bytes

    def __repr__(self) -> str:
        # Never print key material, not even in a failing test's output.
        return f"IssuerKey(alg={self.alg!r}, kid={self.kid!r})"

    @property
    def public_pem(self) -> bytes | None:
        """The public key as PEM (SubjectPublicKeyInfo), or None for an HMAC secret."""
        if isinstance(self.public, bytes):
            return None
        return self.public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    def jwk(self, **members: Any) -> dict[str, Any]:
        """The public JWK with `kid`, `alg` and `use`, as an identity provider publishes it; `members` override.

        For HS* it is the secret as an `oct` JWK: fine for `key=`, never for a published JWKS.
        """
        algorithm = jwt.get_algorithm_by_name(self.alg)
        jwk: dict[str, Any] = algorithm.to_jwk(self.public, as_dict=True)
        described = {"kid": self.kid, "alg": self.alg, "use": "sig"} if self.kid else {"alg": self.alg, "use": "sig"}
        return {**jwk, **described, **members}

    def sign(self, claims: Mapping[str, Any], headers: Mapping[str, Any] | None = None) -> str:
        """A compact JWS of `claims`; `headers` add to or replace header members (a None value removes `typ`).

        >>> key.sign({"sub": "alice"}, headers={"typ": "at+jwt"})
        """
        all_headers = {**({"kid": self.kid} if self.kid else {}), **(headers or {})}
        return jwt.encode(dict(claims), self.private, algorithm=self.alg, headers=all_headers or None)

    def sign_raw(self, header: bytes | str, payload: bytes | str) -> str:
        """A token over exactly these header and payload bytes, validly signed: for strict-parsing tests.

        >>> key.sign_raw(b'{"alg":"ES256","alg":"none"}', b'{"sub":"alice"}')
        """
        signing_input = f"{_b64url(header)}.{_b64url(payload)}"
        algorithm = jwt.get_algorithm_by_name(self.alg)
        signature = algorithm.sign(signing_input.encode(), algorithm.prepare_key(self.private))
        return f"{signing_input}.{_b64url(signature)}"

    def with_alg(self, alg: str) -> IssuerKey:
        """The same key pair used with another algorithm of its family (RS256's key for PS256, say)."""
        _check_alg(alg)
        if _family(alg) != _family(self.alg):
            raise ValueError(f"a {self.alg} key cannot sign {alg}")
        return IssuerKey(alg, self.kid, self.private, self.public)


def make_key(alg: str, *, kid: str | None = None, rsa_bits: int = 2048) -> IssuerKey:
    """A new key pair (or HMAC secret) for `alg`, marked as a test key.

    >>> make_key("EdDSA", kid="ed1").public_pem
    b'-----BEGIN PUBLIC KEY-----...'
    """
    _check_alg(alg)
    private: PrivateKey | bytes
    if alg.startswith("HS"):
        private = secrets.token_urlsafe(_SECRET_ENTROPY_BYTES).encode()
        key = IssuerKey(alg, kid, private, private)
    else:
        if alg[:2] in ("RS", "PS"):
            private = rsa.generate_private_key(public_exponent=65537, key_size=rsa_bits)
        elif alg in _CURVES:
            private = ec.generate_private_key(_CURVES[alg]())
        else:
            private = ed25519.Ed25519PrivateKey.generate()
        key = IssuerKey(alg, kid, private, private.public_key())
    mark_test_key(key.public)
    return key


def _check_alg(alg: str) -> None:
    if alg not in ALGORITHMS:
        raise ValueError(f"alg must be one of {', '.join(ALGORITHMS)}, not {alg!r}")


def _family(alg: str) -> str:
    """Algorithms whose keys are interchangeable: RS* and PS* share RSA keys; HS*, ES* and EdDSA do not."""
    if alg[:2] in ("RS", "PS"):
        return "RSA"
    return alg


def _b64url(data: bytes | str) -> str:
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
