"""The exceptions, the closed list of error codes, and how each refusal is answered (RFC 6750 section 3).

    JWTMiddlewareError
     ├── ConfigurationError        a keyword argument is wrong; raised when the middleware is built
     ├── StartupError              jwks_required_at_startup=True and no keys came; raised from the lifespan
     ├── FetchError                a key or discovery document could not be fetched (logged, never answered)
     └── AuthError                 a request that must not reach the app; `code` is an `ErrorCode`
          ├── InvalidRequest       400 invalid_request: a malformed or repeated Authorization header
          ├── MissingToken         401 with a bare challenge: no credentials were sent
          ├── InvalidToken         401 invalid_token: the token failed a check
          │    └── KeyNotFound     no key in the set fits the token's `kid` and `alg`
          ├── InsufficientScope    403 insufficient_scope: a route's scopes are missing (jwt_middleware.fastapi)
          ├── NotConfigured        403: a route needs claims the middleware was not set up to give it (a server bug)
          └── KeysUnavailable      503: no usable keys yet (the key endpoint has not answered)

Every `AuthError` carries a stable machine-readable `code` and a `description` written here, never the token and
never a library's exception text, so responses and logs are safe to show.
"""

from __future__ import annotations

import enum
import json

__all__ = [
    "AuthError",
    "ConfigurationError",
    "ErrorCode",
    "FetchError",
    "InsufficientScope",
    "InvalidRequest",
    "InvalidToken",
    "JWTMiddlewareError",
    "KeyNotFound",
    "KeysUnavailable",
    "MissingToken",
    "NotConfigured",
    "Rendered",
    "StartupError",
    "render",
]


class JWTMiddlewareError(Exception):
    """Base class for every exception this package raises."""


class ConfigurationError(JWTMiddlewareError, ValueError):
    """A keyword argument is missing or wrong; the message names it and how to fix it."""


class StartupError(JWTMiddlewareError):
    """The lifespan startup failed: `jwks_required_at_startup=True` and no usable keys could be fetched."""


class FetchError(JWTMiddlewareError):
    """A fetch that brought nothing usable; the message is our own words, safe to log."""


class AuthError(JWTMiddlewareError):
    """A request that must not reach the app, with the answer RFC 6750 asks for."""

    status_code: int = 401
    error: str | None = None  # the RFC 6750 `error` attribute of the challenge

    def __init__(self, code: ErrorCode | str, description: str | None = None) -> None:
        # A closed list: an unknown code is a KeyError, at the line that made it up.
        self.code: ErrorCode = code if isinstance(code, ErrorCode) else _CODES[code]
        self.description: str = self.code.description if description is None else description
        super().__init__(self.description)


class InvalidRequest(AuthError):
    """The request is malformed: several Authorization headers, or one we cannot parse."""

    status_code = 400
    error = "invalid_request"


class MissingToken(AuthError):
    """No bearer token was sent where one is required."""

    def __init__(self) -> None:
        super().__init__(ErrorCode.MISSING_TOKEN)


class InvalidToken(AuthError):
    """The token is malformed, forged, expired, or not meant for this API."""

    error = "invalid_token"


class KeyNotFound(InvalidToken):
    """No key in the key set fits the token's `kid` and `alg`; a remote key set may be refreshed."""

    def __init__(self) -> None:
        super().__init__(ErrorCode.KEY_NOT_FOUND)


class InsufficientScope(AuthError):
    """The token is valid but lacks a scope the route requires (RFC 6750 section 3.1)."""

    status_code = 403
    error = "insufficient_scope"


class NotConfigured(AuthError):
    """A route needs verified claims, but no JWTMiddleware checked this request: a configuration mistake."""

    status_code = 403


class KeysUnavailable(AuthError):
    """There are no usable keys yet, so no token can be checked: a 503, not the client's fault."""

    status_code = 503

    def __init__(self, retry_after: int = 30) -> None:
        super().__init__(ErrorCode.KEYS_UNAVAILABLE)
        self.retry_after = retry_after


