"""Where verification keys come from: `static` (given in code), `jwks` (fetched and refreshed), `discovery` (OIDC).

    keyset.py    KeySet: an immutable snapshot of prepared keys, indexed for the request path
    loading.py   the one policy that turns key material (a secret, PEM, JWK, JWKS) into prepared keys
    algorithms.py  each JWS algorithm bound to the one key type it may use, and its signature check
    fetch.py     fetching a remote JSON document safely, and JWKSOptions
    static.py / jwks.py / discovery.py   the key sources

Every source hands the verifier an immutable `KeySet` snapshot; the verifier never does I/O itself, except to
ask a source for the one rate-limited refresh an unknown `kid` allows. `key_source()` builds the right one.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Protocol

import httpx
from anyio.abc import TaskGroup

from .discovery import Discovery
from .events import FetchResult
from .fetch import JWKSOptions
from .jwks import JWKSKeys
from .keyset import KeySet, PreparedKey
from .loading import keys_from_jwks, keys_from_material
from .static import StaticKeys

__all__ = ["JWKSOptions", "KeySet", "KeySource", "PreparedKey", "key_source", "keys_from_jwks", "keys_from_material"]


class KeySource(Protocol):
    """A provider's keys: a snapshot now, and (for remote sources) a refresh when a token names a new `kid`."""

    remote: bool  # whether the keys are fetched, and so may need refreshing (static keys never do)

    def current(self) -> KeySet:
        """The keys to verify with now; raises `KeysUnavailable` when there are none yet."""
        ...

    def may_refresh_for_unknown_kid(self) -> bool:
        """Whether `refresh_for_unknown_kid` could fetch now (one is in flight, or the cooldown has passed)."""
        ...

    async def refresh_for_unknown_kid(self) -> KeySet | None:
        """A newer snapshot if a refresh was allowed and brought one, else None (no waiting on a cooldown)."""
        ...

    def on_new_keys(self, listener: Callable[[KeySet], object]) -> None:
        """Call `listener` with every new snapshot, right after it replaces the old one."""
        ...

    def on_fetch(self, listener: Callable[[FetchResult], object]) -> None:
        """Call `listener` with the result of every fetch (for metrics); a source that never fetches never calls."""
        ...

    async def start(self, task_group: TaskGroup) -> None:
        """Fetch the first keys and start refreshing them in `task_group`; called from the ASGI lifespan."""
        ...

    def refresh_due(self) -> bool:
        """Whether a request must call `refresh_if_due()`: only when no lifespan started the source."""
        ...

    async def refresh_if_due(self) -> None:
        """Without a lifespan: fetch if the keys are missing or due (see `jwks.JWKSKeys`)."""
        ...

    async def aclose(self) -> None:
        """Stop refreshing and release connections."""
        ...


def key_source(
    *,
    key: object,
    jwks_url: str | None,
    discovery_issuer: str | None,
    algorithms: Collection[str],
    options: JWKSOptions,
    http_client: httpx.AsyncClient | None,
) -> KeySource:
    """The source for one provider: exactly one of `key`, `jwks_url` and `discovery_issuer` is set (settings
    checked it)."""
    if key is not None:
        return StaticKeys(key, algorithms)
    discovery = None
    if discovery_issuer is not None:
        discovery = Discovery(discovery_issuer, allow_insecure_http=options.allow_insecure_http)
    return JWKSKeys(jwks_url, algorithms=algorithms, options=options, discovery=discovery, http_client=http_client)
