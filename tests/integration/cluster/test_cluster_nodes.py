"""Issue 15, cluster mode, end to end: real `softphone-proxy serve` nodes behind a load balancer,
on one Redis and one PostgreSQL, with the PBX simulator and the Salesforce stand-in as processes
of their own (tests/cluster.py). Pages are the real websockets client behaving as the softphone
page's socket does (tests/cluster_page.py).

What a user notices: one node holds the PBX link; an agent's page on any node rings, pops and
controls its calls; killing the holder or the page's node loses no call, no numbered event and
no call log, and pays no lookup twice; a holder cut off from the database lets go of the PBX
before another node takes it. No timing is asserted: the timeouts below only stop a test that
would otherwise hang (how long a takeover takes is the bench's to print).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from typing import Any

import pytest

from proxy.app import RETIRED_EXIT
from tests.cluster import Cluster, Node, running_cluster
from tests.cluster_page import Page
from tests.integration.cluster.conftest import call_failed

TAKEOVER = 30.0  # generous: a limit on hanging, not an expectation
NEW_NUMBER = "+16504508810"  # Maria Chen's (a Contact), never looked up in a fresh org
MARIA = [("Contact", "Maria Chen")]


@pytest.fixture
async def cluster(request: pytest.FixtureRequest) -> AsyncIterator[Cluster]:
    # Tasks are written as soon as a call ends (no wrap-up wait), so a test can see them.
    async with running_cluster(3, wrap_up_seconds="0") as running:
        yield running
        running.failed = call_failed(request)  # keep and show the nodes' logs


def matched(call: dict[str, Any]) -> list[tuple[str, str]]:
    return [(m["object"], m["name"]) for m in call["pop"]["matches"]]


async def agent_page(cluster: Cluster, n: int, *, on: Node | None = None) -> Page:
    return await cluster.open_page(await cluster.sign_in(cluster.agents[n].address), on=on)


async def ring(cluster: Cluster, page: Page, n: int, ani: str = NEW_NUMBER) -> dict[str, Any]:
    """Ring agent n from outside; the call as the page sees it once its lookup is done."""
    await cluster.place_call(cluster.agents[n].extension, ani=ani)
    popped = await page.wait_for(state="ringing", matching=False)
    return popped["call"]  # type: ignore[no-any-return]


async def command(page: Page, kind: str, call_id: str, state: str) -> dict[str, Any]:
    """The agent clicks `kind`; the call once the page shows it `state` (or what it saw)."""
    await page.send({"type": kind, "call_id": call_id})
    seen = len(page.messages)
    try:
        return (await page.wait_for(call_id, state=state))["call"]  # type: ignore[no-any-return]
    except TimeoutError:
        raise AssertionError(
            f"{kind}: the page on {page.node} never showed the call {state}; it got "
            f"{page.messages[seen:]}"
        ) from None


def screen(call: dict[str, Any], since: dict[str, Any]) -> dict[str, Any]:
    """What the agent's call screen shows of a call beyond its state: who called, the record
    it matched, and whether its timer still counts from when the call rang and was answered
    (as `since` said, within a second)."""
    return {
        "caller": call["caller_name"],
        "record": matched(call) if call["pop"] else None,
        "timer goes on": all(
            abs((call[k] or 0) - (since[k] or 0)) < 1 for k in ("started_at", "answered_at")
        ),
    }


async def pops_in_a_new_tab(cluster: Cluster, page: Page) -> list[str]:
    """The calls whose pop a tab the agent opens now would open (a fresh tab, or a reload where
    the browser keeps no storage for the frame: a pop already opened must not come again)."""
    tab = await cluster.open_page(page.token)
    await tab.close()
    return tab.opened_pops


async def logged_once(cluster: Cluster, call_id: str) -> list[dict[str, Any]]:
    """The call's Tasks in the org, once its outbox row is written (nobody writes it again)."""
    deadline = asyncio.get_running_loop().time() + TAKEOVER
    while await cluster.outbox_state(call_id) != "written":
        assert asyncio.get_running_loop().time() < deadline, "the call's Task was never written"
        await asyncio.sleep(0.05)
    return await cluster.standin.tasks(call_id)


