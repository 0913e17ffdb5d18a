"""FastAPI dependencies that read what `JWTMiddleware` put in the request scope: they never verify a token again.

    from jwt_middleware.fastapi import Claims, CurrentUser, verified_claims

    @app.get("/orders")
    async def orders(claims: Claims): ...                      # the verified claims, a dict
    @app.delete("/orders/{id}")
    async def delete(id: int, claims: dict = Security(verified_claims, scopes=["orders:write"])): ...

A route that needs claims where the middleware did not run (no middleware, or an exempt path) is a developer
error: it is logged as an error that names the fix, and the request is refused with 403 `authentication_not_configured`
(never served as an anonymous user). `install_security` finds these routes at startup and refuses to start.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

from fastapi import HTTPException, Security
from fastapi.security import SecurityScopes
from pydantic import BaseModel, ValidationError
from starlette.requests import HTTPConnection

from ..errors import ErrorCode
from ..middleware import JWTMiddleware
from ..user import JWTUser

__all__ = [
    "AuthRefusal",
    "Claims",
    "CurrentUser",
    "OptionalClaims",
    "claims_as",
    "current_user",
    "optional_claims",
    "verified_claims",
]

logger = logging.getLogger("jwt_middleware")

Model = TypeVar("Model", bound=BaseModel)
# RFC 6750 section 3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ), so it can be quoted in the challenge as is.
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")
# What a dependency needs from the middleware; `install_security` reads this marker to document and check routes.
NEEDS_TOKEN = "_jwt_middleware_needs_token"  # noqa: S105 - an attribute name, not a secret


class AuthRefusal(HTTPException):
    """A refusal raised by a dependency, with RFC 6750's answer: `status_code`, `headers`, and the body's fields.

    FastAPI's default handler answers `{"detail": description}` with the headers kept; `install_security`
    registers a handler that answers with the middleware's body instead (`{"error", "error_description", "code"}`).
    """

    def __init__(
        self,
        code: ErrorCode,
        *,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        # Status, RFC 6750 error and description all come from the closed list of codes (jwt_middleware.errors).
        super().__init__(status_code=code.status, detail=code.description, headers=headers)
        self.code = code
        self.error = code.error
        self.description = code.description
        self.extra = extra or {}

    def body(self, *, detail_shape: bool = False) -> dict[str, Any]:
        """The JSON body: the middleware's shape, or FastAPI's `{"detail": ...}` with the same fields beside it."""
        if detail_shape:
            return {"detail": self.description, "code": self.code, **self.extra}
        error = {} if self.error is None else {"error": self.error}
        return {**error, "error_description": self.description, "code": self.code, **self.extra}


def realm_of(connection: HTTPConnection) -> str:
    """The `realm` the app's JWTMiddleware was given, for challenges a dependency sends ("api" by default)."""
    for middleware in getattr(connection.scope.get("app"), "user_middleware", ()):
        if isinstance(middleware.cls, type) and issubclass(middleware.cls, JWTMiddleware):
            realm = middleware.kwargs.get("realm", "api")
            return realm if isinstance(realm, str) else "api"
    return "api"


def _published_claims(connection: HTTPConnection) -> dict[str, Any] | None:
    """The claims the middleware published: a dict, or None for an anonymous request on an optional path."""
    state = connection.scope.get("state")
    if not isinstance(state, dict) or "claims" not in state:
        # No middleware, or an exempt path: nothing was verified. Refuse rather than serve an anonymous user.
        logger.error(
            "%r needs the token's claims, but JWTMiddleware did not check this request: add "
            "app.add_middleware(JWTMiddleware, ...) or take the path out of its exempt=[...] patterns "
            "(optional=[...] lets anonymous requests through and still verifies tokens)",
            connection.scope.get("path"),
        )
        raise AuthRefusal(ErrorCode.AUTHENTICATION_NOT_CONFIGURED)
    claims: dict[str, Any] | None = state["claims"]
    return claims


def _require(connection: HTTPConnection, security_scopes: SecurityScopes) -> dict[str, Any]:
    claims = _published_claims(connection)
    if claims is None:  # an optional path, no token: this route needs one all the same
        raise AuthRefusal(
            ErrorCode.MISSING_TOKEN, headers={"WWW-Authenticate": f'Bearer realm="{realm_of(connection)}"'}
        )
    if security_scopes.scopes:
        auth = connection.scope.get("auth")
        granted = frozenset(auth.scopes) if auth is not None else frozenset()
        missing = [s for s in dict.fromkeys(security_scopes.scopes) if s not in granted]
        if missing:
            raise _insufficient_scope(connection, list(dict.fromkeys(security_scopes.scopes)), missing)
    return claims


