"""Keys given in code (`key=`): prepared once at construction, never refreshed."""

from __future__ import annotations

from collections.abc import Callable, Collection

from anyio.abc import TaskGroup

from .events import FetchResult
from .keyset import KeySet
from .loading import keys_from_material
from .provenance import warn_if_test_keys

__all__ = ["StaticKeys"]


class StaticKeys:
    """A `KeySource` over fixed key material; unknown `kid`s are simply unknown."""

    remote = False

    def __init__(self, material: object, algorithms: Collection[str]) -> None:
        self._keys = keys_from_material(material, algorithms)
        warn_if_test_keys(self._keys, "key")  # a key from jwt_middleware.testing: fine in tests, never in production

    def current(self) -> KeySet:
        return self._keys

    def may_refresh_for_unknown_kid(self) -> bool:
        return False

    async def refresh_for_unknown_kid(self) -> KeySet | None:
        return None

    def on_new_keys(self, listener: Callable[[KeySet], object]) -> None:
        return None  # these keys never change

    def on_fetch(self, listener: Callable[[FetchResult], object]) -> None:
        return None  # nor are they ever fetched

    async def start(self, task_group: TaskGroup) -> None:
        return None

    def refresh_due(self) -> bool:
        return False

    async def refresh_if_due(self) -> None:
        return None

    async def aclose(self) -> None:
        return None