class ErrorCode(str, enum.Enum):
    """Every stable error code a refusal can carry: the public contract, and the README's table.

    Each code names the exception class that answers it (hence the status and RFC 6750 error), its description,
    and whether the refusal lasts: a lasting refusal can be reversed by no later moment (the configuration is
    frozen and time only moves on), so a token refused that way is answered from memory when it comes back.
    Signature and key failures do not last (a key rotation may change them), nor do `nbf`/`iat` ones (their
    time comes). A few codes take a more precise description at the point of failure; the one here is generic.

    >>> ErrorCode.TOKEN_EXPIRED.status, ErrorCode.TOKEN_EXPIRED.lasting
    (401, True)
    """

    kind: type[AuthError]
    description: str
    lasting: bool

    def __new__(cls, code: str, kind: type[AuthError], description: str, lasting: bool = False) -> ErrorCode:
        member = str.__new__(cls, code)
        member._value_ = code
        member.kind, member.description, member.lasting = kind, description, lasting
        return member

    __str__ = str.__str__  # "token_expired", not "ErrorCode.TOKEN_EXPIRED", in logs and f-strings

    @property
    def status(self) -> int:
        return self.kind.status_code

    @property
    def error(self) -> str | None:
        """The RFC 6750 `error` of the challenge, or None for a bare challenge (or a 503)."""
        return self.kind.error

    def refusal(self, description: str | None = None) -> AuthError:
        """The exception that answers this code; `description` replaces the generic one."""
        if self.kind in (MissingToken, KeyNotFound, KeysUnavailable):
            return self.kind()  # they take no code: each answers exactly one
        return self.kind(self, description)

    MULTIPLE_AUTHORIZATION_HEADERS = (
        "multiple_authorization_headers",
        InvalidRequest,
        "Send one Authorization header.",
    )
    AUTHORIZATION_MALFORMED = (
        "authorization_malformed",
        InvalidRequest,
        "The Authorization header is not 'Bearer <token>'.",
    )
    HTTPS_REQUIRED = ("https_required", InvalidRequest, "Bearer tokens must be sent over HTTPS.")
    MISSING_TOKEN = ("missing_token", MissingToken, "A bearer token is required.")
    TOKEN_TOO_LARGE = ("token_too_large", InvalidToken, "The token is too large.")
    TOKEN_MALFORMED = ("token_malformed", InvalidToken, "The token is malformed.", True)
    TOKEN_ENCRYPTED = ("token_encrypted", InvalidToken, "Encrypted tokens (JWE) are not accepted.", True)
    ALGORITHM_NOT_ALLOWED = ("algorithm_not_allowed", InvalidToken, "The token's algorithm is not allowed.", True)
    HEADER_INVALID = ("header_invalid", InvalidToken, "The token's header is malformed.", True)
    CRIT_UNSUPPORTED = (
        "crit_unsupported",
        InvalidToken,
        "The token requires an extension this server does not implement.",
        True,
    )
    TYP_INVALID = ("typ_invalid", InvalidToken, "The token's type is not accepted here.", True)
    ISSUER_INVALID = ("issuer_invalid", InvalidToken, "The token's issuer is not accepted.", True)
    KEY_NOT_FOUND = ("key_not_found", KeyNotFound, "No key is known for this token.")
    SIGNATURE_INVALID = ("signature_invalid", InvalidToken, "The token's signature is invalid.")
    CLAIM_MISSING = ("claim_missing", InvalidToken, "The token lacks a required claim.", True)
    CLAIM_INVALID = ("claim_invalid", InvalidToken, "A claim of the token has the wrong type.", True)
    TOKEN_EXPIRED = ("token_expired", InvalidToken, "The token has expired.", True)
    TOKEN_NOT_YET_VALID = ("token_not_yet_valid", InvalidToken, "The token is not valid yet.")
    TOKEN_ISSUED_IN_FUTURE = ("token_issued_in_future", InvalidToken, "The token is issued in the future.")
    TOKEN_TOO_OLD = ("token_too_old", InvalidToken, "The token is too old.", True)
    AUDIENCE_INVALID = ("audience_invalid", InvalidToken, "The token is not meant for this audience.", True)
    TOKEN_REVOKED = ("token_revoked", InvalidToken, "The token has been revoked.")
    TOKEN_INVALID = ("token_invalid", InvalidToken, "The token could not be verified.")
    # Refused by jwt_middleware.fastapi's dependencies, after the middleware has let the request through.
    CLAIMS_INVALID = ("claims_invalid", InvalidToken, "The token's claims do not fit this API.")
    INSUFFICIENT_SCOPE = ("insufficient_scope", InsufficientScope, "The token lacks a scope this route needs.")
    AUTHENTICATION_NOT_CONFIGURED = (
        "authentication_not_configured",
        NotConfigured,
        "This route cannot check credentials.",
    )
    KEYS_UNAVAILABLE = ("keys_unavailable", KeysUnavailable, "Signing keys are not available yet; retry later.")


_CODES: dict[str, ErrorCode] = {code.value: code for code in ErrorCode}

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
    if isinstance(exc, KeysUnavailable):
        headers.append((b"retry-after", str(exc.retry_after).encode()))
    else:
        headers.append((b"www-authenticate", challenge.encode()))
    return exc.status_code, tuple(headers), body
