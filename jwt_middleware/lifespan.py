"""The ASGI lifespan around the app's own: key sources start at startup and stop at shutdown.

`asgi_lifespan.LifespanManager` is the model: one object per lifespan, wrapping `receive` so that the app's
startup and shutdown messages also start and stop the key sources. An app without lifespan support (it raises or
returns before reading `lifespan.startup`) still gets keys: this object then speaks the protocol itself.
"""

from __future__ import annotations

from collections.abc import Sequence

import anyio
from anyio.abc import TaskGroup
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import StartupError
from .keys import KeySource

__all__ = ["KeysLifespan"]


class KeysLifespan:
    """Runs one lifespan of `app` with `sources` started inside it.

    >>> await KeysLifespan(app, sources, receive, send).run(scope)
    """

    def __init__(self, app: ASGIApp, sources: Sequence[KeySource], receive: Receive, send: Send) -> None:
        self._app = app
        self._sources = sources
        self._receive = receive
        self._send = send
        self._started = False  # the app read lifespan.startup, so it speaks the protocol itself
        self._startup_error: StartupError | None = None
        self._task_group: TaskGroup | None = None

    async def run(self, scope: Scope) -> None:
        app_error: Exception | None = None
        async with anyio.create_task_group() as self._task_group:
            try:
                await self._run_app(scope)
            except Exception as exc:  # re-raised below, outside the task group, so it is not wrapped in a group
                app_error = exc
            finally:
                self._task_group.cancel_scope.cancel()
                with anyio.CancelScope(shield=True):
                    await self._stop_sources()
        if self._startup_error is not None:
            raise self._startup_error from None  # the server reports our message, whatever the app made of it
        if app_error is not None:
            raise app_error

    async def _run_app(self, scope: Scope) -> None:
        try:
            await self._app(scope, self._receive_and_act, self._send)
        except Exception:
            if self._started:
                raise
        if not self._started:  # the app has no lifespan support: answer the protocol ourselves
            await self._own_lifespan()

    async def _receive_and_act(self) -> Message:
        message = await self._receive()
        if message["type"] == "lifespan.startup":
            self._started = True
            await self._start_sources()
        else:  # lifespan.shutdown, the only other message of the protocol
            await self._stop_sources()
        return message

    async def _start_sources(self) -> None:
        assert self._task_group is not None  # set by run() before the app runs
        try:
            for source in self._sources:
                await source.start(self._task_group)
        except StartupError as exc:  # jwks_required_at_startup=True, and no keys came
            # Raised from receive(), where an app (Starlette's router among them) does not expect a failure to
            # answer: the startup failure is reported here, then raised.
            self._startup_error = exc
            await self._send({"type": "lifespan.startup.failed", "message": str(exc)})
            raise

    async def _own_lifespan(self) -> None:
        while (await self._receive_and_act())["type"] == "lifespan.startup":
            await self._send({"type": "lifespan.startup.complete"})
        await self._send({"type": "lifespan.shutdown.complete"})  # lifespan.shutdown: the only other message

    async def _stop_sources(self) -> None:
        for source in self._sources:
            await source.aclose()
