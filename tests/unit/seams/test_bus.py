"""The bus facade: fan-out per agent and the slow-consumer policy, over any backend."""

from __future__ import annotations

import pytest

from proxy.bus import Broadcast, Deliver, Message, SlowConsumer, open_bus
from proxy.bus.memory import MemoryBackend
from proxy.seams import Resource


class RecordingBackend(Resource):
    """A backend that moves messages like memory:// and records what it was asked to hear."""

    def __init__(self, url: str, deliver: Deliver) -> None:
        self.deliver = deliver
        self.calls: list[tuple[str, str]] = []
        self.published: list[tuple[str, Message]] = []

    async def listen(self, channel: str) -> None:
        self.calls.append(("listen", channel))

    async def unlisten(self, channel: str) -> None:
        self.calls.append(("unlisten", channel))

    async def publish(self, channel: str, message: Message) -> None:
        self.published.append((channel, message))
        self.deliver(channel, message)


def memory_bus(queue_limit: int = 256) -> Broadcast:
    return Broadcast(lambda deliver: MemoryBackend("memory://", deliver), queue_limit=queue_limit)


async def test_each_agent_s_messages_reach_every_socket_of_that_agent_only() -> None:
    """Two sockets of one agent both get its message, already queued when publish returns;
    another agent's socket gets nothing."""
    async with (
        memory_bus() as bus,
        bus.subscribe("a") as first,
        bus.subscribe("a") as second,
        bus.subscribe("b") as other,
    ):
        await bus.publish("a", {"seq": 1})
        assert (first.queue.qsize(), second.queue.qsize(), other.queue.qsize()) == (1, 1, 0)
        assert await anext(aiter(first)) == {"seq": 1}
        assert await anext(aiter(second)) == {"seq": 1}


async def test_a_socket_too_far_behind_is_told_to_resync() -> None:
    """Past the queue limit, the socket reads what was queued and then SlowConsumer; the
    publisher never waits, and other sockets are not affected."""
    async with memory_bus(queue_limit=3) as bus, bus.subscribe("a") as slow:
        async with bus.subscribe("a") as fast:
            reader = aiter(fast)
            for seq in range(1, 6):
                await bus.publish("a", {"seq": seq})
                assert await anext(reader) == {"seq": seq}
        got = []
        with pytest.raises(SlowConsumer, match="more than 3 events behind"):
            async for message in slow:
                got.append(message["seq"])
        assert got == [1, 2, 3]


async def test_the_backend_listens_while_a_channel_has_a_subscriber_here() -> None:
    """The first subscriber of a channel makes the backend listen, the last one leaving makes
    it stop; messages for a channel without subscribers are dropped by the facade."""
    backend: RecordingBackend | None = None

    def connect(deliver: Deliver) -> RecordingBackend:
        nonlocal backend
        backend = RecordingBackend("test://", deliver)
        return backend

    async with Broadcast(connect) as bus:
        assert backend is not None
        async with bus.subscribe("a"), bus.subscribe("a"):
            assert backend.calls == [("listen", "a")]
        assert backend.calls == [("listen", "a"), ("unlisten", "a")]
        await bus.publish("a", {"seq": 1})
        assert backend.published == [("a", {"seq": 1})]


async def test_open_bus_by_scheme() -> None:
    """memory:// opens the facade over the memory backend; an unknown scheme is refused."""
    async with open_bus("memory://") as bus, bus.subscribe("a") as sub:
        await bus.publish("a", {"seq": 7})
        assert await anext(aiter(sub)) == {"seq": 7}
    with pytest.raises(ValueError, match="unknown event bus scheme"):
        open_bus("carrier-pigeon://")
