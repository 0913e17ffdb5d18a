import pytest
from fastapi_app import create_app

from jwt_middleware.testing import LocalIssuer


@pytest.fixture
def jwt_issuer():
    return LocalIssuer("https://login.example.test/", audience="orders-api")


@pytest.fixture
def jwt_app(jwt_issuer, jwt_server):  # the issuer's JWKS, served on 127.0.0.1
    return create_app(issuer=jwt_issuer.issuer, jwks_url=jwt_server.jwks_url)


@pytest.mark.parametrize(("claims", "scopes"), [({"scope": "orders:read"}, ["orders:read"]), ({}, [])])
def test_accepted_with_its_scopes(jwt_client, jwt_issuer, claims, scopes):
    assert jwt_client.get("/orders", headers=jwt_issuer.headers(**claims)).json()["scopes"] == [
        "authenticated",
        *scopes,
    ]


@pytest.mark.jwt(expires_in=-60)  # or aud="another-api", omit=["exp"], kid="unknown", ...
def test_expired(jwt_client, jwt_headers):
    assert jwt_client.get("/orders", headers=jwt_headers).status_code == 401


def test_key_rotation(jwt_client, jwt_issuer):
    jwt_issuer.rotate(retire=True)  # a new kid: the middleware fetches the JWKS again
    assert jwt_client.get("/orders", headers=jwt_issuer.headers()).status_code == 200
    assert jwt_client.get("/orders", headers=jwt_issuer.headers(aud="another-api")).status_code == 401
