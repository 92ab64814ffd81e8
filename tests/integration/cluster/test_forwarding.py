"""Two proxy nodes on one Redis and one PostgreSQL, in this process: the one that holds the
PBX link runs every call; a page on the other node rings, pops, answers, holds and hangs up
through it, and is refused plainly when it pokes at what is not its own."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis

from proxy.cluster.line import Refused
from tests.databases import postgres_url
from tests.harness import RunningProxy, next_message, running_proxy, wait_for_call
from tests.integration.web.test_sso import browser_like, choose, result
from tests.redis_db import redis_bus_url, redis_prefix


async def send(ws: Any, command: str, call_id: str) -> None:
    await ws.send(json.dumps({"type": command, "call_id": call_id}))


ADMIN = ("admin", "cluster-admin-pw")


@contextmanager
def two_nodes(tmp_path: Path, database_url: str, bus_url: str) -> Iterator[list[RunningProxy]]:
    """Node a takes the link first (its simulator is the PBX); node b then only serves pages."""
    with ExitStack() as stack:
        shared: dict[str, Any] = {
            "bus_url": bus_url,
            "database_url": database_url,
            "admin_password": ADMIN[1],
        }
        a = stack.enter_context(running_proxy(tmp_path / "a", node_name="node-a", **shared))
        b = stack.enter_context(
            running_proxy(tmp_path / "b", wait_for_link=False, node_name="node-b", **shared)
        )
        deadline = time.monotonic() + 10
        while b.services.line is None or b.services.line.holder is None:
            assert time.monotonic() < deadline, "node b never heard of a link holder"
            time.sleep(0.05)
        yield [a, b]


@pytest.fixture
def nodes(tmp_path: Path) -> Iterator[list[RunningProxy]]:
    loop = asyncio.new_event_loop()
    database = postgres_url()
    prefix = redis_prefix()
    database_url = loop.run_until_complete(database.__aenter__())
    bus_prefix = loop.run_until_complete(prefix.__aenter__())
    try:
        for d in ("a", "b"):
            (tmp_path / d).mkdir()
        with two_nodes(tmp_path, database_url, redis_bus_url(bus_prefix)) as both:
            yield both
    finally:
        loop.run_until_complete(prefix.__aexit__(None, None, None))
        loop.run_until_complete(database.__aexit__(None, None, None))
        loop.close()


async def test_a_page_on_a_node_without_the_link_rings_pops_and_controls_the_call(
    nodes: list[RunningProxy],
) -> None:
    holder, other = nodes
    assert holder.services.runs_core and not other.services.runs_core
    token = other.sign_in()
    async with other.connect(token) as ws:
        welcome = await next_message(ws)
        assert welcome["type"] == "welcome" and welcome["agent"]["address"] == "1001"
        call_id = holder.place_call(ani="+16504508810")
        ringing = await wait_for_call(ws, call_id, state="ringing")
        popped = await wait_for_call(ws, call_id, matching=False)
        assert popped["call"]["pop"]["matches"][0]["name"] == "Maria Chen"
        seqs = [welcome["seq"], ringing["seq"], popped["seq"]]
        await send(ws, "answer", call_id)
        answered = await wait_for_call(ws, call_id, state="active")
        await send(ws, "hold", call_id)
        await wait_for_call(ws, call_id, state="held")
        await send(ws, "hold", call_id)
        refused = await next_message(ws)
        while refused.get("type") != "error":
            refused = await next_message(ws)
        assert refused["call_id"] == call_id and refused["code"]
        await send(ws, "retrieve", call_id)
        await wait_for_call(ws, call_id, state="active")
        await send(ws, "hangup", call_id)
        await wait_for_call(ws, call_id, state="cleared")
        assert seqs == sorted(seqs) and answered["seq"] > popped["seq"]
    # The holder's own pages know nothing of the closed page any more.
    deadline = time.monotonic() + 5
    while holder.services.pages.count("1001"):
        assert time.monotonic() < deadline, "the holder still counts the closed page"
        await asyncio.sleep(0.05)


async def test_another_agents_call_is_refused_across_nodes(nodes: list[RunningProxy]) -> None:
    holder, other = nodes
    async with other.connect(other.sign_in("1002")) as ws:
        await next_message(ws)
        call_id = holder.place_call(agent="1001", ani="+16504508810")
        await send(ws, "answer", call_id)
        refused = await next_message(ws)
        while refused.get("type") != "error":
            refused = await next_message(ws)
        assert refused["call_id"] == call_id and refused["code"] == "no_such_call"
    calls = httpx.get(f"{holder.base_url}/sim/calls").json()
    assert [c["state"] for c in calls if c["agent"] == "1001"] == ["ringing"]


def test_each_node_says_its_role_and_the_admin_page_lists_the_cluster(
    nodes: list[RunningProxy],
) -> None:
    other = nodes[1]
    ready = [httpx.get(f"{n.base_url}/readyz") for n in nodes]
    assert [r.status_code for r in ready] == [200, 200]
    assert [(r.json()["node"], r.json()["role"]) for r in ready] == [
        ("node-a", "holder"),
        ("node-b", "node"),
    ]
    assert {r.json()["holder"] for r in ready} == {"node-a"}
    metrics = [httpx.get(f"{n.base_url}/metrics").text for n in nodes]
    assert "softphone_link_holder 1.0" in metrics[0]
    assert "softphone_link_holder 0.0" in metrics[1]
    assert "softphone_lease_takeovers_total 1.0" in metrics[0]
    status = httpx.get(f"{other.base_url}/admin/status.json", auth=ADMIN).json()
    cluster = status["cluster"]
    assert (cluster["node"], cluster["role"], cluster["holder"]) == ("node-b", "node", "node-a")
    assert [(n["node"], n["holder"], n["gone"]) for n in cluster["nodes"]] == [
        ("node-a", True, False),
        ("node-b", False, False),
    ]
    page = httpx.get(f"{other.base_url}/admin", auth=ADMIN).text
    assert "does not hold the PBX link" in page and "node-a" in page


async def test_garbage_on_the_cluster_line_is_dropped_and_the_holder_serves_on(
    nodes: list[RunningProxy],
) -> None:
    """Not JSON, an unknown version, an unknown request, a request past its deadline: each is
    refused or dropped, said in the log, and the page on the other node is served as before."""
    holder, other = nodes
    line = other.services.line
    assert line is not None and line.holder is not None
    channel = line.key(f"core:{line.holder.token}")
    redis = aioredis.Redis.from_url(line.redis_url)
    try:
        for junk in (b"\xff not json", b'{"v": 99, "op": "open"}', b"[1, 2]"):
            assert await redis.publish(channel, junk) == 1
        late = {"v": 1, "id": "x:1", "node": "node-b", "op": "act", "body": {}, "deadline": 1}
        assert await redis.publish(channel, json.dumps(late)) == 1
    finally:
        await redis.aclose()
    with pytest.raises(Refused) as refused:
        await asyncio.wrap_future(
            asyncio.run_coroutine_threadsafe(line.ask("reboot_the_pbx", {}), other.loop)
        )
    assert refused.value.code == "bad_request"
    async with other.connect(other.sign_in("1003")) as ws:
        welcome = await next_message(ws)
        assert welcome["type"] == "welcome" and welcome["agent"]["address"] == "1003"
        call_id = holder.place_call(agent="1003", ani="+16504508810")
        await wait_for_call(ws, call_id, state="ringing")


async def test_sign_in_with_salesforce_started_on_one_node_finishes_on_the_other(
    nodes: list[RunningProxy],
) -> None:
    """Behind a balancer, /sso/start and the callback reach different nodes: the callback's node
    finds the sign-in the other one started (its PKCE verifier is shared), once."""
    start_node, callback_node = nodes
    org, sso = start_node.services.org, callback_node.services.sso
    assert org is not None and sso is not None
    # One org for the cluster, as in a real deployment (each demo node has a stand-in of its own).
    sso.login_url, sso.ca_file = org.instance_url, org.ca_file
    # And one public address: Salesforce checks the callback address is the one it was given.
    callback_node.services.settings.public_url = start_node.base_url
    with browser_like(start_node) as client:
        back = choose(client, start_node, "Sign in as Alex Morgan").headers["location"]
        on_other = back.replace(start_node.base_url, callback_node.base_url)
        page = client.get(on_other)
        again = client.get(on_other)
    assert page.status_code == 200, page.text
    outcome = result(page)
    assert outcome["agent"]["address"] == "1001"
    assert again.status_code == 400 and "already used" in again.text
    async with callback_node.connect(outcome["token"]) as ws:
        assert (await next_message(ws))["agent"]["address"] == "1001"


async def test_the_api_budget_is_read_from_the_node_that_called_salesforce_last(
    nodes: list[RunningProxy],
) -> None:
    """The holder's lookups spend the org's API calls; the other node, which has not called
    Salesforce, checks the budget floor against the holder's reading."""
    holder, other = nodes
    async with other.connect(other.sign_in("1004")) as ws:
        await next_message(ws)
        call_id = holder.place_call(agent="1004", ani="+16504508810")
        await wait_for_call(ws, call_id, matching=False)
    assert holder.services.salesforce is not None and other.services.salesforce is not None
    spent = holder.services.salesforce.api_usage
    assert spent is not None and other.services.salesforce.api_usage is None
    deadline = time.monotonic() + 10
    while other.services.lookups.matcher.budget_left != spent[1] - spent[0]:
        assert time.monotonic() < deadline, "the other node never read the holder's budget"
        await asyncio.sleep(0.1)
