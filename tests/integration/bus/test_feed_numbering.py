"""The agent feed numbers each agent's messages once, also across a restart on a shared bus."""

from __future__ import annotations

import asyncio

from proxy.agents.feed import AgentFeed
from proxy.bus import open_bus
from tests.integration.bus.test_bus_contract import Note, read
from tests.redis_db import redis_bus_url, redis_prefix


async def test_a_restarted_node_goes_on_numbering_where_the_bus_left_off() -> None:
    """A proxy restarted on the same Redis keeps its agents' pages numbering forward: its
    first message is the one after the last the bus carried, not a refused 1."""
    async with redis_prefix() as prefix:
        url = redis_bus_url(prefix)
        async with open_bus(url) as before:
            feed = AgentFeed(before)
            for _ in range(3):
                await feed.publish("1001", lambda seq: Note(seq=seq))
        async with open_bus(url) as after, after.subscribe("1001") as socket:
            restarted = AgentFeed(after)
            await asyncio.gather(
                *(restarted.publish("1001", lambda seq: Note(seq=seq)) for _ in range(3))
            )
            assert [e.seq for e in await read(socket, 3)] == [4, 5, 6]
            assert restarted.seq("1001") == 6
