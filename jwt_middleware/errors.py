"""The exceptions, and how each authentication failure is answered (RFC 6750 section 3).

    JWTMiddlewareError
     ├── ConfigurationError        a keyword argument is wrong; raised when the middleware is built
     └── AuthError                 a request that must not reach the app
          ├── InvalidRequest       400 invalid_request: a malformed or repeated Authorization header
          ├── MissingToken         401 with a bare challenge: no credentials were sent
          ├── InvalidToken         401 invalid_token: the token failed a check
          │    └── KeyNotFound     no key in the set fits the token's `kid` and `alg`
          └── KeysUnavailable      503: no usable keys yet (the key endpoint has not answered)

Every `AuthError` carries a stable machine-readable `code` and a fixed `description` written here,
never the token and never a library's exception text, so responses and logs are safe to show.
"""

from __future__ import annotations

import json

__all__ = [
    "AuthError",
    "ConfigurationError",
    "InvalidRequest",
    "InvalidToken",
    "JWTMiddlewareError",
    "KeyNotFound",
    "KeysUnavailable",
    "MissingToken",
    "Rendered",
    "render",
]


class JWTMiddlewareError(Exception):
    """Base class for every exception this package raises."""


class ConfigurationError(JWTMiddlewareError, ValueError):
    """A keyword argument is missing or wrong; the message names it and how to fix it."""


class AuthError(JWTMiddlewareError):
    """A request that must not reach the app, with the answer RFC 6750 asks for."""

    status_code: int = 401
    error: str | None = None  # the RFC 6750 `error` attribute of the challenge

    def __init__(self, code: str, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.description = description


class InvalidRequest(AuthError):
    """The request is malformed: several Authorization headers, or one we cannot parse."""

    status_code = 400
    error = "invalid_request"


class MissingToken(AuthError):
    """No bearer token was sent where one is required."""

    def __init__(self) -> None:
        super().__init__("missing_token", "A bearer token is required.")


class InvalidToken(AuthError):
    """The token is malformed, forged, expired, or not meant for this API."""

    error = "invalid_token"


class KeyNotFound(InvalidToken):
    """No key in the key set fits the token's `kid` and `alg`; a remote key set may be refreshed."""

    def __init__(self) -> None:
        super().__init__("key_not_found", "No key is known for this token.")


class KeysUnavailable(AuthError):
    """There are no usable keys yet, so no token can be checked: a 503, not the client's fault."""

    status_code = 503

    def __init__(self, retry_after: int = 30) -> None:
        super().__init__("keys_unavailable", "Signing keys are not available yet; retry later.")
        self.retry_after = retry_after


# status, headers, body: the headers are a tuple so that a cached answer cannot be changed by whoever sends it.
Rendered = tuple[int, tuple[tuple[bytes, bytes], ...], bytes]


def render(exc: AuthError, realm: str) -> Rendered:
    """The status, headers and JSON body that answer `exc` (RFC 6750 section 3).

    The body's `error` is the challenge's RFC 6750 error code, and is left out when there is none (a missing token
    gets a bare challenge, section 3.1; a 503 is no token error at all).
    """
    challenge = f'Bearer realm="{realm}"'
    fields = {"error_description": exc.description, "code": exc.code}
    if exc.error is not None:
        challenge += f', error="{exc.error}", error_description="{exc.description}"'
        fields = {"error": exc.error, **fields}
    body = json.dumps(fields, separators=(",", ":")).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
    ]
    if exc.status_code == 503:
        headers.append((b"retry-after", str(getattr(exc, "retry_after", 30)).encode()))
    else:
        headers.append((b"www-authenticate", challenge.encode()))
    return exc.status_code, tuple(headers), body
