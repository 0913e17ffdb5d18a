"""The forgeries the probe sends, drawn from the attack battery, and how an answer to one is judged.

This is the only module that imports the battery (`forge`, `replay`, `Forgery`), so moving it is a one-line change.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jwt_middleware.testing.attacks import Forgery, forge, replay

__all__ = ["MAX_HEADER_TOKEN", "Battery", "Forgery", "build_battery", "equivalent", "expired", "travels"]

# Common servers refuse request headers over 8 KiB (nginx's default large_client_header_buffers, h11's 16 KiB
# per event, many proxies) before the app sees them, so a longer token tests the proxy, not the verifier.
MAX_HEADER_TOKEN = 8 * 1024


@dataclass(frozen=True, slots=True)
class Battery:
    """The forgeries to send, grouped by attack class in the battery's order, and how many cannot be sent."""

    classes: dict[str, list[Forgery]]
    skipped: int

    @property
    def size(self) -> int:
        return sum(len(forgeries) for forgeries in self.classes.values())


def travels(token: str) -> bool:
    """Whether `token` can be sent as-is in `Authorization: Bearer <token>` (visible ASCII, not too long)."""
    return 0 < len(token) <= MAX_HEADER_TOKEN and all(0x21 <= ord(char) <= 0x7E for char in token)


def build_battery(token: str, *, public_key: bytes | None, jwks: Mapping[str, Any] | None) -> Battery:
    """Forge variants of `token`, keeping those that can travel in an HTTP header; raises ValueError if no JWS."""
    classes: dict[str, list[Forgery]] = {}
    skipped = 0
    for forgery in forge(token, public_key=public_key, jwks=jwks):
        if travels(forgery.token):
            classes.setdefault(forgery.attack, []).append(forgery)
        else:
            skipped += 1
    return Battery(classes, skipped)


def expired(token: str) -> Forgery:
    """`token` as a replay forgery; raises ValueError unless its numeric `exp` has passed."""
    return replay(token)


def _lenient(segment: str) -> bytes | None:
    """What a lenient base64url decoder (Python's, PyJWT's) makes of `segment`: stray characters dropped."""
    try:
        return base64.urlsafe_b64decode(segment.rstrip("=") + "=" * (-len(segment.rstrip("=")) % 4))
    except (binascii.Error, ValueError):
        return None


def equivalent(forgery: str, original: str) -> bool:
    """Whether `forgery` is only another spelling of `original`: the same three segments once leniently decoded.

    Accepting such a token grants nothing the valid token did not, so it is reported as malleability, not forgery.
    """
    parts, originals = forgery.split("."), original.split(".")
    if len(parts) != len(originals):
        return False
    return all(_lenient(a) is not None and _lenient(a) == _lenient(b) for a, b in zip(parts, originals, strict=True))
