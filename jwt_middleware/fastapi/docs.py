"""FastAPI's documentation routes: the exempt patterns they need, and Swagger UI served without a CDN.

app = FastAPI(docs_url=None)               # serve_swagger_ui replaces FastAPI's CDN-backed page
serve_swagger_ui(app)                      # pip install 'jwt_middleware[fastapi-offline-docs]'
app.add_middleware(JWTMiddleware, ..., exempt=[*DOCS_EXEMPT, "/health"])
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

from ..errors import ConfigurationError

__all__ = ["DOCS_EXEMPT", "SWAGGER_ASSETS", "docs_exempt", "serve_swagger_ui"]

SWAGGER_ASSETS = "/docs/assets"
# FastAPI's default documentation routes, read-only methods only: a POST to /docs still needs a token. The assets
# prefix is where serve_swagger_ui puts Swagger UI's files (nothing else lives there).
DOCS_EXEMPT: tuple[str, ...] = (
    "GET,HEAD /docs",
    "GET,HEAD /docs/oauth2-redirect",
    "GET,HEAD /redoc",
    "GET,HEAD /openapi.json",
    f"GET,HEAD {SWAGGER_ASSETS}/*",
)


def docs_exempt(
    *,
    docs_url: str | None = "/docs",
    redoc_url: str | None = "/redoc",
    openapi_url: str | None = "/openapi.json",
    oauth2_redirect_url: str | None = "/docs/oauth2-redirect",
    assets_url: str | None = SWAGGER_ASSETS,
) -> list[str]:
    """The exempt patterns for documentation routes moved from FastAPI's defaults (pass what you gave FastAPI).

    >>> app = FastAPI(docs_url="/api/docs", openapi_url="/api/openapi.json")
    >>> exempt = docs_exempt(docs_url="/api/docs", openapi_url="/api/openapi.json")
    >>> app.add_middleware(JWTMiddleware, ..., exempt=[*exempt, "/health"])
    """
    exact = [docs_url, oauth2_redirect_url, redoc_url, openapi_url]
    patterns = [f"GET,HEAD {url}" for url in exact if url]
    if assets_url:
        patterns.append(f"GET,HEAD {assets_url}/*")
    return patterns


def _assets_directory() -> Path:
    try:
        import fastapi_offline
    except ImportError as exc:
        raise ConfigurationError(
            "serve_swagger_ui needs the fastapi-offline package: pip install 'jwt_middleware[fastapi-offline-docs]'"
        ) from exc
    # fastapi-offline ships Swagger UI 5 (FastAPI's documents are OpenAPI 3.1, which Swagger UI 4 cannot read).
    return Path(fastapi_offline.__file__).parent / "static"


def serve_swagger_ui(
    app: FastAPI, *, docs_url: str = "/docs", assets_url: str = SWAGGER_ASSETS, title: str | None = None
) -> None:
    """Serve Swagger UI from the app itself (the `fastapi-offline` package's copy), for networks without the CDN.

    >>> app = FastAPI(docs_url=None)
    >>> serve_swagger_ui(app)

    Create the app with `docs_url=None` so FastAPI does not add its own page; its OAuth2 redirect page is added
    here. Exempt both URLs and the assets (`DOCS_EXEMPT` does for the defaults).
    """
    if app.docs_url is not None:
        raise ConfigurationError("serve_swagger_ui replaces FastAPI's docs page: create the app with docs_url=None")
    if app.openapi_url is None:
        raise ConfigurationError("serve_swagger_ui needs the OpenAPI document: leave FastAPI's openapi_url set")
    directory = _assets_directory()
    openapi_url, redirect_url = app.openapi_url, f"{docs_url}/oauth2-redirect"
    page_title = title or f"{app.title} - Swagger UI"

    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        return get_swagger_ui_html(
            openapi_url=root + openapi_url,
            title=page_title,
            swagger_js_url=f"{root}{assets_url}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{assets_url}/swagger-ui.css",
            swagger_favicon_url=f"{root}{assets_url}/favicon.png",
            oauth2_redirect_url=root + redirect_url,
            init_oauth=app.swagger_ui_init_oauth,
            swagger_ui_parameters=app.swagger_ui_parameters,
        )

    async def oauth2_redirect(request: Request) -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    app.mount(assets_url, StaticFiles(directory=directory), name="swagger-ui-assets")
    app.add_api_route(docs_url, swagger_ui, include_in_schema=False, methods=["GET"])
    app.add_api_route(redirect_url, oauth2_redirect, include_in_schema=False, methods=["GET"])
