"""A new caller costs one Salesforce API call cluster-wide: two node processes, each with 10
calls from the same new number ringing at once, share one lookup through Redis.

Without a shared cache (memory://) each process pays its own: the same run costs two.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from proxy.salesforce.standin.org import StandinOrg, demo_org
from proxy.salesforce.standin.server import StandinServer
from tests.redis_db import redis_bus_url, redis_prefix

ROOT = Path(__file__).resolve().parents[3]
NEW_NUMBER = "+16504508810"  # Maria Chen's, never looked up in this fresh org


@pytest.fixture
async def org_server() -> AsyncIterator[tuple[StandinOrg, StandinServer]]:
    org = demo_org()
    async with StandinServer(org) as server:
        yield org, server


async def start_node(server: StandinServer, org: StandinOrg, bus_url: str) -> subprocess.Popen[str]:
    node = subprocess.Popen(  # noqa: ASYNC220 - a node is a process of its own
        [
            sys.executable,
            "-m",
            "tests.integration.cluster.lookup_node",
            server.instance_url,
            server.ca_file,
            org.consumer_key,
            org.consumer_secret,
            bus_url,
            NEW_NUMBER,
            "10",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert node.stdout is not None
    ready = await asyncio.wait_for(asyncio.to_thread(node.stdout.readline), 60)
    assert ready.strip() == "ready"
    return node


async def lookups_cost(org: StandinOrg, server: StandinServer, bus_url: str) -> int:
    """API calls spent by two nodes' 20 simultaneous lookups; every one pops Maria Chen."""
    nodes = [await start_node(server, org, bus_url) for _ in range(2)]
    try:
        before = org.api_calls
        for node in nodes:
            assert node.stdin is not None
            node.stdin.write("go\n")
            node.stdin.flush()
        for node in nodes:
            assert node.stdout is not None
            line = await asyncio.wait_for(asyncio.to_thread(node.stdout.readline), 60)
            assert json.loads(line) == [["Maria Chen"]] * 10
        return org.api_calls - before
    finally:
        for node in nodes:
            node.kill()
            node.wait(10)


async def test_twenty_lookups_of_a_new_number_on_two_nodes_cost_one_api_call(
    org_server: tuple[StandinOrg, StandinServer],
) -> None:
    org, server = org_server
    async with redis_prefix() as prefix:
        assert await lookups_cost(org, server, redis_bus_url(prefix)) == 1


async def test_without_a_shared_cache_each_node_pays_its_own(
    org_server: tuple[StandinOrg, StandinServer],
) -> None:
    org, server = org_server
    assert await lookups_cost(org, server, "memory://") == 2
