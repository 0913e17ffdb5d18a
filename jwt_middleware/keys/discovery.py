"""OIDC discovery (OpenID Connect Discovery 1.0 section 4): where an issuer publishes its keys.

The document at `{issuer}/.well-known/openid-configuration` is trusted only if its `issuer` is exactly the one
configured (section 4.3), and its `jwks_uri` only if it passes the same https rules as a configured `jwks_url`.
It is fetched before the first JWKS and again whenever its own interval (Cache-Control `max-age`, clamped, else
`jwks_refresh_interval`) has passed; when it cannot be fetched or is refused, the last good `jwks_uri` is kept.
"""

from __future__ import annotations

import logging
import math
import time

import httpx

from ..errors import FetchError
from .fetch import JWKSOptions, fetch_json, redact, refresh_interval, url_problem

__all__ = ["Discovery", "discovery_url"]

logger = logging.getLogger("jwt_middleware")


def discovery_url(issuer: str) -> str:
    """Where `issuer` publishes its configuration: section 4 appends the path after removing a trailing slash."""
    return issuer.rstrip("/") + "/.well-known/openid-configuration"


class Discovery:
    """The `jwks_uri` of one issuer, looked up through its discovery document and kept through outages.

    >>> Discovery("https://login.example.com/").url
    'https://login.example.com/.well-known/openid-configuration'
    """

    def __init__(self, issuer: str, *, allow_insecure_http: bool = False) -> None:
        self.issuer = issuer
        self.url = discovery_url(issuer)
        self._allow_insecure_http = allow_insecure_http
        self._jwks_uri: str | None = None
        self._due = -math.inf

    async def jwks_uri(self, client: httpx.AsyncClient, options: JWKSOptions) -> str:
        """The JWKS URL to fetch now: from a fresh document if one is due, else the last one accepted."""
        if self._jwks_uri is not None and time.monotonic() < self._due:
            return self._jwks_uri
        try:
            fetched = await fetch_json(client, self.url, options)
            jwks_uri = self._accept(fetched.document)
        except FetchError as exc:
            if self._jwks_uri is None:
                raise FetchError(f"OIDC discovery at {redact(self.url)} failed: {exc}") from exc
            logger.warning(
                "OIDC discovery at %s failed: %s; keeping jwks_uri %s",
                redact(self.url),
                exc,
                redact(self._jwks_uri),
            )
            return self._jwks_uri
        if jwks_uri != self._jwks_uri:
            logger.info("OIDC discovery at %s names jwks_uri %s", redact(self.url), redact(jwks_uri))
        self._jwks_uri = jwks_uri
        self._due = time.monotonic() + refresh_interval(fetched.max_age, options)
        return jwks_uri

    def _accept(self, document: object) -> str:
        if not isinstance(document, dict):
            raise FetchError("the discovery document is not a JSON object")
        issuer = document.get("issuer")
        if issuer != self.issuer:
            # Section 4.3: a document for another issuer could point at keys that issuer controls.
            shown = repr(issuer[:200]) if isinstance(issuer, str) else "no string"
            logger.error(
                "OIDC discovery at %s names issuer %s, not the configured %r; refused",
                redact(self.url),
                shown,
                self.issuer,
            )
            raise FetchError("the discovery document is for another issuer")
        jwks_uri = document.get("jwks_uri")
        problem = url_problem(jwks_uri, allow_insecure_http=self._allow_insecure_http)
        if problem is not None or not isinstance(jwks_uri, str):
            raise FetchError(f"the discovery document's jwks_uri {problem}")
        return jwks_uri