async def test_one_node_cluster_serves_a_call_through_the_balancer() -> None:
    """The harness itself, on what works without forwarding: one node holds the link and serves
    the page through the balancer: ring, pop, answer, hold, hang up, one Task."""
    async with running_cluster(1, agents=2, wrap_up_seconds="0") as cluster:
        holder = await cluster.wait_for_holder()
        page = await agent_page(cluster, 0)
        assert page.node == holder.name
        call = await ring(cluster, page, 0)
        assert matched(call) == MARIA
        await command(page, "answer", call["call_id"], "active")
        await command(page, "hold", call["call_id"], "held")
        await command(page, "hangup", call["call_id"], "cleared")
        assert len(await logged_once(cluster, call["call_id"])) == 1
        assert page.gaps == [] and page.opened_pops == [call["call_id"]]


async def test_an_agent_on_a_node_without_the_link_rings_pops_answers_holds_and_hangs_up(
    cluster: Cluster,
) -> None:
    """The page's socket is on a node that does not hold the link: events reach it through the
    bus, its commands reach the PBX through the holder."""
    holder = await cluster.wait_for_holder(TAKEOVER)
    node = await cluster.non_holder(TAKEOVER)
    ready = await cluster.ready(node)
    assert (ready.get("role"), ready.get("holder")) == ("node", holder.name)
    assert ready["ready"] is True  # a balancer's readiness probe keeps sending it pages
    page = await agent_page(cluster, 0, on=node)
    assert page.node == node.name
    call = await ring(cluster, page, 0)
    assert matched(call) == MARIA
    assert call["caller_name"] == "Maria Chen"
    call_id = call["call_id"]
    await command(page, "answer", call_id, "active")
    await command(page, "hold", call_id, "held")
    await command(page, "retrieve", call_id, "active")
    await command(page, "hangup", call_id, "cleared")
    assert page.gaps == []
    assert page.opened_pops == [call_id]


async def on_a_call(cluster: Cluster, node: Node) -> tuple[Page, str, dict[str, Any]]:
    """Agent 0's page on `node`, on a call answered a moment ago: the page, the call's id and
    the call as it showed once answered."""
    page = await agent_page(cluster, 0, on=node)
    call = await ring(cluster, page, 0)
    answered = await command(page, "answer", call["call_id"], "active")
    await asyncio.sleep(1.5)  # a conversation, not a wait for anything: the screen's timer runs
    return page, call["call_id"], answered


async def test_killing_the_link_holder_mid_call_loses_nothing(cluster: Cluster) -> None:
    """kill -9 of the holder while an agent is on a call: another node holds the link, the call
    goes on (hold and hang up work) showing the caller, the matched record and its timer as
    before, the page on another node misses no numbered event, and the call is logged once."""
    holder = await cluster.wait_for_holder(TAKEOVER)
    page, call_id, answered = await on_a_call(cluster, await cluster.non_holder(TAKEOVER))

    cluster.kill(holder)
    await cluster.wait_for_holder(TAKEOVER, not_=holder)
    assert await pops_in_a_new_tab(cluster, page) == []

    held = await command(page, "hold", call_id, "held")
    shown = screen(held, answered)
    await command(page, "hangup", call_id, "cleared")
    assert page.reconnects == 0  # its own node lived on
    assert page.gaps == []
    assert len(await logged_once(cluster, call_id)) == 1
    assert shown == screen(answered, answered)  # as before the takeover


async def test_killing_the_holder_the_page_is_on_mid_call_loses_nothing(cluster: Cluster) -> None:
    """kill -9 of the holder that also serves the agent's page, mid-call: the page comes back on
    another node with the call as it was (caller, matched record, timer), the call goes on under
    the new holder, its pop is not opened again, and it is logged once."""
    holder = await cluster.wait_for_holder(TAKEOVER)
    page, call_id, answered = await on_a_call(cluster, holder)

    cluster.kill(holder)
    await cluster.wait_for_holder(TAKEOVER, not_=holder)
    await page.wait_for(call_id, state="active", timeout=TAKEOVER)
    assert page.reconnects == 1 and page.node != holder.name
    assert await pops_in_a_new_tab(cluster, page) == []

    held = await command(page, "hold", call_id, "held")
    shown = screen(held, answered)
    await command(page, "hangup", call_id, "cleared")
    assert page.opened_pops == [call_id]
    assert page.gaps == []
    assert len(await logged_once(cluster, call_id)) == 1
    assert shown == screen(answered, answered)  # as before the takeover


