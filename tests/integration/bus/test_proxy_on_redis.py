"""The whole proxy with its agents' events on Redis (and its store on PostgreSQL, as cluster
mode requires): a page gets the ringing call, its pop, and a reload's snapshot."""

from __future__ import annotations

from pathlib import Path

from tests.databases import postgres_url
from tests.harness import next_message, running_proxy, wait_for_call
from tests.redis_db import redis_bus_url, redis_prefix


async def test_a_call_rings_and_pops_through_the_redis_bus(tmp_path: Path) -> None:
    async with postgres_url() as database_url, redis_prefix() as prefix:
        with running_proxy(
            tmp_path, bus_url=redis_bus_url(prefix), database_url=database_url
        ) as proxy:
            token = proxy.sign_in()
            async with proxy.connect(token) as ws, proxy.connect(token) as other_tab:
                await next_message(ws)
                await next_message(other_tab)
                call_id = proxy.place_call(ani="+16504508810")
                popped = await wait_for_call(ws, call_id, matching=False)
                assert popped["call"]["pop"]["matches"][0]["name"] == "Maria Chen"
                same = await wait_for_call(other_tab, call_id, matching=False)
                assert same == popped
            async with proxy.connect(token) as ws:
                welcome = await next_message(ws)
                assert [c["call_id"] for c in welcome["calls"]] == [call_id]
                assert welcome["seq"] >= popped["seq"]
