"""`memory://`: the in-process bus, for a single proxy process."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from proxy.bus.base import Message, SlowConsumer
from proxy.seams import Resource

# Slow-consumer policy: a socket may be this many messages behind; past that it is told to
# resync (the socket closes with 1013 and the page reconnects to a fresh snapshot).
QUEUE_LIMIT = 256
_OVERFLOW: Message = {"type": "__overflow__"}


class _MemorySubscription:
    def __init__(self) -> None:
        self.queue: asyncio.Queue[Message] = asyncio.Queue(QUEUE_LIMIT + 1)

    def offer(self, message: Message) -> None:
        if self.queue.qsize() >= QUEUE_LIMIT:
            if self.queue.qsize() == QUEUE_LIMIT:
                self.queue.put_nowait(_OVERFLOW)
            return
        self.queue.put_nowait(message)

    async def __aiter__(self) -> AsyncIterator[Message]:
        while True:
            message = await self.queue.get()
            if message is _OVERFLOW:
                raise SlowConsumer(f"more than {QUEUE_LIMIT} events behind")
            yield message


class MemoryBus(Resource):
    def __init__(self, url: str = "memory://") -> None:
        self._subscribers: dict[str, set[_MemorySubscription]] = {}

    async def aclose(self) -> None:
        self._subscribers.clear()

    async def publish(self, agent: str, message: Message) -> None:
        for subscription in self._subscribers.get(agent, ()):
            subscription.offer(message)

    @asynccontextmanager
    async def subscribe(self, agent: str) -> AsyncIterator[_MemorySubscription]:
        subscription = _MemorySubscription()
        self._subscribers.setdefault(agent, set()).add(subscription)
        try:
            yield subscription
        finally:
            subscribers = self._subscribers.get(agent)
            if subscribers is not None:
                subscribers.discard(subscription)
                if not subscribers:
                    del self._subscribers[agent]