async def test_a_call_that_ends_while_no_node_holds_the_link_leaves_the_screen(
    cluster: Cluster,
) -> None:
    """The holder is killed and the caller hangs up before another node takes the link: the
    PBX's snapshot no longer has the call, and the page (on a node that lived on) is told it
    ended instead of showing it for good."""
    holder = await cluster.wait_for_holder(TAKEOVER)
    page = await agent_page(cluster, 0, on=await cluster.non_holder(TAKEOVER))
    pbx_id = await cluster.place_call(cluster.agents[0].extension, ani=NEW_NUMBER)
    call = (await page.wait_for(state="ringing", matching=False))["call"]
    await command(page, "answer", call["call_id"], "active")

    cluster.kill(holder)
    hung_up = await cluster.http.post(f"{cluster.sim_url}/calls/{pbx_id}/hangup")
    assert hung_up.status_code < 300, hung_up.text
    await page.wait_for(call["call_id"], state="cleared", timeout=TAKEOVER)
    assert page.reconnects == 0 and page.gaps == []
    assert len(await logged_once(cluster, call["call_id"])) == 1


async def test_killing_the_page_s_node_the_page_resumes_on_another_and_pops_once(
    cluster: Cluster,
) -> None:
    """kill -9 of the node an agent's page is connected to, and a call rings while the page is
    away: the page reconnects through the balancer to another node, resumes from its snapshot
    and opens the pop it is owed; neither it nor a tab opened later pops it again."""
    node = await cluster.non_holder(TAKEOVER)
    token = await cluster.sign_in(cluster.agents[0].address)
    page = await cluster.open_page(token, on=node)

    cluster.kill(node)
    await cluster.place_call(cluster.agents[0].extension, ani=NEW_NUMBER)
    popped = await page.wait_for(state="ringing", matching=False, timeout=TAKEOVER)
    call_id = popped["call"]["call_id"]
    assert page.reconnects == 1 and page.node not in ("", node.name)
    assert matched(popped["call"]) == MARIA
    delivered = await page.wait_for(call_id, pop_delivered=True)
    assert delivered["call"]["state"] == "ringing"

    later_tab = await cluster.open_page(token)
    (call,) = later_tab.welcomes[0]["calls"]
    assert call["call_id"] == call_id and call["pop_delivered"] is True
    assert page.opened_pops == [call_id]
    assert later_tab.opened_pops == []
    assert page.gaps == []


async def test_twenty_calls_from_one_new_number_to_twenty_agents_cost_one_lookup(
    cluster: Cluster,
) -> None:
    """20 agents' pages spread over the nodes, 20 calls from one new number at once: every page
    pops the caller, and Salesforce is asked once."""
    pages = [await agent_page(cluster, n) for n in range(20)]
    assert len({p.node for p in pages}) == len(cluster.nodes)  # the balancer spread them
    before = await cluster.standin.api_calls()
    await asyncio.gather(
        *(cluster.place_call(a.extension, ani=NEW_NUMBER) for a in cluster.agents[:20])
    )
    popped = await asyncio.gather(
        *(p.wait_for(state="ringing", matching=False, timeout=TAKEOVER) for p in pages)
    )
    assert [matched(m["call"]) for m in popped] == [MARIA] * 20
    assert await cluster.standin.api_calls() - before == 1
    assert [p.gaps for p in pages] == [[]] * 20


async def test_a_holder_cut_off_from_the_database_lets_go_of_the_pbx_before_another_takes_it() -> (
    None
):
    """A partition between the holder and PostgreSQL: its lease ends there, and it stops its
    link (and exits) before any other node's link reaches the PBX: the simulator never has two
    bridge sessions open at once."""
    async with running_cluster(0, agents=2) as cluster:
        cable, through_cable = cluster.database_cable()
        (cut_off,) = await cluster.add_nodes(1, database_url=through_cable)
        assert await cluster.wait_for_holder(TAKEOVER) is cut_off
        (first,) = [s for s in await cluster.bridge_sessions() if s["closed"] is None]
        assert cluster.owner_of(first["peer"]) is cut_off
        await cluster.add_nodes(2)
        assert await cluster.wait_for_holder(TAKEOVER) is cut_off

        cable.cut()
        taker = await cluster.wait_for_holder(TAKEOVER, not_=cut_off)

        sessions = await cluster.bridge_sessions()
        assert sessions[0]["peer"] == first["peer"]
        assert cluster.owner_of(sessions[-1]["peer"]) is taker
        for earlier, later in itertools.pairwise(sessions):
            assert earlier["closed"] is not None
            assert earlier["closed"] < later["opened"], sessions
        try:  # and it ends, for its supervisor to start it again as a plain node
            status = await asyncio.wait_for(cut_off.process.proc.wait(), TAKEOVER)
        except TimeoutError:
            raise AssertionError(
                f"{cut_off.name} still runs {TAKEOVER} s after {taker.name} took the link"
            ) from None
        # A failure's status, so a supervisor restarting on failure starts it again.
        assert status == RETIRED_EXIT
