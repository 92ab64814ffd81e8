"""The bus's contract, run on memory:// and on redis:// alike: fan-out per agent, order, one
number per message, resume after a number, the slow-consumer policy and the wire schema.

On redis:// every test has its own key prefix, and "two nodes" are two buses on their own
connections (on memory:// both are the one in-process bus).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest
import redis.asyncio as aioredis
from pydantic import BaseModel

from proxy.bus import (
    Broadcast,
    Deliver,
    Event,
    EventBus,
    SlowConsumer,
    StaleSequence,
    open_bus,
    wire,
)
from proxy.bus.broadcast import _Subscription
from proxy.bus.redis import RedisBackend
from proxy.seams import Resource
from tests.redis_db import REDIS_URL, redis_bus_url, redis_prefix

UrlFor = Callable[..., str]


class Note(BaseModel):
    """A numbered message to an agent's pages, as the feed hands the bus."""

    type: str = "note"
    seq: int
    text: str = ""


@pytest.fixture(params=["memory", "redis"])
async def url_for(request: pytest.FixtureRequest) -> AsyncIterator[UrlFor]:
    """The bus URL with optional parameters (history=N), on a fresh prefix for redis://."""
    if request.param == "memory":
        yield lambda **params: "memory://?" + "&".join(f"{k}={v}" for k, v in params.items())
        return
    async with redis_prefix() as prefix:
        yield lambda **params: redis_bus_url(prefix, **params)


@asynccontextmanager
async def two_nodes(url: str) -> AsyncIterator[tuple[EventBus, EventBus]]:
    async with open_bus(url) as first:
        if url.startswith("memory:"):
            yield first, first
            return
        async with open_bus(url) as second:
            yield first, second


async def read(subscription: _Subscription, count: int) -> list[Event]:
    reader = aiter(subscription)
    # The bound only keeps a broken bus from hanging the run; nothing is asserted about time.
    return [await asyncio.wait_for(anext(reader), 10) for _ in range(count)]


async def test_each_agent_s_messages_reach_every_socket_of_that_agent_only(
    url_for: UrlFor,
) -> None:
    """Two sockets of one agent, on two nodes, both get its message; another agent's socket
    gets only its own."""
    async with (
        two_nodes(url_for()) as (producer, consumer),
        producer.subscribe("a") as first,
        consumer.subscribe("a") as second,
        consumer.subscribe("b") as other,
    ):
        await producer.publish("a", Note(seq=1, text="for a"))
        await producer.publish("b", Note(seq=1, text="for b"))
        assert [e.text for e in await read(first, 1)] == ['{"type":"note","seq":1,"text":"for a"}']
        assert [e.text for e in await read(second, 1)] == ['{"type":"note","seq":1,"text":"for a"}']
        assert [e.text for e in await read(other, 1)] == ['{"type":"note","seq":1,"text":"for b"}']


async def test_an_agent_s_events_arrive_in_order_on_every_node(url_for: UrlFor) -> None:
    """A burst from one node reaches a socket on another in the order it was numbered."""
    async with two_nodes(url_for()) as (producer, consumer), consumer.subscribe("a") as socket:
        for seq in range(1, 201):
            await producer.publish("a", Note(seq=seq))
        assert [e.seq for e in await read(socket, 200)] == list(range(1, 201))


async def test_an_attached_socket_hears_its_agent_s_events_in_order_until_it_leaves(
    url_for: UrlFor,
) -> None:
    """A socket attached on another node is handed its agent's events one by one, in order,
    and none of another agent's; once it leaves it is handed nothing more."""
    heard: list[Event] = []
    async with two_nodes(url_for()) as (producer, consumer), consumer.subscribe("a") as stays:
        async with consumer.attach("a", heard.append):
            for seq in range(1, 51):
                await producer.publish("a", Note(seq=seq))
            await producer.publish("b", Note(seq=1))
            # Past the last of them on a queued subscription: the attached one has them too.
            assert [e.seq for e in await read(stays, 50)][-1] == 50
        await producer.publish("a", Note(seq=51))
        assert [e.seq for e in await read(stays, 1)] == [51]
    assert [e.seq for e in heard] == list(range(1, 51))


