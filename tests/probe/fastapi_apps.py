"""The FastAPI members of the gallery (see vulnerable_apps.py): the patterns FastAPI's docs and blog posts teach.

No `from __future__ import annotations` here, unlike the rest of the code base: FastAPI reads the annotations of
these closures at run time to find their dependencies, and a string naming a local (`bearer`) cannot be resolved.
"""

from typing import Annotated, Any

import jwt
from fastapi import Depends, FastAPI, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer, OAuth2PasswordBearer

from ..conftest import AUDIENCE
from .vulnerable_apps import CHALLENGE, Signer, strict

__all__ = ["FASTAPI_TUTORIAL_SECRET", "fastapi_http_bearer_jwks", "fastapi_oauth2_password_bearer", "forgot_dependency"]

# The SECRET_KEY printed in FastAPI's "OAuth2 with Password, Bearer with JWT tokens" tutorial.
FASTAPI_TUTORIAL_SECRET = "09d25e094faa6ca2556c818166b7a9563b93f7099f6f0f4caa6cf63b88e8d3e7"


def forgot_dependency(signer: Signer) -> FastAPI:
    """FastAPI: `/admin/reports` takes the bearer credentials but never verifies them; OpenAPI says it is secured."""
    app = FastAPI()
    bearer = HTTPBearer()
    verify = strict(signer)

    def current_user(credentials: Annotated[HTTPAuthorizationCredentials, Depends(bearer)]) -> dict[str, Any]:
        try:
            return verify(credentials.credentials)
        except jwt.PyJWTError:
            raise HTTPException(401, "Invalid token.", headers=CHALLENGE) from None

    @app.get("/orders")
    def orders(user: Annotated[dict[str, Any], Depends(current_user)]) -> dict[str, Any]:
        return {"orders": [], "for": user.get("sub")}

    @app.get("/admin/reports/{report_id}")
    def report(report_id: int, credentials: Annotated[HTTPAuthorizationCredentials, Depends(bearer)]) -> dict[str, Any]:
        return {"report": report_id}  # the mistake: Depends(bearer), not Depends(current_user)

    @app.post("/admin/reports/{report_id}/archive")
    def archive(
        report_id: int, credentials: Annotated[HTTPAuthorizationCredentials, Depends(bearer)]
    ) -> dict[str, Any]:
        return {"archived": report_id}  # the same mistake, on a method the probe sends only with --unsafe-methods

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


def fastapi_http_bearer_jwks(signer: Signer, jwks_url: str) -> FastAPI:
    """The migration guide's first pattern as commonly written: HTTPBearer + PyJWKClient + `jwt.decode`.

    Three mistakes ride along: no `issuer=`, `detail=str(e)`, and an HTTPException without a challenge.
    """
    app = FastAPI()
    security = HTTPBearer()
    jwks_client = jwt.PyJWKClient(jwks_url)

    def verify_token(credentials: Annotated[HTTPAuthorizationCredentials, Depends(security)]) -> dict[str, Any]:
        token = credentials.credentials
        try:
            signing_key = jwks_client.get_signing_key_from_jwt(token)
            payload: dict[str, Any] = jwt.decode(token, signing_key.key, algorithms=["RS256"], audience=AUDIENCE)
            return payload
        except jwt.PyJWTError as e:
            raise HTTPException(status_code=401, detail=str(e)) from e

    @app.get("/orders")
    def orders(claims: Annotated[dict[str, Any], Depends(verify_token)]) -> dict[str, Any]:
        return {"orders": [], "for": claims.get("sub")}

    return app


def fastapi_oauth2_password_bearer(signer: Signer) -> FastAPI:
    """The migration guide's second pattern, from FastAPI's tutorial: OAuth2PasswordBearer + HS256 `jwt.decode`.

    The verification is sound; the tutorial's SECRET_KEY, shipped as-is, is not, and its tokens have no aud/iss.
    """
    app = FastAPI()
    oauth2_scheme = OAuth2PasswordBearer(tokenUrl="token")

    async def get_current_user(token: Annotated[str, Depends(oauth2_scheme)]) -> str:
        credentials_exception = HTTPException(
            status_code=401, detail="Could not validate credentials", headers={"WWW-Authenticate": "Bearer"}
        )
        try:
            payload = jwt.decode(token, FASTAPI_TUTORIAL_SECRET, algorithms=["HS256"])
            username = payload.get("sub")
            if username is None:
                raise credentials_exception
        except jwt.InvalidTokenError:
            raise credentials_exception from None
        return str(username)

    @app.get("/orders")
    async def orders(user: Annotated[str, Depends(get_current_user)]) -> dict[str, Any]:
        return {"orders": [], "for": user}

    return app
