"""Fetching remote JSON documents (a JWKS, an OIDC discovery document) safely, and the options that govern it.

What is refused: anything but a 200; redirects (never followed); answers slower than the timeout; bodies over
1 MiB (cut off while streaming); compressed bodies; non-JSON. Only `https://` URLs, or plain http to loopback.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpx

from ..errors import FetchError

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_INTERVAL",
    "Fetched",
    "JWKSOptions",
    "fetch_json",
    "new_client",
    "redact",
    "refresh_interval",
    "url_problem",
]

MAX_BODY_BYTES = 1024 * 1024  # a JWKS of a few dozen keys is a few KiB; anything near this is not one
MIN_INTERVAL = 60.0  # the floor for an interval taken from Cache-Control (lower only if refresh_interval is)
MAX_INTERVAL = 24 * 3600.0
_MAX_AGE = re.compile(r'(?:^|,)\s*max-age\s*=\s*"?(\d{1,10})"?\s*(?:,|$)', re.IGNORECASE)
_HEADERS = {"Accept": "application/jwk-set+json, application/json", "Accept-Encoding": "identity"}


@dataclass(frozen=True, slots=True, kw_only=True)
class JWKSOptions:
    """How remote keys (`jwks_url`, OIDC discovery) are fetched and kept; shared by every provider.

    >>> JWTMiddleware(app, ..., jwks_url=url, jwks=JWKSOptions(cooldown=60, max_stale=3600))

    cooldown: an unknown `kid` causes at most one fetch per this many seconds.
    refresh_interval: seconds between refreshes when the response has no `Cache-Control: max-age`.
    max_stale: seconds past their expiry that the last good keys keep serving while the endpoint fails.
    timeout: seconds for a whole fetch (connect, headers and body).
    required_at_startup: fail the lifespan startup when no keys can be fetched, instead of answering 503.
    allow_insecure_http: allow `http://` key URLs to hosts other than loopback.

    Each is also a keyword of its own, `jwks_cooldown=...` and so on, which wins over this object. The values are
    checked when the middleware is built (`ConfigurationError` names the one to fix).
    """

    cooldown: float = 30.0
    refresh_interval: float = 300.0
    max_stale: float = 24 * 3600.0
    timeout: float = 5.0
    required_at_startup: bool = False
    allow_insecure_http: bool = False

    @property
    def shortest_interval(self) -> float:
        """The floor for Cache-Control intervals, and the cap of the retry backoff."""
        return min(MIN_INTERVAL, self.refresh_interval)


@dataclass(frozen=True, slots=True)
class Fetched:
    """A JSON document as fetched: the parsed value, a digest of its bytes, and its `max-age` if it had one."""

    document: Any
    digest: bytes
    max_age: float | None


def url_problem(url: object, *, allow_insecure_http: bool) -> str | None:
    """Why `url` may not be fetched from, or None: https only, plain http for loopback hosts or when allowed."""
    if not isinstance(url, str) or not url:
        return "must be a URL string"
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return "is not a valid URL"
    if not host:
        return "must be an absolute URL with a host"
    if parts.username is not None or parts.password is not None:
        return "must not carry credentials"
    if parts.scheme == "https":
        return None
    if parts.scheme != "http":
        return "must be an https:// URL"
    if allow_insecure_http or _is_loopback(host):
        return None
    return "uses plain http to a host that is not loopback; use https://, or pass allow_insecure_http=True"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def redact(url: str) -> str:
    """The URL for a log line: without its query string, which could hold a secret."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def refresh_interval(max_age: float | None, options: JWKSOptions) -> float:
    """How long a fetched document is good for: its `max-age` clamped to sane bounds, else the configured default."""
    if max_age is None:
        return options.refresh_interval
    return min(max(max_age, options.shortest_interval), MAX_INTERVAL)


def _max_age(cache_control: str | None) -> float | None:
    if cache_control is None:
        return None
    match = _MAX_AGE.search(cache_control)
    return None if match is None else float(match.group(1))


def _reject_constant(name: str) -> Any:
    raise ValueError("NaN and Infinity are not JSON")


async def fetch_json(client: httpx.AsyncClient, url: str, options: JWKSOptions) -> Fetched:
    """GET a JSON document: 200 only, no redirects, within `options.timeout` seconds and `MAX_BODY_BYTES` in all."""
    timeout = options.timeout
    try:
        with anyio.fail_after(timeout):
            async with client.stream("GET", url, headers=_HEADERS, timeout=timeout, follow_redirects=False) as response:
                if response.status_code != 200:
                    if response.is_redirect:
                        raise FetchError(f"HTTP {response.status_code}: redirects are not followed")
                    raise FetchError(f"HTTP {response.status_code}")
                if response.headers.get("content-encoding", "identity").strip().lower() != "identity":
                    raise FetchError("the response is compressed although identity was asked for")
                length = response.headers.get("content-length", "")
                if length.isdigit() and int(length) > MAX_BODY_BYTES:
                    raise FetchError(f"the response is larger than {MAX_BODY_BYTES} bytes")
                body = bytearray()
                async for chunk in response.aiter_bytes():  # identity-encoded, as checked above
                    body += chunk
                    if len(body) > MAX_BODY_BYTES:
                        raise FetchError(f"the response is larger than {MAX_BODY_BYTES} bytes")
                max_age = _max_age(response.headers.get("cache-control"))
    except TimeoutError as exc:
        raise FetchError(f"no complete answer within {timeout:g} s") from exc
    except httpx.TimeoutException as exc:
        raise FetchError(f"no complete answer within {timeout:g} s") from exc
    except httpx.HTTPError as exc:
        raise FetchError(f"the request failed ({type(exc).__name__})") from exc
    try:
        document = json.loads(bytes(body), parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise FetchError("the response is not JSON") from exc
    return Fetched(document=document, digest=hashlib.sha256(body).digest(), max_age=max_age)


def new_client(timeout: float) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=timeout,
        follow_redirects=False,
        headers={"User-Agent": "jwt_middleware"},
        limits=httpx.Limits(max_connections=4, max_keepalive_connections=2),
    )
