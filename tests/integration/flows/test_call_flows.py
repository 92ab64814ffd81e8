"""Every call flow an agent has, through the simulator, the bridge link, the proxy and a real
websocket client as the page: the exact sequence of states the page receives."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection

from tests.harness import RunningProxy, next_message, running_proxy


@pytest.fixture
def fast_proxy(tmp_path: Path) -> Iterator[RunningProxy]:
    """The demo proxy with the simulator's timers short enough to test ringback and work time."""
    with running_proxy(
        tmp_path,
        sim_hold_timeout_seconds=0.3,
        sim_transfer_recall_seconds=0.3,
        sim_work_seconds=0.3,
    ) as running:
        yield running


class Page:
    """An agent's softphone page: a real websocket client speaking the browser protocol."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws

    async def send(self, type_: str, **fields: Any) -> None:
        await self.ws.send(json.dumps({"type": type_, **fields}))

    async def next(self, wanted: str = "call", timeout: float = 5.0) -> dict[str, Any]:
        """The next message of type `wanted`, skipping the others."""
        while True:
            message = await next_message(self.ws, timeout)
            if message["type"] == wanted:
                return message

    async def states(self, n: int) -> list[tuple[str, str]]:
        """The next `n` call updates as (call id, state)."""
        return [
            (m["call"]["call_id"], m["call"]["state"])
            for m in [await self.next() for _ in range(n)]
        ]


@pytest.fixture
async def pages(proxy: RunningProxy) -> AsyncIterator[dict[str, Page]]:
    yield await open_pages(proxy)


async def open_pages(proxy: RunningProxy) -> dict[str, Page]:
    pages = {}
    for agent in ("1001", "1002", "1003"):
        ws = await proxy.connect(proxy.sign_in(agent))
        await next_message(ws)  # welcome
        pages[agent] = Page(ws)
    return pages


def sim(proxy: RunningProxy, path: str, **body: Any) -> dict[str, Any]:
    """A simulator control request; a call named by the page's id is named by the PBX's."""
    parts = path.split("/")
    if len(parts) == 3 and parts[0] == "calls":
        parts[1] = proxy.pbx_call_id(parts[1])
    response = httpx.post(f"{proxy.base_url}/sim/{'/'.join(parts)}", json=body or None)
    response.raise_for_status()
    return response.json() if response.content else {}


async def answered_call(proxy: RunningProxy, page: Page, agent: str = "1001") -> str:
    """An inbound call the agent has answered; its pop already decided."""
    call_id = proxy.place_call(agent=agent, ani="+16504508810")
    assert await page.states(2) == [(call_id, "ringing")] * 2
    await page.send("answer", call_id=call_id)
    assert await page.states(1) == [(call_id, "active")]
    return call_id


async def test_hold_and_retrieve(proxy: RunningProxy, pages: dict[str, Page]) -> None:
    """Hold, retrieve, hang up: held, active, cleared."""
    page = pages["1001"]
    call_id = await answered_call(proxy, page)
    await page.send("hold", call_id=call_id)
    assert await page.states(1) == [(call_id, "held")]
    await page.send("retrieve", call_id=call_id)
    assert await page.states(1) == [(call_id, "active")]
    await page.send("hangup", call_id=call_id)
    assert await page.states(1) == [(call_id, "cleared")]


async def test_hold_timeout_rings_back(fast_proxy: RunningProxy) -> None:
    """A call left on hold past the timeout rings at the agent again."""
    page = (await open_pages(fast_proxy))["1001"]
    call_id = await answered_call(fast_proxy, page)
    await page.send("hold", call_id=call_id)
    assert await page.states(2) == [(call_id, "held"), (call_id, "ringing")]
    await page.send("answer", call_id=call_id)
    assert await page.states(1) == [(call_id, "active")]


async def test_redirect_a_ringing_call_to_a_colleague(
    proxy: RunningProxy, pages: dict[str, Page]
) -> None:
    """Redirect without answering: the agent's call ends, the colleague's phone rings."""
    call_id = proxy.place_call(agent="1001", ani="+16504508810")
    assert await pages["1001"].states(1) == [(call_id, "ringing")]
    await pages["1001"].send("redirect", call_id=call_id, number="1002")
    left = await pages["1001"].next()
    while left["call"]["state"] != "cleared":
        left = await pages["1001"].next()
    assert left["call"]["reason"] == "redirected"
    arrived = await pages["1002"].next()
    assert arrived["call"]["state"] == "ringing" and arrived["call"]["ani"] == "+16504508810"


async def test_dial_out_applies_the_dialing_prefixes(
    proxy: RunningProxy, pages: dict[str, Page]
) -> None:
    """Dialing a national number goes out as outside line + long distance + number."""
    page = pages["1001"]
    await page.send("dial", number="(415) 555-0132")
    dialing = (await page.next())["call"]
    assert dialing["state"] == "dialing" and dialing["direction"] == "outbound"
    assert dialing["parties"] == [{"number": "914155550132", "name": "", "status": "ringing"}]
    sim(proxy, f"calls/{dialing['call_id']}/far-answer")
    assert await page.states(1) == [(dialing["call_id"], "active")]


async def test_dial_a_busy_number_fails_with_reason(
    proxy: RunningProxy, pages: dict[str, Page]
) -> None:
    """A busy far end ends the call with the reason the page can show."""
    page = pages["1001"]
    await page.send("dial", number="4155550132")
    call_id = (await page.next())["call"]["call_id"]
    sim(proxy, f"calls/{call_id}/far-busy")
    failed = (await page.next())["call"]
    assert (failed["state"], failed["reason"]) == ("cleared", "busy")


async def test_supervised_transfer_to_a_colleague(
    proxy: RunningProxy, pages: dict[str, Page]
) -> None:
    """Consult 1002, speak, complete: the caller ends up with 1002, the agent is free."""
    me, colleague = pages["1001"], pages["1002"]
    call_id = await answered_call(proxy, me)
    await me.send("consult", call_id=call_id, number="1002")
    assert (await me.next())["call"]["state"] == "consultation"
    consult = (await me.next())["call"]
    assert (consult["state"], consult["consult_of"]) == ("dialing", call_id)
    ring = (await colleague.next())["call"]
    await colleague.send("answer", call_id=ring["call_id"])
    assert (await me.next())["call"]["state"] == "active"  # the consultation call connects
    await me.send("complete_transfer", call_id=call_id)
    ended = {m["call"]["call_id"]: m["call"]["state"] for m in [await me.next(), await me.next()]}
    assert ended == {call_id: "cleared", consult["call_id"]: "cleared"}
    while (update := (await colleague.next())["call"])["parties"][0]["number"] != "+16504508810":
        pass
    assert update["state"] == "active"


async def test_unsupervised_transfer_rings_back_when_nobody_answers(
    fast_proxy: RunningProxy,
) -> None:
    """A blind transfer that nobody answers comes back to the agent as a new ringing call."""
    pages = await open_pages(fast_proxy)
    me = pages["1001"]
    call_id = await answered_call(fast_proxy, me)
    await me.send("transfer", call_id=call_id, number="1003")
    left = (await me.next())["call"]
    assert (left["call_id"], left["state"], left["reason"]) == (call_id, "cleared", "completed")
    assert (await pages["1003"].next())["call"]["state"] == "ringing"
    back = (await me.next(timeout=5))["call"]
    assert back["state"] == "ringing" and back["reason"] == "transfer_recall"
    assert back["call_id"] != call_id and back["ani"] == "+16504508810"


async def test_three_way_conference(proxy: RunningProxy, pages: dict[str, Page]) -> None:
    """Consult an outside number, conference it in: one call, two other parties connected."""
    me = pages["1001"]
    call_id = await answered_call(proxy, me)
    await me.send("consult", call_id=call_id, number="4155550199")
    await me.next()  # consultation hold
    consult = (await me.next())["call"]
    sim(proxy, f"calls/{consult['call_id']}/far-answer")
    assert (await me.next())["call"]["state"] == "active"
    await me.send("conference", call_id=call_id)
    updates = {m["call"]["call_id"]: m["call"] for m in [await me.next(), await me.next()]}
    assert updates[consult["call_id"]]["state"] == "cleared"
    merged = updates[call_id]
    assert merged["state"] == "conference"
    assert [p["number"] for p in merged["parties"]] == ["+16504508810", "914155550199"]


async def test_dtmf_reaches_the_pbx(proxy: RunningProxy, pages: dict[str, Page]) -> None:
    """Tones sent during a call arrive at the PBX; bad tones are refused by the core."""
    me = pages["1001"]
    call_id = await answered_call(proxy, me)
    await me.send("dtmf", call_id=call_id, digits="12#")
    await me.send("dtmf", call_id=call_id, digits="12a")
    error = await me.next("error")
    assert error["code"] == "bad_digits"
    assert (
        proxy.services.pbx is not None
        and proxy.services.pbx.legs[proxy.pbx_call_id(call_id)].dtmf == "12#"
    )


async def test_agent_states_make_busy_dnd_ready(
    proxy: RunningProxy, pages: dict[str, Page]
) -> None:
    """Make busy with a reason, DND, back to ready: each comes back as the agent's status."""
    me = pages["1001"]
    await me.send("set_state", state="busy", reason="Lunch")
    status = (await me.next("agent"))["status"]
    assert (status["state"], status["reason"]) == ("busy", "Lunch")
    await me.send("set_state", state="busy", reason="Nap")
    assert (await me.next("error"))["code"] == "bad_reason"
    await me.send("set_state", state="dnd")
    assert (await me.next("agent"))["status"]["state"] == "dnd"
    refused = httpx.post(f"{proxy.base_url}/sim/calls", json={"agent": "1001", "ani": "1"})
    assert refused.status_code == 409  # DND: the PBX does not ring the agent
    await me.send("set_state", state="ready")
    assert (await me.next("agent"))["status"]["state"] == "ready"


