"""The one shape every link, bus, store and server piece shares: `async with` opens and closes."""

from __future__ import annotations

from typing import Protocol, Self


class AsyncResource(Protocol):
    """Anything the app factory opens at start and closes, in reverse order, at shutdown."""

    async def __aenter__(self) -> Self: ...

    async def __aexit__(self, *exc_info: object) -> None: ...


class Resource:
    """Base for our resources: `start()` on entering, `aclose()` on leaving, even on error.

    `aclose()` cancels and awaits whatever tasks the resource started; it must be safe to call
    twice.
    """

    async def start(self) -> None:
        """Acquire connections and start background tasks; nothing by default."""

    async def aclose(self) -> None:
        """Cancel and await background tasks and release connections; nothing by default."""

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
