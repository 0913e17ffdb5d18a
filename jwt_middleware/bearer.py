"""Reading the bearer token from a request (RFC 6750 section 2.1), and whether it came over TLS (section 5.3)."""

from __future__ import annotations

import ipaddress

from starlette.types import Scope

from .errors import ErrorCode

__all__ = ["bearer_token", "is_b64token", "sent_over_tls"]

_SP_HTAB = (0x20, 0x09)  # as bytes[i] gives them: indexing allocates nothing, a one-byte slice does
_B64TOKEN = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/"


def bearer_token(scope: Scope) -> bytes | None:
    """The bearer token, or None when no `Authorization` header carries one.

    `credentials = "Bearer" 1*SP b64token`, with the optional whitespace around a field value (RFC 9110 section
    5.5) ignored, since servers differ in whether they strip it: h11 does, httptools does not. The token's
    characters are not checked here but by `is_b64token`, once verification has failed (see the middleware).
    """
    value: bytes | None = None
    for name, header_value in scope["headers"]:
        if name == b"authorization":
            if value is not None:
                raise ErrorCode.MULTIPLE_AUTHORIZATION_HEADERS.refusal()
            value = header_value
    if value is None:
        return None
    if value.startswith(b"Bearer ") and len(value) > 7 and value[7] not in _SP_HTAB and value[-1] not in _SP_HTAB:
        return value[7:]  # the form every client sends: one slice instead of the general parse below (~2k instr.)
    value = value.strip(b" \t")
    if value[:6].lower() != b"bearer" or value[6:7] not in (b"", b" ", b"\t"):
        return None  # another scheme (Basic, ...): no bearer token, so the bare challenge answers it
    token = value[7:].lstrip(b" ")
    # "Bearer" alone, or a tab after it, is a bearer header we cannot parse: a 400, never an anonymous request.
    if value[6:7] != b" " or not token:
        raise ErrorCode.AUTHORIZATION_MALFORMED.refusal()
    return token


def is_b64token(token: bytes) -> bool:
    """b64token: 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=" (RFC 6750 section 2.1)."""
    return not token.rstrip(b"=").translate(None, _B64TOKEN)


def sent_over_tls(scope: Scope) -> bool:
    """Whether the request arrived over TLS, or from this machine (where a token in clear never left it)."""
    if scope.get("scheme") in ("https", "wss"):
        return True
    client = scope.get("client")
    return client is not None and _is_loopback(client[0])


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
