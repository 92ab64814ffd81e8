"""What every CTI link shares: one live connection to a PBX, or to a primary and its standby.

`ReconnectingLink` keeps connecting: a lost connection fails over to the other address at once
when there are two, a peer that keeps failing gets exponential backoff with jitter (never a
busy loop), and `prefer(i)` moves to an address on demand (0: back to the primary). Each link
module implements `_serve(url)`: connect, call `_connected()` once the PBX is usable, put
events in with `emit()`, a `Snapshot` after every connect, and return or raise when the
connection ends. Requests waiting for answers are failed when it does.

Which devices a link monitors: the roster's (handed in with `monitor()`, and again whenever
the roster changes) plus the URL's optional `devices=` extras (`self.extras`). The set is kept
here, so every reconnect and failover monitors it; a link applies a change to its live
connection in `_monitor_live()`. Before the first `monitor()` a link monitors its extras only
(the doctor, a test, a link used on its own).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import AsyncIterator
from typing import Any

from proxy.errors import LinkUnavailable
from proxy.seams import BackgroundLoop, Resource
from softphone.events import LinkEvent

log = logging.getLogger(__name__)
BACKOFF_FIRST, BACKOFF_CAP = 0.05, 5.0
_CLOSED = object()


class ReconnectingLink(Resource):
    # A connection that lived this long was working: its loss is a failover, not a flap.
    stable_seconds = 2.5
    kind = "link"

    def __init__(self, urls: list[str]) -> None:
        super().__init__()
        if not urls:
            raise ValueError(f"a {self.kind} needs at least one address")
        self.urls = urls
        self._index = 0
        self._events: asyncio.Queue[LinkEvent | object] = asyncio.Queue()
        self._pending: dict[Any, asyncio.Future[Any]] = {}
        # The loop's step is the whole reconnect policy (`_run`: failover, jittered backoff,
        # `prefer()`), which never returns and logs its own failures: the loop adds only the
        # task's start and stop, and a log should `_run` itself ever break.
        self._loop = BackgroundLoop(f"{self.kind} {urls[0]}", self._run, log=log)
        self._switch = asyncio.Event()
        self._up = False
        self.reconnects = 0
        self.failovers = 0
        self.connected_at = 0.0
        self.extras: frozenset[str] = frozenset()  # the URL's `devices=`
        self.roster: frozenset[str] | None = None  # None: never told
        # One change at a time on the wire, and none while a connect sets up its monitors.
        self.monitoring = asyncio.Lock()
        self._said_none = False

    @property
    def devices(self) -> frozenset[str]:
        """The devices this link monitors: the roster's and the extras."""
        return (self.roster or frozenset()) | self.extras

    @property
    def watched(self) -> frozenset[str]:
        """The devices the PBX monitors for this connection (a link whose PBX answers each
        monitor request says which it accepted); none while disconnected."""
        return self.devices if self._up else frozenset()

    async def monitor(self, devices: frozenset[str]) -> None:
        """Monitor exactly `devices` (and the extras) from now on, on this connection and every
        later one. A connection lost meanwhile is no error: the next connect monitors them."""
        self.roster = frozenset(d for d in devices if d)
        if not self.devices:
            if not self._said_none:  # once, not on every roster poll
                log.warning("%s monitors no devices: the roster has no extensions", self.kind)
            self._said_none = True
        else:
            self._said_none = False
        try:
            async with self.monitoring:
                if self._up:  # else the next connect monitors them (it takes the lock first)
                    await self._monitor_live()
        except (LinkUnavailable, ConnectionError, TimeoutError) as exc:
            log.info("%s: monitors changed at the next connect (%s)", self.kind, exc)

    async def _monitor_live(self) -> None:
        """Bring the live connection's monitors to `self.devices` (the lock is held)."""
        raise NotImplementedError

    def _reconnect(self) -> None:
        """Drop the connection and connect again at once, to the same address."""
        self._switch.set()

    @property
    def connected(self) -> bool:
        return self._up

    @property
    def active_url(self) -> str:
        return self.urls[self._index]

    async def start(self) -> None:
        await self._loop.start()

    async def aclose(self) -> None:
        await self._loop.aclose()
        self._events.put_nowait(_CLOSED)

    def prefer(self, index: int) -> None:
        """Move to address `index` now (0: back to the primary), dropping the current one."""
        if index != self._index:
            self._index = index % len(self.urls)
            self._switch.set()

    async def events(self) -> AsyncIterator[LinkEvent]:
        while True:
            item = await self._events.get()
            if item is _CLOSED:
                return
            yield item  # type: ignore[misc]

    def emit(self, event: LinkEvent) -> None:
        self._events.put_nowait(event)

    def _connected(self, url: str, detail: str = "") -> None:
        self._up = True
        self.connected_at = time.monotonic()
        log.info("%s connected to %s%s", self.kind, url, f" ({detail})" if detail else "")

    async def _serve(self, url: str) -> None:
        """Connect to `url` and serve the connection until it ends (return or raise)."""
        raise NotImplementedError

    async def _until_switch(self, *work: asyncio.Task[Any]) -> None:
        """Run a connection's tasks until one ends (its error re-raised) or `prefer()` moves."""
        switch = asyncio.create_task(self._switch.wait())
        try:
            done, _ = await asyncio.wait({*work, switch}, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task is not switch:
                    task.result()
        finally:
            for task in (*work, switch):
                task.cancel()
            for task in (*work, switch):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def _run(self) -> None:
        delay = BACKOFF_FIRST
        tried = 0
        while True:
            url = self.active_url
            self.connected_at = 0.0
            self._switch.clear()  # a move asked for before this connect is this connect
            try:
                await self._serve(url)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure means: another address, or wait and retry
                level = logging.WARNING if tried == 0 else logging.INFO
                log.log(level, "%s %s: %s", self.kind, url, str(exc) or type(exc).__name__)
            finally:
                self._up = False
                self._fail_pending()
            if self._switch.is_set():  # told to move (prefer): go there now
                self._switch.clear()
                tried = 0
                continue
            self.reconnects += 1
            was_connected = self.connected_at > 0
            # Working means it lasted: a peer that drops right after connecting is flapping,
            # and flapping gets backoff, not an endless fast loop.
            lasted = was_connected and time.monotonic() - self.connected_at >= self.stable_seconds
            if len(self.urls) > 1:
                self._index = (self._index + 1) % len(self.urls)
                if was_connected:  # the other address gets its chance at once
                    self.failovers += 1
                    log.warning("%s failing over to %s", self.kind, self.active_url)
            if lasted:
                tried, delay = 0, BACKOFF_FIRST
                continue
            tried += 1
            if tried < len(self.urls):
                continue
            tried = 0
            with contextlib.suppress(TimeoutError):  # a prefer() during the wait goes at once
                await asyncio.wait_for(self._switch.wait(), delay * random.uniform(0.5, 1.0))
            delay = min(delay * 2, BACKOFF_CAP)

    def _fail_pending(self) -> None:
        for future in self._pending.values():
            if not future.done():
                future.set_exception(LinkUnavailable("The phone system connection was lost"))
        self._pending.clear()