async def test_a_subscriber_gets_what_is_published_from_then_on(url_for: UrlFor) -> None:
    async with two_nodes(url_for()) as (producer, consumer):
        await producer.publish("a", Note(seq=1, text="before"))
        async with consumer.subscribe("a") as socket:
            await producer.publish("a", Note(seq=2, text="after"))
            assert [e.seq for e in await read(socket, 1)] == [2]


async def test_a_number_is_published_once(url_for: UrlFor) -> None:
    """A message numbered at or below the agent's last is refused, on any node, and no
    socket sees a number twice."""
    async with two_nodes(url_for()) as (producer, other), other.subscribe("a") as socket:
        await producer.publish("a", Note(seq=1))
        await producer.publish("a", Note(seq=2, text="first two"))
        with pytest.raises(StaleSequence, match="seq 2 is not after 2"):
            await other.publish("a", Note(seq=2, text="second two"))
        with pytest.raises(StaleSequence, match="seq 1 is not after 2"):
            await producer.publish("a", Note(seq=1))
        await other.publish("a", Note(seq=3))
        got = await read(socket, 3)
        assert [e.seq for e in got] == [1, 2, 3]
        assert '"first two"' in got[1].text
        assert await producer.last_seq("a") == await other.last_seq("a") == 3
        assert await producer.last_seq("nobody") == 0


async def test_a_page_resumes_from_its_last_number_on_any_node(url_for: UrlFor) -> None:
    """Events after the page's last number come back in order, each once; a number the bus
    never gave, or one older than the kept history, gets None: the page needs a snapshot."""
    async with two_nodes(url_for(history=4)) as (producer, other):
        for seq in range(1, 7):
            await producer.publish("a", Note(seq=seq, text=f"m{seq}"))
        resumed = await other.resume("a", 3)
        assert resumed is not None
        assert [(e.seq, e.text) for e in resumed] == [
            (seq, Note(seq=seq, text=f"m{seq}").model_dump_json()) for seq in (4, 5, 6)
        ]
        assert await other.resume("a", 6) == []
        assert await other.resume("a", 1) is None  # 2 is no longer kept
        assert await other.resume("a", 9) is None
        assert await other.resume("nobody", 0) == []


async def test_a_socket_too_far_behind_is_told_to_resync(url_for: UrlFor) -> None:
    """Past the queue limit, the socket reads what was queued and then SlowConsumer; the
    publisher never waits, and other sockets are not affected."""
    async with open_bus(url_for()) as opened:
        assert isinstance(opened, Broadcast)
        opened.queue_limit = 3
        async with opened.subscribe("a") as slow:
            async with opened.subscribe("a") as fast:
                for seq in range(1, 6):
                    await opened.publish("a", Note(seq=seq))
                    assert [e.seq for e in await read(fast, 1)] == [seq]
            got = []
            with pytest.raises(SlowConsumer, match="more than 3 events behind"):
                async for event in slow:
                    got.append(event.seq)
            assert got == [1, 2, 3]


