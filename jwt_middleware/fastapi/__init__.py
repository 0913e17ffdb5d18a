"""FastAPI, natively: claims and scopes through `Depends`/`Security`, Swagger's Authorize button, fail-fast checks.

    from jwt_middleware import JWTMiddleware
    from jwt_middleware.fastapi import DOCS_EXEMPT, Claims, install_security, verified_claims

    app = FastAPI()
    app.add_middleware(JWTMiddleware, algorithms=["RS256"], issuer=ISSUER, audience="orders-api",
                       oidc_discovery=True, exempt=[*DOCS_EXEMPT, "/health"])
    install_security(app)                       # OpenAPI security from the middleware's rules; checks now

    @app.get("/orders")
    async def orders(claims: Claims): ...
    @app.delete("/orders/{id}", dependencies=[Security(verified_claims, scopes=["orders:write"])])
    async def delete(id: int): ...

The middleware stays the one place that verifies: these dependencies only read what it put in the scope.
Needs the `fastapi` extra: `pip install 'jwt_middleware[fastapi]'`.
"""

from __future__ import annotations

from .dependencies import (
    AuthRefusal,
    Claims,
    CurrentUser,
    OptionalClaims,
    claims_as,
    current_user,
    optional_claims,
    verified_claims,
)
from .docs import DOCS_EXEMPT, docs_exempt, serve_swagger_ui
from .openapi import RouteSecurity, install_security, route_security
from .responses import detail_response

__all__ = [
    "DOCS_EXEMPT",
    "AuthRefusal",
    "Claims",
    "CurrentUser",
    "OptionalClaims",
    "RouteSecurity",
    "claims_as",
    "current_user",
    "detail_response",
    "docs_exempt",
    "install_security",
    "optional_claims",
    "route_security",
    "serve_swagger_ui",
    "verified_claims",
]
