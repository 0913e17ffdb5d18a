"""The middleware's refusals in FastAPI's `{"detail": ...}` shape, for clients written against FastAPI's errors.

    app.add_middleware(JWTMiddleware, ..., on_error=detail_response)

The status, `WWW-Authenticate` (or `Retry-After`) and `Cache-Control` are the middleware's own; only the body
changes: `{"detail": "The token has expired.", "code": "token_expired", "error": "invalid_token"}`.
"""

from __future__ import annotations

import json

from starlette.requests import HTTPConnection
from starlette.responses import Response

from ..errors import AuthError, render
from .dependencies import realm_of

__all__ = ["detail_response"]


def detail_response(connection: HTTPConnection, exc: AuthError) -> Response:
    """An `on_error` handler: RFC 6750's status and headers, with FastAPI's `{"detail": ...}` body.

    >>> app.add_middleware(JWTMiddleware, ..., on_error=detail_response)
    """
    status, headers, _ = render(exc, realm_of(connection))
    fields = {"detail": exc.description, "code": exc.code, **({"error": exc.error} if exc.error else {})}
    kept = {name.decode("latin-1"): value.decode("latin-1") for name, value in headers if name != b"content-length"}
    return Response(json.dumps(fields, separators=(",", ":")), status, headers=kept, media_type="application/json")