async def test_acd_queue_work_timer_and_cancel(fast_proxy: RunningProxy) -> None:
    """A queued call goes to a ready agent of the group; after it, the work timer runs."""
    pages = await open_pages(fast_proxy)
    for agent in ("1002", "1003"):
        await pages[agent].send("set_state", state="busy", reason="Break")
        await pages[agent].next("agent")
    me = pages["1001"]
    leg = sim(fast_proxy, "calls", ani="+16504508810", queue="Support")
    assert leg["agent"] == "1001"
    assert (await me.next())["call"]["queue"] == "Support"
    call_id = fast_proxy.proxy_call_id(leg["call_id"])
    await me.send("answer", call_id=call_id)
    await me.send("hangup", call_id=call_id)
    assert (await me.next("agent"))["status"]["state"] == "work"
    assert (await me.next("agent", timeout=3))["status"]["state"] == "ready"
    await me.send("cancel_work")
    assert (await me.next("error"))["code"] == "no_work_timer"


async def test_acd_group_login_and_logout(proxy: RunningProxy, pages: dict[str, Page]) -> None:
    """An ACD agent joins and leaves groups; the status lists them."""
    me = pages["1001"]
    await me.send("acd_login", group="Sales")
    assert (await me.next("agent"))["status"]["groups"] == ["Sales", "Support"]
    await me.send("acd_logout", group="Support")
    assert (await me.next("agent"))["status"]["groups"] == ["Sales"]
    await me.send("acd_logout", group="Support")
    assert (await me.next("error"))["message"] == "Not logged in to Support"