@pytest.mark.parametrize(
    ("payload", "logged"),
    [
        (b'{"v":99,"seq":2}\n{"type":"note","seq":2}', "schema version 99, this node reads 1"),
        (b'{"seq":2}\n{"type":"note","seq":2}', "schema version None"),
        (b'{"v":1,"seq":"2"}\n{}', "unreadable"),
        (b'{"v":1,"seq":2}', "unreadable"),
        (b"\xff\xfe not json\n{}", "unreadable"),
    ],
)
async def test_a_message_of_an_unknown_schema_is_logged_and_dropped(
    url_for: UrlFor, payload: bytes, logged: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A node running another version (a rolling upgrade) or a broken payload: the socket gets
    the next message it can read, the log says what was dropped, and a resume across the
    dropped one asks for a snapshot (its number is missing)."""
    async with open_bus(url_for()) as opened, opened.subscribe("a") as socket:
        assert isinstance(opened, Broadcast)
        await opened.publish("a", Note(seq=1))
        with caplog.at_level(logging.WARNING, logger="proxy.bus.wire"):
            await opened.backend.publish("a", 2, payload)
            await opened.publish("a", Note(seq=3))
            assert [e.seq for e in await read(socket, 2)] == [1, 3]
        assert any(logged in r.getMessage() for r in caplog.records)
        assert await opened.resume("a", 1) is None
        resumed = await opened.resume("a", 2)
        assert resumed is not None and [e.seq for e in resumed] == [3]


def test_the_wire_carries_the_text_made_once() -> None:
    note = Note(seq=42, text="line one\nline two")
    payload = wire.encode(42, note.model_dump_json())
    assert payload.startswith(b'{"v":1,"seq":42}\n')
    assert wire.decode("a", payload) == Event(42, note.model_dump_json())


class RecordingBackend(Resource):
    """A backend that moves payloads like memory:// and records what it was asked to hear."""

    def __init__(self, url: str, deliver: Deliver) -> None:
        self.deliver = deliver
        self.calls: list[tuple[str, str]] = []
        self.published: list[tuple[str, int]] = []

    async def listen(self, channel: str) -> None:
        self.calls.append(("listen", channel))

    async def unlisten(self, channel: str) -> None:
        self.calls.append(("unlisten", channel))

    async def publish(self, channel: str, seq: int, payload: bytes) -> None:
        self.published.append((channel, seq))
        self.deliver(channel, payload)


async def test_the_backend_listens_while_a_channel_has_a_subscriber_here() -> None:
    """The first subscriber of a channel makes the backend listen, the last one leaving makes
    it stop; messages for a channel without subscribers are dropped by the facade."""
    backend: RecordingBackend | None = None

    def connect(deliver: Deliver) -> RecordingBackend:
        nonlocal backend
        backend = RecordingBackend("test://", deliver)
        return backend

    async with Broadcast(connect) as bus:  # type: ignore[arg-type]
        assert backend is not None
        async with bus.subscribe("a"), bus.subscribe("a"):
            assert backend.calls == [("listen", "a")]
        assert backend.calls == [("listen", "a"), ("unlisten", "a")]
        await bus.publish("a", Note(seq=1))
        assert backend.published == [("a", 1)]


async def test_open_bus_by_scheme_and_its_parameters() -> None:
    """An unknown scheme is refused, naming the known ones; a history that is not a whole
    number of messages is refused at start."""
    with pytest.raises(ValueError, match=r"unknown event bus scheme .*memory://, redis://"):
        open_bus("carrier-pigeon://")
    for url in ("memory://?history=0", "memory://?history=lots", "redis://127.0.0.1/0?history=-1"):
        with pytest.raises(ValueError, match="history must be a whole number of messages"):
            open_bus(url)


async def test_numbers_published_at_once_keep_their_order(url_for: UrlFor) -> None:
    """Many messages numbered in order and published concurrently (a burst of call events) all
    go through, in order: none arrives behind a higher number and is refused as stale."""
    async with open_bus(url_for()) as opened, opened.subscribe("a") as socket:
        await asyncio.gather(*(opened.publish("a", Note(seq=seq)) for seq in range(1, 101)))
        assert [e.seq for e in await read(socket, 100)] == list(range(1, 101))


async def test_a_node_that_loses_redis_goes_on_from_the_last_event_it_read() -> None:
    """The reader's connection is cut (Redis restarted, a network blip): once it is back,
    the socket gets every event published meanwhile, in order, none twice."""
    async with redis_prefix() as prefix, two_nodes(redis_bus_url(prefix)) as (producer, node):
        assert isinstance(node, Broadcast) and isinstance(node.backend, RedisBackend)
        async with node.subscribe("a") as socket:
            await producer.publish("a", Note(seq=1))
            assert [e.seq for e in await read(socket, 1)] == [1]
            admin = aioredis.Redis.from_url(REDIS_URL)
            try:
                name = f"{prefix}bus-reader-{node.backend.node}"
                killed = 0
                for client in await admin.client_list():
                    if client["name"] == name:
                        killed += await admin.client_kill_filter(_id=client["id"])
                assert killed == 1
            finally:
                await admin.aclose()
            for seq in range(2, 6):
                await producer.publish("a", Note(seq=seq))
            assert [e.seq for e in await read(socket, 4)] == [2, 3, 4, 5]
