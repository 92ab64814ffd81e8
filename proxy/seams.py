"""The seams' shared machinery: implementations chosen by URL scheme, imported lazily; the
one shape every link, bus, store and server piece shares (`async with` opens and closes); and
the one supervised background loop they all run their work in.

A seam (CTI link, event bus, store, Salesforce) is a `typing.Protocol` in `<seam>/base.py`,
plus one module per implementation named in that seam's `SchemeRegistry`.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol, Self
from urllib.parse import urlsplit


class SchemeRegistry:
    """Maps the scheme of a seam's URL to the `module:attribute` that opens it."""

    def __init__(self, seam: str, setting: str, entries: Mapping[str, str]) -> None:
        self.seam = seam
        self.setting = setting
        self.entries = dict(entries)

    def scheme(self, url: str) -> str:
        scheme = urlsplit(url).scheme
        if scheme not in self.entries:
            known = ", ".join(f"{s}://" for s in sorted(self.entries))
            raise ValueError(
                f"{self.setting}={url!r}: unknown {self.seam} scheme {scheme!r}; known: {known}"
            )
        return scheme

    def load(self, url: str) -> Any:
        module_name, _, attribute = self.entries[self.scheme(url)].partition(":")
        return getattr(importlib.import_module(module_name), attribute)


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


class BackgroundLoop(Resource):
    """A named task that awaits `step()` again and again, and outlives the step's failures.

    A step that raises is logged with the loop's name, and the next one waits first: a backoff
    that doubles from `first_backoff` up to `max_backoff` (a step that succeeds resets it), cut
    short when `wake` is set. A step that raises `StopAsyncIteration` ends the loop: the stream
    it reads is over. Cancellation always goes through. Waits between good steps (a tick, a
    poll) are the step's own.
    """

    def __init__(
        self,
        name: str,
        step: Callable[[], Awaitable[object]],
        *,
        log: logging.Logger | None = None,
        first_backoff: float = 1.0,
        max_backoff: float = 60.0,
        wake: asyncio.Event | None = None,
    ) -> None:
        self.name = name
        self.step = step
        self.log = log or logging.getLogger(__name__)
        self.first_backoff = first_backoff
        self.max_backoff = max(max_backoff, first_backoff)
        self.wake = wake
        self.failures = 0  # in a row; 0 once a step succeeds
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        if not self.running:
            self._task = asyncio.create_task(self._run(), name=self.name)

    async def aclose(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def backoff(self) -> float:
        """Seconds to wait after `failures` failed steps in a row."""
        return min(self.first_backoff * 2.0 ** max(self.failures - 1, 0), self.max_backoff)

    async def _run(self) -> None:
        while True:
            # CancelledError is not an Exception: it leaves the loop from wherever it is.
            try:
                await self.step()
            except StopAsyncIteration:
                return
            except Exception:
                self.failures += 1
                delay = self.backoff()
                self.log.exception("%s failed; retrying in %.3gs", self.name, delay)
                await self._pause(delay)
            else:
                self.failures = 0

    async def _pause(self, delay: float) -> None:
        if self.wake is None:
            await asyncio.sleep(delay)
            return
        self.wake.clear()  # a wake from before the failure is the failed step's own
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.wake.wait(), delay)
