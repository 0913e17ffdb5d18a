"""scope_claims: which claims grant scopes, one row per identity provider's token shape."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from jwt_middleware import ConfigurationError, JWTMiddleware

from .conftest import app_for, bearer, client_for, signer_for

pytestmark = pytest.mark.anyio
HS = signer_for("HS256")


def cognito_groups(claims: Mapping[str, Any]) -> list[str]:
    return [f"group:{g}" for g in claims.get("cognito:groups", [])]


@pytest.mark.parametrize(
    ("scope_claims", "claims", "scopes"),
    [
        (None, {"scope": "a b", "scp": ["c", 7], "permissions": ["p"]}, ["a", "b", "c"]),  # the default
        (
            ["permissions"],
            {"scope": "a", "permissions": ["read:orders", "write:orders"]},
            ["read:orders", "write:orders"],
        ),
        (["scp", "roles"], {"scp": "User.Read", "roles": ["Orders.Admin"]}, ["User.Read", "Orders.Admin"]),  # Entra
        (["realm_access.roles"], {"realm_access": {"roles": ["admin", "user"]}}, ["admin", "user"]),  # Keycloak
        (["resource_access.orders-api.roles"], {"resource_access": {"orders-api": {"roles": ["x"]}}}, ["x"]),
        (["realm_access.roles"], {"realm_access": ["not", "an", "object"]}, []),
        (["realm_access.roles"], {"realm_access": {"roles": "one two"}}, ["one", "two"]),
        (["https://example.com/roles"], {"https://example.com/roles": ["admin"]}, ["admin"]),  # Auth0 namespaced
        (["scope", cognito_groups], {"scope": "s", "cognito:groups": ["ops"]}, ["s", "group:ops"]),  # a function
        ([lambda c: ("t",)], {}, ["t"]),
        ([lambda c: None], {"scope": "ignored"}, []),
        (["permissions"], {"permissions": {"read": True}}, []),  # neither a string nor a list: nothing
        (["scope", "scp"], {"scope": "a a", "scp": "a"}, ["a"]),
    ],
)
async def test_scope_claims_decide_request_auth_scopes(
    scope_claims: list[Any] | None, claims: dict[str, Any], scopes: list[str]
) -> None:
    options = {} if scope_claims is None else {"scope_claims": scope_claims}
    async with client_for(app_for(HS, **options)) as client:
        response = await client.get("/whoami", headers=bearer(HS.token(**claims)))
    assert response.status_code == 200
    assert response.json()["scopes"] == ["authenticated", *scopes]


async def test_scopes_are_computed_once_per_token_and_kept_with_the_cached_verdict() -> None:
    calls: list[int] = []

    def counted(claims: Mapping[str, Any]) -> str:
        calls.append(1)
        return "once"

    token = HS.token()
    async with client_for(app_for(HS, scope_claims=[counted])) as client:
        for _ in range(3):
            response = await client.get("/whoami", headers=bearer(token))
            assert response.json()["scopes"] == ["authenticated", "once"]
    assert calls == [1]


async def test_a_failing_scope_function_refuses_the_token_without_its_text() -> None:
    def broken(claims: Mapping[str, Any]) -> list[str]:
        raise RuntimeError("secret detail")

    async with client_for(app_for(HS, scope_claims=[broken])) as client:
        response = await client.get("/whoami", headers=bearer(HS.token()))
    assert (response.status_code, response.json()["code"]) == (401, "token_invalid")
    assert "secret" not in response.text


@pytest.mark.parametrize("value", ["permissions", [""], [".roles"], ["roles."], [3], None, ("scope", b"scp")])
def test_scope_claims_are_validated_at_construction(value: Any) -> None:
    with pytest.raises(ConfigurationError, match="scope_claims"):
        JWTMiddleware(app_for(HS), algorithms=["HS256"], issuer=None, audience=None, key=HS.public, scope_claims=value)


async def test_a_scope_function_cannot_change_the_claims_later_requests_see() -> None:
    def meddling(claims: Mapping[str, Any]) -> list[str]:
        claims["groups"].append("admins")  # a nested list: a read-only top level would not stop this
        return list(claims["groups"])

    token = HS.token(groups=["ops"])
    async with client_for(app_for(HS, scope_claims=[meddling])) as client:
        first = (await client.get("/whoami", headers=bearer(token))).json()
        second = (await client.get("/whoami", headers=bearer(token))).json()  # from the cache
    assert first["scopes"] == ["authenticated", "ops", "admins"]  # what the function returned, computed once
    assert first["claims"]["groups"] == second["claims"]["groups"] == ["ops"]  # what was signed
