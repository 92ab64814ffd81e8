"""The bus facade: subscribers per agent, the slow-consumer policy and the wire schema, kept
once for every backend (as encode/broadcaster's `Broadcast` does).

The facade encodes each published message once (bus/wire.py) and decodes each payload a
backend receives once, whatever the number of sockets; it fans the event out to that channel's
subscriptions in this process. A backend only publishes, keeps and receives bytes. The facade
asks the backend to listen on a channel while the channel has a subscriber here, so a broker
sends this process only what it needs.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager

from proxy.bus import wire
from proxy.bus.base import BusBackend, Deliver, Event, Numbered, Sink, SlowConsumer
from proxy.seams import Resource

# Slow-consumer policy: a socket may be this many messages behind; past that it is told to
# resync (the socket closes with 1013 and the page reconnects to a fresh snapshot).
QUEUE_LIMIT = 256
_OVERFLOW = Event(-1, "")


class _Subscription:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.queue: asyncio.Queue[Event] = asyncio.Queue(limit + 1)

    def offer(self, event: Event) -> None:
        # Never blocks the publisher: past the limit one overflow marker is queued and the
        # rest dropped; the reader raises SlowConsumer when it reaches the marker.
        if self.queue.qsize() >= self.limit:
            if self.queue.qsize() == self.limit:
                self.queue.put_nowait(_OVERFLOW)
            return
        self.queue.put_nowait(event)

    async def __aiter__(self) -> AsyncIterator[Event]:
        while True:
            event = await self.queue.get()
            if event is _OVERFLOW:
                raise SlowConsumer(f"more than {self.limit} events behind")
            yield event


class Broadcast(Resource):
    """The `EventBus` over any `BusBackend`; `connect(deliver)` makes the backend."""

    def __init__(
        self, connect: Callable[[Deliver], BusBackend], *, queue_limit: int = QUEUE_LIMIT
    ) -> None:
        self.backend = connect(self._deliver)
        self.queue_limit = queue_limit
        self._subscribers: dict[str, set[Sink]] = {}
        self._listening: set[str] = set()
        self._listen_lock = asyncio.Lock()  # one listen/unlisten at a time, in order
        self._stack = AsyncExitStack()

    async def start(self) -> None:
        await self._stack.enter_async_context(self.backend)

    async def aclose(self) -> None:
        self._subscribers.clear()
        self._listening.clear()
        await self._stack.aclose()

    async def publish(self, agent: str, message: Numbered) -> None:
        seq = message.seq
        await self.backend.publish(agent, seq, wire.encode(seq, message.model_dump_json()))

    @asynccontextmanager
    async def subscribe(self, agent: str) -> AsyncIterator[_Subscription]:
        subscription = _Subscription(self.queue_limit)
        async with self.attach(agent, subscription.offer):
            yield subscription

    def attach(self, agent: str, sink: Sink) -> _Attached:
        return _Attached(self, agent, sink)

    async def _add(self, agent: str, sink: Sink) -> None:
        self._subscribers.setdefault(agent, set()).add(sink)
        await self._listen(agent)

    async def _remove(self, agent: str, sink: Sink) -> None:
        subscribers = self._subscribers.get(agent)
        if subscribers is not None:
            subscribers.discard(sink)
            if not subscribers:
                del self._subscribers[agent]
        await self._listen(agent)

    async def resume(self, agent: str, after: int) -> Sequence[Event] | None:
        last, payloads = await self.backend.history(agent, after)
        if after > last:
            return None  # a number this bus never gave (its history was lost): snapshot
        events = [e for e in (wire.decode(agent, p) for p in payloads) if e is not None]
        # Every number from after+1 to the last, each once: anything less is a gap.
        if [e.seq for e in events] != list(range(after + 1, last + 1)):
            return None
        return events

    async def last_seq(self, agent: str) -> int:
        return await self.backend.last_seq(agent)

    def _deliver(self, channel: str, payload: bytes) -> None:
        subscriptions = self._subscribers.get(channel)
        if not subscriptions:
            return
        event = wire.decode(channel, payload)
        if event is None:
            return
        for sink in subscriptions:
            sink(event)

    async def _listen(self, channel: str) -> None:
        # Brings the backend in line with the subscribers as they are now, so a subscribe and
        # an unsubscribe of the same channel racing each other end the way the last one left.
        async with self._listen_lock:
            wanted = channel in self._subscribers
            if wanted and channel not in self._listening:
                await self.backend.listen(channel)
                self._listening.add(channel)
            elif not wanted and channel in self._listening:
                await self.backend.unlisten(channel)
                self._listening.discard(channel)


class _Attached:
    """`Broadcast.attach`'s context: a small object, not a suspended generator, as it is held
    by every open socket (issue 16)."""

    __slots__ = ("agent", "bus", "sink")

    def __init__(self, bus: Broadcast, agent: str, sink: Sink) -> None:
        self.bus = bus
        self.agent = agent
        self.sink = sink

    async def __aenter__(self) -> None:
        # Added before the listen is awaited, as a subscription always was: nothing delivered
        # meanwhile is missed. Should the listen fail, the sink is taken off again.
        try:
            await self.bus._add(self.agent, self.sink)
        except BaseException:
            await self.bus._remove(self.agent, self.sink)
            raise

    async def __aexit__(self, *exc: object) -> None:
        await self.bus._remove(self.agent, self.sink)