def _insufficient_scope(connection: HTTPConnection, needed: list[str], missing: list[str]) -> AuthRefusal:
    """RFC 6750 section 3.1: 403, error="insufficient_scope", and the scope the route needs."""
    description = ErrorCode.INSUFFICIENT_SCOPE.description
    quotable = " ".join(s for s in needed if _SCOPE_TOKEN.fullmatch(s))
    challenge = (
        f'Bearer realm="{realm_of(connection)}", error="insufficient_scope", '
        f'error_description="{description}", scope="{quotable}"'
    )
    return AuthRefusal(
        ErrorCode.INSUFFICIENT_SCOPE,
        headers={"WWW-Authenticate": challenge},
        extra={"scope": " ".join(needed), "missing_scopes": missing},
    )


async def verified_claims(connection: HTTPConnection, security_scopes: SecurityScopes) -> dict[str, Any]:
    """The verified claims; 401 without a token (on an optional path), 403 when a `Security` scope is missing.

    >>> async def orders(claims: dict = Security(verified_claims, scopes=["orders:read"])): ...
    """
    return _require(connection, security_scopes)


async def optional_claims(connection: HTTPConnection, security_scopes: SecurityScopes) -> dict[str, Any] | None:
    """The verified claims, or None for an anonymous request on one of the middleware's `optional` paths.

    >>> async def catalog(claims: dict | None = Depends(optional_claims)): ...
    """
    if _published_claims(connection) is None:
        return None
    return _require(connection, security_scopes)


async def current_user(connection: HTTPConnection, security_scopes: SecurityScopes) -> JWTUser:
    """Starlette's `request.user` for the token (`identity` is `sub`, `claims` all of them); refusals as above.

    >>> async def me(user: JWTUser = Security(current_user)): return {"sub": user.identity}
    """
    _require(connection, security_scopes)
    user: JWTUser = connection.scope["user"]
    return user


def claims_as(model: type[Model]) -> Callable[[HTTPConnection, SecurityScopes], Awaitable[Model]]:
    """A dependency that validates the claims into your Pydantic model (v2); claims that do not fit are a 401.

    >>> class Caller(BaseModel): sub: str; tenant: str
    >>> async def orders(caller: Caller = Security(claims_as(Caller), scopes=["orders:read"])): ...

    The refusal is `401 invalid_token` with the code `claims_invalid`; Pydantic's message (which quotes the
    values) is never sent, and only the names of the failing fields are logged.
    """

    async def validated_claims(connection: HTTPConnection, security_scopes: SecurityScopes) -> Model:
        claims = _require(connection, security_scopes)
        try:
            return model.model_validate(claims)
        except ValidationError as exc:
            fields = sorted({".".join(str(p) for p in error["loc"]) or "(root)" for error in exc.errors()})
            logger.warning("claims do not fit %s: fields %s", model.__name__, ", ".join(fields))
            description = ErrorCode.CLAIMS_INVALID.description
            raise AuthRefusal(
                ErrorCode.CLAIMS_INVALID,
                headers={
                    "WWW-Authenticate": (
                        f'Bearer realm="{realm_of(connection)}", error="invalid_token", '
                        f'error_description="{description}"'
                    )
                },
            ) from None

    validated_claims.__qualname__ = f"claims_as({model.__name__})"
    setattr(validated_claims, NEEDS_TOKEN, True)
    return validated_claims


setattr(verified_claims, NEEDS_TOKEN, True)
setattr(current_user, NEEDS_TOKEN, True)
setattr(optional_claims, NEEDS_TOKEN, False)

Claims = Annotated[dict[str, Any], Security(verified_claims)]
"""The verified claims of the request's token: `async def orders(claims: Claims)`."""
CurrentUser = Annotated[JWTUser, Security(current_user)]
"""The `JWTUser` of the request's token: `async def me(user: CurrentUser)`."""
OptionalClaims = Annotated[dict[str, Any] | None, Security(optional_claims)]
"""The claims, or None for an anonymous request on an optional path: `async def catalog(claims: OptionalClaims)`."""
