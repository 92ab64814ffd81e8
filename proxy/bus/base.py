"""The event bus seam: fans each agent's events out to every socket of that agent.

Two shapes: `EventBus` is what the application sees (publish to an agent, subscribe to one);
`Broadcast` (bus/broadcast.py) is its one implementation and keeps the subscribers and the
slow-consumer policy. Under it, a `BusBackend` only moves messages on named channels, in one
process (`memory://`) or between processes (a broker).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from proxy.errors import ProxyError
from proxy.seams import AsyncResource

Message = dict[str, Any]
# The facade's inbox: a backend calls it with each message it receives on a channel.
Deliver = Callable[[str, Message], None]


class SlowConsumer(ProxyError):
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


class BusBackend(AsyncResource, Protocol):
    """Moves messages on channels and hands each one received to `deliver` (given when it is
    made: `Backend(url, deliver)`). It keeps no subscribers and drops nothing: that is the
    facade's job, done once for every backend."""

    async def listen(self, channel: str) -> None:
        """Receive `channel`'s messages from now on (this process has a subscriber)."""
        ...

    async def unlisten(self, channel: str) -> None:
        """Stop receiving `channel`'s messages (its last subscriber here left)."""
        ...

    async def publish(self, channel: str, message: Message) -> None:
        """Send `message` to every process listening on `channel`, this one included."""
        ...
