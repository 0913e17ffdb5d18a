"""`LocalIssuer`: an identity provider in a test process, with its keys, its tokens and its published documents.

>>> issuer = LocalIssuer(audience="orders-api")
>>> app.add_middleware(JWTMiddleware, algorithms=["RS256"], issuer=issuer.issuer, audience="orders-api",
...                    key=issuer.public_pem())
>>> client.get("/orders", headers={"Authorization": f"Bearer {issuer.token(scope='orders:read')}"})
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from typing import Any

import httpx

from .keys import IssuerKey, PublicKey, make_key
from .server import LocalServer

__all__ = ["DEFAULT_AUDIENCE", "DEFAULT_ISSUER", "LocalIssuer"]

DEFAULT_ISSUER = "https://issuer.test/"
DEFAULT_AUDIENCE = "api.test"
_DISCOVERY_SUFFIX = "/.well-known/openid-configuration"
_JWKS_PATH = "/jwks.json"


class LocalIssuer:
    """Mints tokens for tests and publishes their keys: a static key, a JWKS, a discovery document, a server.

    Keys are made on first use, one per algorithm (RS* and PS* share one RSA key pair, which is slow to make).
    Every key is marked as a test key: a `JWTMiddleware` configured with one logs a warning at start-up.

    >>> issuer = LocalIssuer(audience="api", algorithm="ES256")
    >>> issuer.token(sub="alice", scope="read")          # valid for five minutes
    >>> issuer.token(expires_in=-60)                      # expired a minute ago
    >>> issuer.token(omit=["exp"], headers={"typ": "at+jwt"}, kid="unknown")

    `reuse_keys=True` starts from one key per algorithm shared by every such issuer in the process, made once:
    a fixture that builds an issuer per test then pays for RSA key generation once (`rotate()` still makes new
    keys). Leave it off when a test needs two issuers whose keys differ.

    Without `issuer=`, the `iss` is "https://issuer.test/" until the issuer is served, then the server's URL
    (kept after it stops), so `oidc_discovery=True` finds the server.
    """

    def __init__(
        self,
        issuer: str | None = None,
        audience: str | list[str] = DEFAULT_AUDIENCE,
        *,
        algorithm: str = "RS256",
        subject: str = "user-1",
        lifetime: float = 300,
        reuse_keys: bool = False,
    ) -> None:
        self._issuer = issuer
        self.served_at: str | None = None  # set by `LocalServer` when it listens
        self.audience = audience
        self.algorithm = algorithm
        self.subject = subject
        self.lifetime = lifetime
        self._reuse_keys = reuse_keys
        self._current: dict[str, IssuerKey] = {}
        self._published: list[IssuerKey] = []  # current and not yet retired keys, oldest first
        self._generation = 0

    def __repr__(self) -> str:
        return f"LocalIssuer(issuer={self.issuer!r}, audience={self.audience!r}, algorithm={self.algorithm!r})"

    @property
    def issuer(self) -> str:
        """The `iss` of the tokens minted now, and the `issuer=` to configure the middleware with."""
        if self._issuer is not None:
            return self._issuer
        return self.served_at or DEFAULT_ISSUER

    # --- Keys ------------------------------------------------------------------------------------------------

    def key(self, alg: str | None = None) -> IssuerKey:
        """The current signing key for `alg` (default: the issuer's `algorithm`), made on first use.

        >>> issuer.key("ES256").kid
        'es256-1'
        """
        alg = alg or self.algorithm
        current = self._current.get(alg)
        if current is None:
            current = self._make(alg)
        return current

    def public_key(self, alg: str | None = None) -> PublicKey | bytes:
        """The verifying key for `key=`: a `cryptography` public key, or the secret for HS*."""
        return self.key(alg).public

    def public_pem(self, alg: str | None = None) -> bytes:
        """The public key as PEM for `key=`; for HS* (no public half) the secret itself."""
        key = self.key(alg)
        pem = key.public_pem
        if pem is None:  # an HMAC secret: no public half
            assert isinstance(key.public, bytes)
            return key.public
        return pem

    def jwk(self, alg: str | None = None, **members: Any) -> dict[str, Any]:
        """The current key's public JWK (with `kid`, `alg`, `use`); `members` add or override."""
        return self.key(alg).jwk(**members)

    def jwks(self) -> dict[str, Any]:
        """The JWK Set this issuer publishes: every published asymmetric key (HMAC secrets are never published).

        >>> JWTMiddleware(app, ..., key=issuer.jwks())   # a static JWKS also works as key=
        """
        if not self._published:
            self.key()
        return {"keys": [key.jwk() for key in self._published if not isinstance(key.public, bytes)]}

    def discovery(self, base_url: str | None = None) -> dict[str, Any]:
        """The OIDC discovery document, naming `{base_url}/jwks.json` (default: under the issuer URL)."""
        base = (base_url or self.issuer).rstrip("/")
        algorithms = sorted({key.alg for key in self._published}) or [self.algorithm]
        return {
            "issuer": self.issuer,
            "jwks_uri": base + _JWKS_PATH,
            "id_token_signing_alg_values_supported": algorithms,
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
        }

    def rotate(self, alg: str | None = None, *, retire: bool = False) -> IssuerKey:
        """Make a new current key for `alg` and return it; the old one stays published unless `retire=True`.

        >>> old = issuer.key()
        >>> new = issuer.rotate()                  # tokens now carry new.kid; the JWKS lists both
        >>> issuer.retire(old)                     # ...until the old key is withdrawn
        """
        alg = alg or self.algorithm
        old = self._current.get(alg)
        new = self._make(alg, fresh=True)
        if retire and old is not None:
            self.retire(old)
        return new

    def retire(self, key: IssuerKey) -> None:
        """Stop publishing `key` in the JWKS (it may still sign, e.g. to test that its tokens are refused)."""
        self._published = [k for k in self._published if k is not key]

    def _make(self, alg: str, *, fresh: bool = False) -> IssuerKey:
        self._generation += 1
        kid = f"{alg.lower()}-{self._generation}"
        sibling = None if fresh else next((k for k in self._current.values() if _shares_rsa(k.alg, alg)), None)
        if sibling is not None:
            key = _renamed(sibling.with_alg(alg), kid)
        elif self._reuse_keys and not fresh:
            key = _renamed(_shared_key(alg), kid)
        else:
            key = make_key(alg, kid=kid)
        if fresh:  # a rotated RSA key pair becomes the current one for its whole family, as at a real issuer
            for other in [a for a in self._current if a != alg and _shares_rsa(a, alg)]:
                del self._current[other]
        self._current[alg] = key
        self._published.append(key)
        return key

    # --- Tokens ----------------------------------------------------------------------------------------------

    def claims(
        self, *, expires_in: float | None = None, starts_in: float | None = None, **claims: Any
    ) -> dict[str, Any]:
        """The claims `token()` signs: `iss`, `aud`, `sub`, `iat`, `exp` (and `nbf` with `starts_in`), then `claims`."""
        now = int(time.time())
        lifetime = self.lifetime if expires_in is None else expires_in
        payload: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": self.subject,
            "iat": now,
            "exp": int(now + lifetime),
        }
        if starts_in is not None:
            payload["nbf"] = int(now + starts_in)
        payload.update(claims)
        return payload

    def token(
        self,
        *,
        alg: str | None = None,
        kid: str | None = None,
        headers: Mapping[str, Any] | None = None,
        expires_in: float | None = None,
        starts_in: float | None = None,
        omit: Iterable[str] = (),
        **claims: Any,
    ) -> str:
        """A signed token: defaults for this issuer, `claims` added or replaced, the names in `omit` removed.

        `expires_in` / `starts_in` are seconds from now for `exp` / `nbf` (negative: in the past). `kid` replaces
        the key's own `kid` in the header ("" removes it); `headers` add or replace header members.

        >>> issuer.token(scope="orders:read", expires_in=-1)   # expired, with a scope
        >>> issuer.token(aud="someone-else")                    # the wrong audience
        """
        payload = self.claims(expires_in=expires_in, starts_in=starts_in, **claims)
        for name in omit:
            payload.pop(name, None)
        return self.sign(payload, alg=alg, kid=kid, headers=headers)

    def headers(self, **token_options: Any) -> dict[str, str]:
        """An `Authorization: Bearer` header for `token(**token_options)`.

        >>> client.get("/orders", headers=issuer.headers(scope="orders:read"))
        """
        return {"Authorization": f"Bearer {self.token(**token_options)}"}

    def sign(
        self,
        payload: Mapping[str, Any],
        *,
        alg: str | None = None,
        kid: str | None = None,
        headers: Mapping[str, Any] | None = None,
    ) -> str:
        """Sign exactly `payload` (no defaults added) with the current key for `alg`."""
        key = self.key(alg)
        if kid is not None:
            key = _renamed(key, kid or None)
        return key.sign(payload, headers)

    # --- Serving ---------------------------------------------------------------------------------------------

    def transport(self) -> httpx.MockTransport:
        """An httpx transport that answers as this issuer would, without a server: for `http_client=`.

        >>> client = httpx.AsyncClient(transport=issuer.transport())
        >>> JWTMiddleware(app, ..., issuer=issuer.issuer, oidc_discovery=True, http_client=client)
        """

        def answer(request: httpx.Request) -> httpx.Response:
            path = request.url.path
            origin = f"{request.url.scheme}://{request.url.netloc.decode()}"
            if path.endswith(_DISCOVERY_SUFFIX):
                return _json_response(self.discovery(origin + path[: -len(_DISCOVERY_SUFFIX)]))
            if path == _JWKS_PATH or path.endswith(_JWKS_PATH):
                return _json_response(self.jwks())
            return httpx.Response(404, json={})

        return httpx.MockTransport(answer)

    def serve(self, *, port: int = 0) -> LocalServer:
        """A real HTTP server on 127.0.0.1 publishing this issuer; use it as a context manager (sync or async).

        `port=0` picks a free port; a fixed one suits a demo whose URLs are printed.

        >>> async with issuer.serve() as server:
        ...     app.add_middleware(JWTMiddleware, ..., issuer=issuer.issuer, oidc_discovery=True)
        """
        return LocalServer(self, port=port)


_SHARED_KEYS: dict[str, IssuerKey] = {}  # for reuse_keys=True: RSA (for RS* and PS*), or the alg itself


def _shared_key(alg: str) -> IssuerKey:
    family = "RSA" if alg[:2] in ("RS", "PS") else alg
    shared = _SHARED_KEYS.get(family)
    if shared is None:
        shared = _SHARED_KEYS[family] = make_key(alg)
    return shared.with_alg(alg)


def _shares_rsa(a: str, b: str) -> bool:
    return a[:2] in ("RS", "PS") and b[:2] in ("RS", "PS")


def _renamed(key: IssuerKey, kid: str | None) -> IssuerKey:
    return IssuerKey(key.alg, kid, key.private, key.public)


def _json_response(document: object) -> httpx.Response:
    return httpx.Response(200, content=json.dumps(document).encode(), headers={"content-type": "application/json"})
