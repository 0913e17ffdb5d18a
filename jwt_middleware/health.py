"""Can the middleware verify a token right now? Per provider: keys present, their age, the last fetch's result.

For a readiness probe. The middleware publishes itself in the lifespan state (`request.state.jwt_middleware`), so
an exempt endpoint can ask it without holding the instance that `app.add_middleware` builds:

>>> app = Starlette(routes=[Route("/ready", readiness)])
>>> app.add_middleware(JWTMiddleware, ..., exempt=["GET /ready"])

and, in the Deployment:

    readinessProbe:
      httpGet: {path: /ready, port: 8000}
      periodSeconds: 5
      failureThreshold: 3

Ready means every provider has usable keys: fresh, or stale within `jwks_max_stale`. An identity provider that
is down does not make a pod unready while its last keys still serve, so an outage of the provider does not take
every pod out of the load balancer at once; it is reported (`last_fetch`, `staleness`) all the same.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from .errors import KeysUnavailable
from .keys import KeySource
from .keys.events import KeyStatus
from .keys.jwks import JWKSKeys
from .keys.static import StaticKeys

__all__ = ["Health", "ProviderHealth", "health_of", "readiness"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ProviderHealth:
    """One provider: `provider` is its label (the issuer, or its index when the issuer is not checked).

    `source` is "static" (keys in code: always usable) or "jwks"; the other fields are `KeyStatus`'s.
    """

    provider: str
    source: str
    keys: int
    usable: bool
    age: float | None
    staleness: float
    last_fetch: str | None
    last_problem: str | None

    @classmethod
    def of(cls, provider: str, source: str, status: KeyStatus) -> ProviderHealth:
        return cls(provider=provider, source=source, **asdict(status))


@dataclass(frozen=True, slots=True)
class Health:
    """The middleware's health: `ready` when every provider can verify now.

    >>> health = middleware.health()
    >>> health.ready, [p.age for p in health.providers]
    """

    providers: tuple[ProviderHealth, ...]

    @property
    def ready(self) -> bool:
        return all(provider.usable for provider in self.providers)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready view, for a readiness endpoint: no key material, no URLs with credentials."""
        return {"ready": self.ready, "providers": [asdict(provider) for provider in self.providers]}


def health_of(provider: str, source: KeySource) -> ProviderHealth:
    """The health of one provider's key source (a source of your own is asked for its current keys)."""
    if isinstance(source, JWKSKeys):
        return ProviderHealth.of(provider, "jwks", source.status())
    try:
        keys = len(source.current())
    except KeysUnavailable:
        keys = -1
    kind = "static" if isinstance(source, StaticKeys) else type(source).__name__
    status = KeyStatus(keys=max(keys, 0), usable=keys >= 0, age=None, staleness=0.0, last_fetch=None, last_problem=None)
    return ProviderHealth.of(provider, kind, status)


async def readiness(request: Request) -> JSONResponse:
    """A readiness endpoint: 200 with the health when ready, 503 when not (or when no middleware is found).

    Mount it on an exempt path. It finds the middleware through the lifespan state, so the server must run the
    lifespan (uvicorn and hypercorn do by default).
    """
    middleware = getattr(request.state, "jwt_middleware", None)
    if middleware is None:
        return JSONResponse({"ready": False, "providers": [], "problem": "no JWTMiddleware lifespan"}, status_code=503)
    health: Health = middleware.health()
    return JSONResponse(health.as_dict(), status_code=200 if health.ready else 503)
