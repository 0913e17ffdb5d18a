"""A small FastAPI app behind JWTMiddleware: the app that `test_fastapi_app.py`, the README's recipe, tests."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request

from jwt_middleware import JWTMiddleware


def create_app(**middleware_options: Any) -> FastAPI:
    """The app; `middleware_options` say who issues its tokens, for whom, and where keys come from (`jwks_url=`)."""
    app = FastAPI()
    app.add_middleware(JWTMiddleware, algorithms=["RS256"], **middleware_options)

    @app.get("/orders")
    async def orders(request: Request) -> dict[str, Any]:
        return {"user": request.user.identity, "scopes": sorted(request.auth.scopes)}

    return app
