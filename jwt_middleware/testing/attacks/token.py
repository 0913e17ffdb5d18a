"""The token under attack, a forgery, and the helpers every attack shares."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from .encoding import b64, json_bytes, unb64
from .keys import PublicKey, SigningKey, sign_token

__all__ = ["ATTACKER_URL", "DROP", "FAR_FUTURE", "LONG_AGO", "Battery", "Forgery", "Token"]

ATTACKER_URL = "https://attacker.invalid/.well-known/jwks.json"
FAR_FUTURE = 32503680000  # 3000-01-01T00:00:00Z
LONG_AGO = 1  # 1970-01-01T00:00:01Z


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


@dataclass(frozen=True, slots=True)
class Token:
    """The token under attack, split into its segments and decoded."""

    text: str
    header_b64: str
    payload_b64: str
    signature_b64: str
    header: dict[str, Any]
    payload: dict[str, Any] | None  # None when the payload is not a JSON object (a raw JWS)
    payload_bytes: bytes

    @classmethod
    def parse(cls, token: str) -> Token:
        segments = token.split(".")
        if len(segments) != 3:
            raise ValueError("token must be a compact JWS: three base64url segments separated by dots")
        header_b64, payload_b64, signature_b64 = segments
        try:
            header = json.loads(unb64(header_b64))
            payload_bytes = unb64(payload_b64)
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
        """The original header with `members` set; a member set to `DROP` is removed."""
        header = {**self.header, **members}
        return {k: v for k, v in header.items() if v is not DROP}


DROP = object()


@dataclass(frozen=True, slots=True)
class Battery:
    """What every attack works from: the token, the keys the caller gave, and how to build a forgery."""

    original: Token
    public_keys: tuple[tuple[str | None, PublicKey, bytes | None], ...]  # (kid, key, the JWK as published)
    jwks: Mapping[str, Any] | None
    signing_key: SigningKey | None
    attacker_url: str

    def kept(
        self, name: str, attack: str, reference: str, header: bytes | Mapping[str, Any], payload: bytes
    ) -> Forgery:
        """A variant with new header and payload under the original, now mismatched, signature."""
        head = header if isinstance(header, bytes) else json_bytes(header)
        return Forgery(name, attack, reference, f"{b64(head)}.{b64(payload)}.{self.original.signature_b64}")

    def both(
        self, name: str, attack: str, reference: str, header: bytes | Mapping[str, Any], payload: bytes
    ) -> Iterator[Forgery]:
        """The variant under the original signature and, when the real key is known, genuinely re-signed.

        Only for variants a verifier must reject whoever signed them.
        """
        yield self.kept(name, attack, reference, header, payload)
        if self.signing_key is not None:
            head = header if isinstance(header, bytes) else json_bytes(header)
            signed = sign_token(head, payload, self.original.alg, self.signing_key)
            yield Forgery(f"{name}-resigned", attack, reference, signed)

    @property
    def claims(self) -> dict[str, Any]:
        return self.original.payload or {}
