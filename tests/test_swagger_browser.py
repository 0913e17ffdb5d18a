"""Swagger UI end to end, in a real browser: Debian's Chromium, driven by Playwright, against uvicorn on 127.0.0.1.

/docs shows Authorize, a token is entered, "Try it out" on a protected route gets 200, and the exempt route shows
no padlock. Swagger UI's assets come from the app (serve_swagger_ui): the page may reach nothing but loopback.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Security

from jwt_middleware import JWTMiddleware
from jwt_middleware.fastapi import DOCS_EXEMPT, Claims, install_security, serve_swagger_ui, verified_claims

from .conftest import AUDIENCE, ISSUER, signer_for
from .live_server import serve

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
playwright_api = pytest.importorskip("playwright.async_api", reason="the playwright package is not installed")

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(CHROMIUM is None, reason="no Chromium installed (Debian: apt-get install chromium)"),
]
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",  # the test may run as root (CI containers), where Chromium's sandbox cannot start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
RS = signer_for("RS256")


def swagger_app() -> FastAPI:
    app = FastAPI(docs_url=None, title="Orders")
    serve_swagger_ui(app)

    @app.get("/orders")
    async def orders(claims: Claims) -> dict[str, Any]:
        return {"for": claims["sub"]}

    @app.get("/admin", dependencies=[Security(verified_claims, scopes=["orders:admin"])])
    async def admin() -> dict[str, bool]:  # pragma: no cover - the browser's token lacks the scope
        return {"admin": True}

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    app.add_middleware(
        JWTMiddleware,
        algorithms=["RS256"],
        issuer=ISSUER,
        audience=AUDIENCE,
        key=RS.public,
        exempt=[*DOCS_EXEMPT, "/health"],
    )
    install_security(app)
    return app


async def try_it_out(page: Any, operation_id: str) -> str:
    """Expand an operation, press "Try it out" then "Execute"; the status code Swagger UI shows."""
    operation = page.locator(f"#operations-default-{operation_id}")
    if not await operation.locator(".opblock-body").count():
        await operation.locator(".opblock-summary").first.click()
    try_out = operation.locator("button.try-out__btn")
    if (await try_out.inner_text()).strip() == "Try it out":
        await try_out.click()
    clear = operation.locator("button.btn-clear")
    if await clear.count():  # the previous answer, so the one awaited below is new
        await clear.click()
    await operation.locator("button.execute").click()
    status = operation.locator(".live-responses-table .response .response-col_status")
    await status.first.wait_for(timeout=20_000)
    text: str = await status.first.inner_text()
    return text.split()[0]  # "401" then, for an undocumented status, the word "Undocumented"


async def test_authorize_then_try_it_out_in_chromium() -> None:
    token = RS.token(scope="orders:read")
    outside: list[str] = []
    async with serve(swagger_app()) as base_url, playwright_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        try:
            page = await browser.new_page()

            async def only_loopback(route: Any) -> None:
                if route.request.url.startswith(base_url + "/"):
                    await route.continue_()
                else:  # a CDN or anything else: the test must not depend on it, and must say so
                    outside.append(route.request.url)
                    await route.abort()

            await page.route("**/*", only_loopback)
            await page.goto(f"{base_url}/docs")
            authorize = page.locator(".auth-wrapper button.authorize")
            await authorize.wait_for(timeout=20_000)

            # Padlocks: on the protected routes, not on the exempt one.
            assert await page.locator("#operations-default-orders_orders_get .authorization__btn").count() == 1
            assert await page.locator("#operations-default-health_health_get").count() == 1
            assert await page.locator("#operations-default-health_health_get .authorization__btn").count() == 0

            # Without a token, Try it out gets the middleware's 401.
            assert await try_it_out(page, "orders_orders_get") == "401"

            await authorize.click()
            dialog = page.locator(".modal-ux")
            await dialog.locator("input").first.fill(token)
            await dialog.locator("button.authorize").click()
            await dialog.locator("button.btn-done").click()

            assert await try_it_out(page, "orders_orders_get") == "200"
            answer = page.locator("#operations-default-orders_orders_get .live-responses-table")
            assert '"for": "user-1"' in await answer.first.inner_text()  # the token reached the route
            assert await try_it_out(page, "admin_admin_get") == "403"
            assert await try_it_out(page, "health_health_get") == "200"
        finally:
            await browser.close()
    assert outside == []
