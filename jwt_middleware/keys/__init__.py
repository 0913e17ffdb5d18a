"""Where verification keys come from: `static` (given in code), `jwks` (fetched and refreshed), `discovery` (OIDC).

Every source hands the verifier an immutable `KeySet` snapshot; the verifier never does I/O itself, except to
ask a source for the one rate-limited refresh an unknown `kid` allows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from anyio.abc import TaskGroup

from .keyset import KeySet, PreparedKey, keys_from_jwks, keys_from_material

__all__ = ["KeySet", "KeySource", "PreparedKey", "keys_from_jwks", "keys_from_material"]


class KeySource(Protocol):
    """A provider's keys: a snapshot now, and (for remote sources) a refresh when a token names a new `kid`."""

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

    async def start(self, task_group: TaskGroup) -> None:
        """Fetch the first keys and start refreshing them in `task_group`; called from the ASGI lifespan."""
        ...

    async def aclose(self) -> None:
        """Stop refreshing and release connections."""
        ...
