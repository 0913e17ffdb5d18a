"""The README's FastAPI example, run as written (only its issuer and key URL point at a local server)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

from jwt_middleware.testing import LocalServer

from .helpers import jwk_of, keyed_signer

pytestmark = pytest.mark.anyio
README = Path(__file__).parent.parent / "README.md"


def example_source() -> str:
    text = README.read_text()
    match = re.search(r"<!-- readme-fastapi-example -->\n```python\n(.*?)```", text, re.DOTALL)
    assert match is not None, "the README lost its FastAPI example"
    return match.group(1)


async def test_the_readme_fastapi_example_works(server: LocalServer) -> None:
    signer = keyed_signer("readme", "RS256")
    server.jwks = {"keys": [jwk_of(signer)]}
    issuer = "https://login.example.com/"
    source = example_source().replace('"https://login.example.com/.well-known/jwks.json"', repr(server.jwks_url))
    namespace: dict[str, Any] = {}
    exec(compile(source, "README.md", "exec"), namespace)  # noqa: S102 - our own README
    app = namespace["app"]

    def token(**claims: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {signer.token(iss=issuer, aud='orders-api', **claims)}"}

    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            assert (await client.get("/health")).status_code == 200
            assert (await client.get("/orders")).status_code == 401
            assert (await client.get("/orders", headers=token())).json() == {"for": "user-1"}
            assert (await client.get("/me", headers=token())).json() == {"identity": "user-1"}
            profile = await client.get("/profile", headers=token(email="a@example.com"))
            assert profile.json() == {"sub": "user-1", "email": "a@example.com"}
            assert (await client.get("/profile", headers=token())).json()["code"] == "claims_invalid"
            refused = await client.delete("/orders/3", headers=token())
            assert refused.status_code == 403
            assert 'scope="orders:write"' in refused.headers["www-authenticate"]
            assert (await client.delete("/orders/3", headers=token(scope="orders:write"))).json() == {"deleted": 3}
            schema = (await client.get("/openapi.json")).json()
            assert schema["paths"]["/orders/{order_id}"]["delete"]["security"] == [{"bearerAuth": ["orders:write"]}]
            assert "security" not in schema["paths"]["/health"]["get"]
            assert (await client.get("/docs")).status_code == 200
            preflight = await client.options(
                "/orders",
                headers={"Origin": "https://app.example.com", "Access-Control-Request-Method": "GET"},
            )
            assert preflight.headers["access-control-allow-origin"] == "https://app.example.com"
