"""How a token appears in the probe's output: its header and a hash, never the token itself.

A report is often pasted into a ticket or uploaded to code scanning; the valid token in it would be a live
credential, and even a forgery carries the real claims. The header says what was tried; the hash tells two
tokens apart and lets the owner of a token check that it is the one meant.
"""

from __future__ import annotations

import base64
import hashlib
import json

__all__ = ["redact"]

_MAX_HEADER = 96


def redact(token: str) -> str:
    """`{"alg":"none","typ":"JWT"} sha256:1f2e3d4c5b6a`: the decoded header (shortened) and a hash of the token."""
    digest = hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    segment = token.split(".", 1)[0]
    try:
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
        shown = json.dumps(header, separators=(",", ":"), ensure_ascii=True)
    except (ValueError, UnicodeDecodeError, RecursionError):
        shown = "<header not JSON>"
    if len(shown) > _MAX_HEADER:
        shown = shown[: _MAX_HEADER - 3] + "..."
    return f"{shown} sha256:{digest}"
