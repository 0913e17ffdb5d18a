"""Keys, tokens and the raw signature checks (the floor) for each algorithm, all made locally."""

from __future__ import annotations

import base64
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

ISSUER = "https://issuer.example/"
AUDIENCE = "bench-api"
ALGORITHMS = ("HS256", "RS256", "PS256", "ES256", "EdDSA")


@dataclass(frozen=True, slots=True, kw_only=True)
class Signer:
    """One algorithm's keys: what signs, what each verifier is given, and the bare signature check."""

    algorithm: str
    signing_key: Any
    # A loaded key object (or the secret): jwt.decode's best case, given to the PyJWT-based alternatives.
    verifying_key: Any
    # The public key PEM or the secret, as a user would configure JWTMiddleware(key=...) or fastapi-jwt.
    configured_key: str
    # The floor: checks a signature that was already split off and base64url-decoded (DER for ECDSA).
    check_signature: Callable[[bytes, bytes], bool]

    def mint(self, jti: str, *, expires_in: int = 86_400, kid: str | None = None, flat: bool = False) -> str:
        """A valid token; its `subject` object makes each request copy a nested claim set, unless `flat`."""
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": "user-42",
            "iat": now,
            "exp": now + expires_in,
            "jti": jti,
            "scope": "read write",
            "subject": {"id": "user-42"},  # fastapi-jwt requires this claim
        }
        if flat:
            del claims["subject"]
        headers = None if kid is None else {"kid": kid}
        return jwt.encode(claims, self.signing_key, algorithm=self.algorithm, headers=headers)

    def jwk(self, kid: str) -> dict[str, Any]:
        """The public key as an identity provider publishes it in a JWKS (not for HS256: secrets are not published)."""
        algorithm: Any = {"RS": RSAAlgorithm, "PS": RSAAlgorithm, "ES": ECAlgorithm, "Ed": OKPAlgorithm}[
            self.algorithm[:2]
        ]
        jwk: dict[str, Any] = algorithm.to_jwk(self.verifying_key, as_dict=True)
        return {**jwk, "kid": kid, "alg": self.algorithm, "use": "sig"}

    def pool(self, n: int, prefix: str) -> list[str]:
        """`n` distinct valid tokens (distinct `jti`), minted before anything is timed."""
        return [self.mint(f"{prefix}-{i}") for i in range(n)]

    def predecode(self, token: str) -> tuple[bytes, bytes]:
        """Split a token into (signing input, raw signature) the way the floor wants it."""
        signing_input, _, encoded = token.rpartition(".")
        signature = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        if self.algorithm == "ES256":
            signature = encode_dss_signature(
                int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
            )
        return signing_input.encode(), signature


def _pem(public_key: Any) -> str:
    encoded: bytes = public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return encoded.decode()


def _verifier(verify: Callable[[bytes, bytes], None]) -> Callable[[bytes, bytes], bool]:
    def check(message: bytes, signature: bytes) -> bool:
        try:
            verify(signature, message)
        except Exception:
            return False
        return True

    return check


def make_signer(algorithm: str) -> Signer:
    """Fresh keys for `algorithm`: RSA-2048, P-256, Ed25519, or a 64-character HMAC secret."""
    sha256 = hashes.SHA256()
    if algorithm == "HS256":
        secret = secrets.token_urlsafe(48)
        key = secret.encode()

        def check_hmac(message: bytes, signature: bytes) -> bool:
            return hmac.compare_digest(hmac.digest(key, message, "sha256"), signature)

        return Signer(
            algorithm=algorithm,
            signing_key=secret,
            verifying_key=secret,
            configured_key=secret,
            check_signature=check_hmac,
        )
    private: Any
    if algorithm in ("RS256", "PS256"):
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public = private.public_key()
        pad = padding.PKCS1v15() if algorithm == "RS256" else padding.PSS(padding.MGF1(sha256), sha256.digest_size)
        check = _verifier(lambda sig, msg: public.verify(sig, msg, pad, sha256))
    elif algorithm == "ES256":
        private = ec.generate_private_key(ec.SECP256R1())
        public = private.public_key()
        ecdsa = ec.ECDSA(sha256)
        check = _verifier(lambda sig, msg: public.verify(sig, msg, ecdsa))
    elif algorithm == "EdDSA":
        private = ed25519.Ed25519PrivateKey.generate()
        public = private.public_key()
        check = _verifier(public.verify)
    else:
        raise ValueError(f"unknown algorithm {algorithm!r}; expected one of {ALGORITHMS}")
    return Signer(
        algorithm=algorithm,
        signing_key=private,
        verifying_key=public,
        configured_key=_pem(public),
        check_signature=check,
    )
