"""The event bus seam: fans each agent's events out to every socket of that agent.

Two shapes: `EventBus` is what the application sees (publish an agent's numbered message,
subscribe to an agent, resume an agent's stream after a sequence number); `Broadcast`
(bus/broadcast.py) is its one implementation and keeps the subscribers, the slow-consumer
policy and the wire schema (bus/wire.py). Under it, a `BusBackend` only moves and keeps bytes on
named channels, in one process (`memory://`) or between processes (`redis://`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol

from proxy.errors import ProxyError
from proxy.seams import AsyncResource

# The facade's inbox: a backend calls it with each payload it receives on a channel.
Deliver = Callable[[str, bytes], None]


class SlowConsumer(ProxyError):
    """A subscriber fell so far behind that events were dropped for it; it must resync."""


class StaleSequence(ProxyError):
    """A message's sequence number is not after the agent's last one: it was already
    published (by this node, or by another that also believes it produces this agent's events)."""


@dataclass(frozen=True, slots=True)
class Event:
    """One of an agent's messages as every socket sends it: encoded once, where published."""

    seq: int
    text: str


# Where an attached socket takes its agent's events (`EventBus.attach`).
Sink = Callable[[Event], None]


class Numbered(Protocol):
    """A message to an agent's pages (softphone.messages.to_page): numbered, and JSON itself."""

    @property
    def seq(self) -> int: ...

    def model_dump_json(self) -> str: ...


class Subscription(Protocol):
    """An agent's event stream for one socket; raises `SlowConsumer` once it overflowed."""

    def __aiter__(self) -> AsyncIterator[Event]: ...


class EventBus(AsyncResource, Protocol):
    async def publish(self, agent: str, message: Numbered) -> None:
        """Deliver `message` to every current subscriber of `agent`, on every node; raises
        `StaleSequence` if its number is not after the agent's last one."""
        ...

    def subscribe(self, agent: str) -> AbstractAsyncContextManager[Subscription]:
        """Receive `agent`'s messages published from now on, until the context exits."""
        ...

    def attach(self, agent: str, sink: Sink) -> AbstractAsyncContextManager[None]:
        """Hand `agent`'s messages published from now on to `sink` as each arrives, in order,
        until the context exits: a subscription without a queue or a task of its own. `sink`
        runs inside the delivery, so it must neither block nor raise, and it bounds what it
        keeps itself (the slow-consumer policy is its own)."""
        ...

    async def resume(self, agent: str, after: int) -> Sequence[Event] | None:
        """The agent's events numbered after `after`, in order, for a page that saw `after`
        last; None when the kept history no longer reaches back to it (send a snapshot)."""
        ...

    async def last_seq(self, agent: str) -> int:
        """The number of the agent's last message published on this bus, by any node."""
        ...


class BusBackend(AsyncResource, Protocol):
    """Moves payloads on channels and hands each one received to `deliver` (given when it is
    made: `Backend(url, deliver)`), and keeps each channel's last few for a resume. It keeps
    no subscribers, reads no payload and drops nothing: that is the facade's job, done once
    for every backend."""

    async def listen(self, channel: str) -> None:
        """Receive `channel`'s payloads published from now on (this process has a subscriber)."""
        ...

    async def unlisten(self, channel: str) -> None:
        """Stop receiving `channel`'s payloads (its last subscriber here left)."""
        ...

    async def publish(self, channel: str, seq: int, payload: bytes) -> None:
        """Send `payload` to every process listening on `channel`, this one included, in the
        order of `seq`; raises `StaleSequence` unless `seq` is above the channel's last."""
        ...

    async def last_seq(self, channel: str) -> int:
        """The seq of the channel's last payload published, 0 if none."""
        ...

    async def history(self, channel: str, after: int) -> tuple[int, list[bytes]]:
        """The channel's last seq, and the payloads kept with a seq above `after`, in order
        (the oldest may be gone: the facade checks the numbers)."""
        ...
