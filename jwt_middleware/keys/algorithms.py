"""The JWS algorithms we verify (RFC 7518, RFC 8037), each bound to the one key type it may use.

A verifier is built once per key and algorithm, with its padding and hash objects ready, so checking a
signature on the request path is one call into `cryptography` (or `hmac`) and nothing else.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

__all__ = ["ASYMMETRIC", "HMAC", "SUPPORTED", "SignatureCheck", "make_check"]

# (message, signature) -> whether the signature is valid for this one key and algorithm.
SignatureCheck = Callable[[bytes, bytes], bool]

# alg -> (hashlib name, minimum secret length in bytes: RFC 7518 section 3.2 asks for the hash size)
HMAC = {"HS256": ("sha256", 32), "HS384": ("sha384", 48), "HS512": ("sha512", 64)}
_RSA_HASH: dict[str, type[hashes.HashAlgorithm]] = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}
RSA_PKCS1 = ("RS256", "RS384", "RS512")
RSA_PSS = ("PS256", "PS384", "PS512")
# alg -> (curve, hash, coordinate size in bytes)
EC: dict[str, tuple[type[ec.EllipticCurve], type[hashes.HashAlgorithm], int]] = {
    "ES256": (ec.SECP256R1, hashes.SHA256, 32),
    "ES384": (ec.SECP384R1, hashes.SHA384, 48),
    "ES512": (ec.SECP521R1, hashes.SHA512, 66),
    "ES256K": (ec.SECP256K1, hashes.SHA256, 32),
}
# "EdDSA" (RFC 8037) names no curve; "Ed25519" and "Ed448" are the fully specified names of RFC 9864.
OKP = {
    "EdDSA": (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey),
    "Ed25519": (ed25519.Ed25519PublicKey,),
    "Ed448": (ed448.Ed448PublicKey,),
}
ASYMMETRIC = frozenset((*RSA_PKCS1, *RSA_PSS, *EC, *OKP))
SUPPORTED = frozenset((*HMAC, *ASYMMETRIC))

PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | ed448.Ed448PublicKey


def fits(alg: str, key: PublicKey | bytes) -> bool:
    """Whether `key` may verify `alg`: the binding that stops algorithm confusion (RFC 8725 section 3.1)."""
    if alg in HMAC:
        return isinstance(key, bytes) and len(key) >= HMAC[alg][1]
    if alg in RSA_PKCS1 or alg in RSA_PSS:
        return isinstance(key, rsa.RSAPublicKey)
    if alg in EC:
        return isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, EC[alg][0])
    if alg in OKP:
        return isinstance(key, OKP[alg])
    return False


def make_check(alg: str, key: PublicKey | bytes) -> SignatureCheck:
    """A ready-to-call signature check of `alg` with `key`; the caller has checked `fits(alg, key)`."""
    if isinstance(key, bytes):
        digest_name = HMAC[alg][0]

        def check_hmac(message: bytes, signature: bytes) -> bool:
            return hmac.compare_digest(hmac.digest(key, message, digest_name), signature)

        return check_hmac

    if isinstance(key, rsa.RSAPublicKey):
        hash_ = _RSA_HASH[alg[2:]]()
        pad: padding.AsymmetricPadding
        if alg in RSA_PSS:
            # RFC 7518 section 3.5: the salt is as long as the hash output.
            pad = padding.PSS(mgf=padding.MGF1(hash_), salt_length=hash_.digest_size)
        else:
            pad = padding.PKCS1v15()
        return _raising_to_bool(lambda message, signature: key.verify(signature, message, pad, hash_))

    if isinstance(key, ec.EllipticCurvePublicKey):
        _, hash_type, size = EC[alg]
        ecdsa = ec.ECDSA(hash_type())

        def check_ecdsa(message: bytes, signature: bytes) -> bool:
            # JWS carries r || s at a fixed width (RFC 7518 section 3.4); any other length is invalid.
            if len(signature) != 2 * size:
                return False
            r = int.from_bytes(signature[:size], "big")
            s = int.from_bytes(signature[size:], "big")
            try:
                key.verify(encode_dss_signature(r, s), message, ecdsa)
            except InvalidSignature:
                return False
            return True

        return check_ecdsa

    okp_key = key
    return _raising_to_bool(lambda message, signature: okp_key.verify(signature, message))


def _raising_to_bool(verify: Callable[[bytes, bytes], None]) -> SignatureCheck:
    def check(message: bytes, signature: bytes) -> bool:
        try:
            verify(message, signature)
        except InvalidSignature:
            return False
        return True

    return check
