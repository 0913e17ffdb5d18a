import pytest
from fastapi_app import create_app


@pytest.fixture
def jwt_app(jwt_issuer, jwt_server):  # the plugin's issuer, its JWKS served on 127.0.0.1
    return create_app(issuer=jwt_issuer.issuer, audience=jwt_issuer.audience, jwks_url=jwt_server.jwks_url)


@pytest.mark.parametrize(("claims", "scopes"), [({"scope": "orders:read"}, ["orders:read"]), ({}, [])])
def test_accepted_with_its_scopes(jwt_client, jwt_issuer, claims, scopes):
    answer = jwt_client.get("/orders", headers=jwt_issuer.headers(**claims))
    assert answer.json() == {"user": "user-1", "scopes": ["authenticated", *scopes]}


@pytest.mark.jwt(expires_in=-60)  # the token of jwt_headers: any LocalIssuer.token() keywords
def test_expired(jwt_client, jwt_headers):
    assert jwt_client.get("/orders", headers=jwt_headers).status_code == 401


def test_wrong_audience(jwt_client, jwt_issuer):
    assert jwt_client.get("/orders", headers=jwt_issuer.headers(aud="another-api")).status_code == 401


def test_key_rotation(jwt_client, jwt_issuer):
    jwt_issuer.rotate(retire=True)  # a new kid: the middleware fetches the JWKS again
    assert jwt_client.get("/orders", headers=jwt_issuer.headers()).status_code == 200
