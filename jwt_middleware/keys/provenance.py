"""Which keys were made by `jwt_middleware.testing`, so a test key configured in production is noticed.

The testing kit marks every key pair it generates here; the key sources consult the marks, so the core never
imports the kit (which needs pytest and uvicorn). Only fingerprints are kept, never key material.

>>> mark_test_key(public_key)       # done by jwt_middleware.testing for each key it makes
>>> warn_if_test_keys(keys, "key")  # done by the key sources when they are built
"""

from __future__ import annotations

import hashlib
import logging

from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from .algorithms import PublicKey
from .keyset import KeySet

__all__ = ["fingerprint", "mark_test_key", "warn_if_test_keys"]

logger = logging.getLogger("jwt_middleware")

_TEST_KEYS: set[bytes] = set()


def fingerprint(key: PublicKey | bytes) -> bytes:
    """SHA-256 of an HMAC secret or of a public key's DER, as `PreparedKey.fingerprint` holds it."""
    material = key if isinstance(key, bytes) else key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(material).digest()


def mark_test_key(key: PublicKey | bytes) -> None:
    """Remember `key` (a public key, or an HMAC secret) as made for tests only."""
    _TEST_KEYS.add(fingerprint(key))


def warn_if_test_keys(keys: KeySet, where: str) -> bool:
    """Log a WARNING when `keys` holds a key the testing kit made; returns whether it did."""
    if not any(key.fingerprint in _TEST_KEYS for key in keys.keys):
        return False
    # A private key for it sits in a test process: whoever holds it can mint tokens this app accepts.
    logger.warning(
        "%s= holds a key made by jwt_middleware.testing; its private half is no secret, so use it in tests only",
        where,
    )
    return True
