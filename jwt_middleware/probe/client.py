"""A polite HTTP client: a request rate, a request budget, timeouts, a User-Agent, and only the allowed hosts.

Redirects are never followed (a 302 to a login page is an answer to judge, and following it could leave the
allowed hosts), and every request goes through `send`, so the budget and the host list cannot be bypassed.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass

import anyio
import httpx

from jwt_middleware import __version__

__all__ = ["USER_AGENT", "Answer", "BudgetExhausted", "ForbiddenHost", "PoliteClient", "RateLimiter", "origin_of"]

USER_AGENT = f"jwt-probe/{__version__} (JWT validation audit, jwt_middleware)"
# Enough of a refusal to find echoed text in; a larger body is not read further.
MAX_BODY = 64 * 1024


class BudgetExhausted(Exception):
    """`--max-requests` requests were sent; the run stops where it is."""


class ForbiddenHost(Exception):
    """A request would go to a host other than the target's or the key URL's."""


@dataclass(frozen=True, slots=True)
class Answer:
    """What came back: the status, the headers (names lower-cased) and the start of the body."""

    status: int
    headers: Mapping[str, str]
    body: str


def origin_of(url: str | httpx.URL) -> tuple[str, str, int]:
    """(scheme, host, port) of `url`, the unit the host allow-list is made of."""
    parsed = httpx.URL(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    return parsed.scheme, parsed.host, port


class RateLimiter:
    """At most `rate` calls to `wait()` a second (evenly spaced); `rate <= 0` means no limit.

    The clock and sleep are parameters so the spacing can be tested without waiting.
    """

    def __init__(
        self,
        rate: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        self._interval = 1.0 / rate if rate > 0 else 0.0
        self._clock = clock
        self._sleep = sleep
        self._next: float | None = None

    async def wait(self) -> None:
        now = self._clock()
        if self._next is not None and now < self._next:
            await self._sleep(self._next - now)
            now = self._next
        self._next = now + self._interval


class PoliteClient:
    """Sends the probe's requests: rate-limited, counted, timed out, to allowed origins only, no redirects."""

    def __init__(
        self,
        *,
        allowed: Iterable[str],
        rate: float,
        max_requests: int,
        timeout: float,
        extra_headers: Mapping[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        self._allowed = {origin_of(url) for url in allowed}
        self._limiter = limiter or RateLimiter(rate)
        self._max_requests = max_requests
        self.sent = 0
        self.failures = 0  # requests that got no answer (timeout, connection refused or reset)
        self._client = httpx.AsyncClient(
            headers={"User-Agent": USER_AGENT, **(extra_headers or {})},
            timeout=httpx.Timeout(timeout),
            follow_redirects=False,
            transport=transport,
            trust_env=False,  # a proxy from the environment would be another host
        )

    async def __aenter__(self) -> PoliteClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._client.aclose()

    async def send(self, method: str, url: str, *, token: str | None = None) -> Answer | None:
        """One request with `token` as a bearer token (none if None); None when no answer came."""
        if origin_of(url) not in self._allowed:
            raise ForbiddenHost(f"refusing to send a request to {httpx.URL(url).host}: not the target or key host")
        if self.sent >= self._max_requests:
            raise BudgetExhausted
        await self._limiter.wait()
        self.sent += 1
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        try:
            async with self._client.stream(method, url, headers=headers) as response:
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) >= MAX_BODY:
                        break
        except httpx.HTTPError:
            self.failures += 1
            return None
        return Answer(
            response.status_code,
            {name.lower(): value for name, value in response.headers.items()},
            bytes(body[:MAX_BODY]).decode("utf-8", "replace"),
        )
