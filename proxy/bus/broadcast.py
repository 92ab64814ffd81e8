"""The bus facade: subscribers per agent and the slow-consumer policy, kept once for every
backend (as encode/broadcaster's `Broadcast` does).

The facade fans a message received on a channel out to that channel's subscriptions in this
process; a backend only publishes and receives. It asks the backend to listen on a channel
while the channel has a subscriber here, so a broker sends this process only what it needs.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager

from proxy.bus.base import BusBackend, Deliver, Message, SlowConsumer
from proxy.seams import Resource

# Slow-consumer policy: a socket may be this many messages behind; past that it is told to
# resync (the socket closes with 1013 and the page reconnects to a fresh snapshot).
QUEUE_LIMIT = 256
_OVERFLOW: Message = {"type": "__overflow__"}


class _Subscription:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.queue: asyncio.Queue[Message] = asyncio.Queue(limit + 1)

    def offer(self, message: Message) -> None:
        # Never blocks the publisher: past the limit one overflow marker is queued and the
        # rest dropped; the reader raises SlowConsumer when it reaches the marker.
        if self.queue.qsize() >= self.limit:
            if self.queue.qsize() == self.limit:
                self.queue.put_nowait(_OVERFLOW)
            return
        self.queue.put_nowait(message)

    async def __aiter__(self) -> AsyncIterator[Message]:
        while True:
            message = await self.queue.get()
            if message is _OVERFLOW:
                raise SlowConsumer(f"more than {self.limit} events behind")
            yield message


class Broadcast(Resource):
    """The `EventBus` over any `BusBackend`; `connect(deliver)` makes the backend."""

    def __init__(
        self, connect: Callable[[Deliver], BusBackend], *, queue_limit: int = QUEUE_LIMIT
    ) -> None:
        self.backend = connect(self._deliver)
        self.queue_limit = queue_limit
        self._subscribers: dict[str, set[_Subscription]] = {}
        self._listening: set[str] = set()
        self._listen_lock = asyncio.Lock()  # one listen/unlisten at a time, in order
        self._stack = AsyncExitStack()

    async def start(self) -> None:
        await self._stack.enter_async_context(self.backend)

    async def aclose(self) -> None:
        self._subscribers.clear()
        self._listening.clear()
        await self._stack.aclose()

    async def publish(self, agent: str, message: Message) -> None:
        await self.backend.publish(agent, message)

    @asynccontextmanager
    async def subscribe(self, agent: str) -> AsyncIterator[_Subscription]:
        subscription = _Subscription(self.queue_limit)
        self._subscribers.setdefault(agent, set()).add(subscription)
        try:
            await self._listen(agent)
            yield subscription
        finally:
            subscribers = self._subscribers.get(agent)
            if subscribers is not None:
                subscribers.discard(subscription)
                if not subscribers:
                    del self._subscribers[agent]
            await self._listen(agent)

    def _deliver(self, channel: str, message: Message) -> None:
        for subscription in self._subscribers.get(channel, ()):
            subscription.offer(message)

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