async def test_impossible_commands_say_why(proxy: RunningProxy, pages: dict[str, Page]) -> None:
    """A transfer of a held call is refused with what to do instead."""
    me = pages["1001"]
    call_id = await answered_call(proxy, me)
    await me.send("hold", call_id=call_id)
    await me.next()
    await me.send("transfer", call_id=call_id, number="1002")
    error = await me.next("error")
    assert error["message"] == "Retrieve the call before transferring it"
    await me.send("dial", number="1002")
    await me.next()  # dialing over a held call is fine
    await asyncio.sleep(0)


async def test_acd_agent_logs_out_and_in(proxy: RunningProxy, pages: dict[str, Page]) -> None:
    """Logged out, the phone does not ring; logged in again, it does."""
    me = pages["1001"]
    await me.send("logout")
    assert (await me.next("agent"))["status"]["state"] == "logged_out"
    refused = httpx.post(f"{proxy.base_url}/sim/calls", json={"agent": "1001", "ani": "1"})
    assert refused.status_code == 409
    await me.send("logout")
    assert (await me.next("error"))["message"] == "Already logged out"
    await me.send("login")
    assert (await me.next("agent"))["status"]["state"] == "ready"


async def test_collected_digits_reach_the_page(proxy: RunningProxy, pages: dict[str, Page]) -> None:
    """Digits the IVR collected without a tag arrive with the ringing call."""
    leg = sim(proxy, "calls", agent="1001", ani="+16504508810", digits="4411")
    ringing = (await pages["1001"].next())["call"]
    call_id = proxy.proxy_call_id(leg["call_id"])
    assert (ringing["call_id"], ringing["digits"]) == (call_id, "4411")


async def test_transfer_to_unreachable_colleague_keeps_the_caller(
    proxy: RunningProxy, pages: dict[str, Page]
) -> None:
    """A blind transfer to a colleague in DND is refused and the call stays with the agent."""
    await pages["1002"].send("set_state", state="dnd")
    await pages["1002"].next("agent")
    me = pages["1001"]
    call_id = await answered_call(proxy, me)
    await me.send("transfer", call_id=call_id, number="1002")
    error = await me.next("error")
    assert (error["code"], error["message"]) == ("busy", "1002 is dnd")
    assert (
        proxy.services.pbx is not None
        and proxy.services.pbx.legs[proxy.pbx_call_id(call_id)].state == "active"
    )
