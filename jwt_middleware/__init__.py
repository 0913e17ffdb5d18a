"""jwt_middleware: a pure-ASGI middleware that verifies JSON Web Tokens strictly, once per request, before routing.

>>> from jwt_middleware import JWTMiddleware
>>> app.add_middleware(JWTMiddleware, algorithms=["RS256"], issuer="https://login.example.com/",
...                    audience="orders-api", key=public_key_pem, exempt=["/health"])
"""

from .errors import (
    AuthError,
    ConfigurationError,
    ErrorCode,
    FetchError,
    InvalidRequest,
    InvalidToken,
    JWTMiddlewareError,
    KeyNotFound,
    KeysUnavailable,
    MissingToken,
    StartupError,
)
from .keys.fetch import JWKSOptions
from .middleware import JWTMiddleware
from .settings import Provider
from .user import JWTUser

__version__ = "0.1.0"

__all__ = [
    "AuthError",
    "ConfigurationError",
    "ErrorCode",
    "FetchError",
    "InvalidRequest",
    "InvalidToken",
    "JWKSOptions",
    "JWTMiddleware",
    "JWTMiddlewareError",
    "JWTUser",
    "KeyNotFound",
    "KeysUnavailable",
    "MissingToken",
    "Provider",
    "StartupError",
    "__version__",
]
