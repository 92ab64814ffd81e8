"""The event bus seam: fans each agent's events out to every socket of that agent."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from proxy.seams import AsyncResource

Message = dict[str, Any]


class SlowConsumer(Exception):
    """A subscriber fell so far behind that events were dropped for it; it must resync."""


class Subscription(Protocol):
    """An agent's event stream for one socket; raises `SlowConsumer` once it overflowed."""

    def __aiter__(self) -> AsyncIterator[Message]: ...


class EventBus(AsyncResource, Protocol):
    async def publish(self, agent: str, message: Message) -> None:
        """Deliver `message` to every current subscriber of `agent`."""
        ...

    def subscribe(self, agent: str) -> AbstractAsyncContextManager[Subscription]:
        """Receive `agent`'s messages published from now on, until the context exits."""
        ...
