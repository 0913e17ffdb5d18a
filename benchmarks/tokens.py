"""Tokens and the raw signature checks (the floor) for each algorithm; the keys come from the testing kit."""

from __future__ import annotations

import base64
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from jwt_middleware.testing import IssuerKey, make_key

ISSUER = "https://issuer.example/"
AUDIENCE = "bench-api"
ALGORITHMS = ("HS256", "RS256", "PS256", "ES256", "EdDSA")


@dataclass(frozen=True, slots=True, kw_only=True)
class Signer:
    """One algorithm's kit key: what each verifier is given, and the bare signature check."""

    key: IssuerKey
    # The floor: checks a signature that was already split off and base64url-decoded (DER for ECDSA).
    check_signature: Callable[[bytes, bytes], bool]

    @property
    def algorithm(self) -> str:
        return self.key.alg

    @property
    def signing_key(self) -> Any:
        return self.key.private

    @property
    def verifying_key(self) -> Any:
        """A loaded key object (or the secret as str): jwt.decode's best case, for the PyJWT-based alternatives."""
        return self.key.public.decode() if isinstance(self.key.public, bytes) else self.key.public

    @property
    def configured_key(self) -> str:
        """The public key PEM or the secret, as a user would configure JWTMiddleware(key=...) or fastapi-jwt."""
        configured = self.key.public_pem or self.key.public
        assert isinstance(configured, bytes)
        return configured.decode()

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
        return self.key.sign(claims, None if kid is None else {"kid": kid})

    def jwk(self, kid: str) -> dict[str, Any]:
        """The public key as an identity provider publishes it in a JWKS (not for HS256: secrets are not published)."""
        return self.key.jwk(kid=kid)

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


def _verifier(verify: Callable[[bytes, bytes], None]) -> Callable[[bytes, bytes], bool]:
    def check(message: bytes, signature: bytes) -> bool:
        try:
            verify(signature, message)
        except Exception:
            return False
        return True

    return check


def make_signer(algorithm: str) -> Signer:
    """Fresh kit keys for `algorithm` (RSA-2048, P-256, Ed25519, or an HMAC secret), and the floor's check."""
    if algorithm not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {algorithm!r}; expected one of {ALGORITHMS}")
    key = make_key(algorithm)
    sha256 = hashes.SHA256()
    public = key.public
    if isinstance(public, bytes):
        secret = public

        def check_hmac(message: bytes, signature: bytes) -> bool:
            return hmac.compare_digest(hmac.digest(secret, message, "sha256"), signature)

        return Signer(key=key, check_signature=check_hmac)
    if isinstance(public, rsa.RSAPublicKey):
        rsa_key = public
        pad = padding.PKCS1v15() if algorithm == "RS256" else padding.PSS(padding.MGF1(sha256), sha256.digest_size)
        check = _verifier(lambda sig, msg: rsa_key.verify(sig, msg, pad, sha256))
    elif isinstance(public, ec.EllipticCurvePublicKey):
        ec_key, ecdsa = public, ec.ECDSA(sha256)
        check = _verifier(lambda sig, msg: ec_key.verify(sig, msg, ecdsa))
    else:
        assert isinstance(public, ed25519.Ed25519PublicKey)
        check = _verifier(public.verify)
    return Signer(key=key, check_signature=check)
