"""Base64url and JSON as the attacks write them, including JSON no honest encoder would produce."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

__all__ = ["b64", "json_bytes", "unb64", "with_raw_member"]


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def json_bytes(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def with_raw_member(obj: Mapping[str, Any], name: str, raw: str, *, first: bool = False) -> bytes:
    """`obj` as JSON with member `name` set to the literal JSON text `raw` (which may be no JSON at all)."""
    rest = json_bytes({k: v for k, v in obj.items() if k != name})[1:-1].decode()
    member = f"{json.dumps(name)}:{raw}"
    members = [member, rest] if first else [rest, member]
    return ("{" + ",".join(m for m in members if m) + "}").encode()
