"""An inbound call from the simulator rings the agent's sockets and pops the right record."""

from __future__ import annotations

import json
from typing import Any

from tests.harness import RunningProxy, next_message, wait_for_call


async def test_caller_id_pops_contact_stored_in_national_format(proxy: RunningProxy) -> None:
    """ANI +16504508810 pops the Contact whose phone is stored as (650) 450-8810."""
    async with proxy.connect(proxy.sign_in()) as ws:
        welcome = await next_message(ws)
        assert welcome["type"] == "welcome" and welcome["calls"] == []
        call_id = proxy.place_call(ani="+16504508810", dnis="8005550100", queue="Support")
        ringing = await wait_for_call(ws, call_id, state="ringing")
        assert ringing["call"]["ani_display"] == "+1 650-450-8810"
        assert ringing["call"]["queue"] == "Support"
        popped = await wait_for_call(ws, call_id, matching=False)
        call = popped["call"]
        assert call["caller_name"] == "Maria Chen"
        assert call["pop"]["kind"] == "record"
        assert [(m["object"], m["name"]) for m in call["pop"]["matches"]] == [
            ("Contact", "Maria Chen")
        ]
        contact = proxy.services.org.get(call["pop"]["matches"][0]["id"])  # type: ignore[union-attr]
        assert contact is not None and contact[1]["Phone"] == "(650) 450-8810"


async def test_ivr_case_number_pops_the_case(proxy: RunningProxy) -> None:
    """IVR data Case.CaseNumber=00001027 pops that Case."""
    async with proxy.connect(proxy.sign_in()) as ws:
        await next_message(ws)
        call_id = proxy.place_call(ani="", ivr=["Case.CaseNumber=00001027"])
        popped = await wait_for_call(ws, call_id, matching=False)
        pop = popped["call"]["pop"]
        assert pop["kind"] == "record" and pop["rule"] == "ivr"
        assert [(m["object"], m["name"]) for m in pop["matches"]] == [("Case", "00001027")]
        assert popped["call"]["ivr"] == ["Case.CaseNumber=00001027"]


async def test_unknown_number_pops_new_contact_prefilled(proxy: RunningProxy) -> None:
    """A caller nobody knows pops a new Contact form with the number filled in."""
    async with proxy.connect(proxy.sign_in()) as ws:
        await next_message(ws)
        call_id = proxy.place_call(ani="+14155550000")
        popped = await wait_for_call(ws, call_id, matching=False)
        pop = popped["call"]["pop"]
        assert pop["kind"] == "new_record"
        assert pop["object"] == "Contact"
        assert pop["defaults"] == {"Phone": "+1 415-555-0000"}
        assert popped["call"]["caller_name"] == ""


async def test_answer_then_hang_up_gives_exact_event_sequence(proxy: RunningProxy) -> None:
    """The page sees ringing, the pop, active after Answer, cleared after Hang up: in order."""
    async with proxy.connect(proxy.sign_in()) as ws:
        base = (await next_message(ws))["seq"]
        call_id = proxy.place_call(ani="+16504508811")

        async def next_call() -> dict[str, Any]:
            # The call's log and the history travel in the same numbered stream.
            while (message := await next_message(ws))["type"] != "call":
                seqs.append(message["seq"])
            seqs.append(message["seq"])
            return message

        seqs: list[int] = [base]
        seen = [await next_call(), await next_call()]
        await ws.send(json.dumps({"type": "answer", "call_id": call_id}))
        seen.append(await next_call())
        await ws.send(json.dumps({"type": "hangup", "call_id": call_id}))
        seen.append(await next_call())
        steps = [(m["call"]["state"], m["call"]["matching"]) for m in seen]
        assert steps == [
            ("ringing", True),
            ("ringing", False),
            ("active", False),
            ("cleared", False),
        ]
        assert seqs == list(range(base, base + len(seqs)))
        assert seen[1]["call"]["caller_name"] == "James Okafor"


async def test_every_tab_of_the_agent_sees_the_call(proxy: RunningProxy) -> None:
    """Two sockets of one agent (two Salesforce tabs) both receive the ringing call."""
    token = proxy.sign_in()
    async with proxy.connect(token) as tab1, proxy.connect(token) as tab2:
        await next_message(tab1)
        await next_message(tab2)
        call_id = proxy.place_call(ani="+16504508810")
        for tab in (tab1, tab2):
            assert (await wait_for_call(tab, call_id, matching=False))["call"]["caller_name"]


async def test_other_agents_do_not_see_the_call(proxy: RunningProxy) -> None:
    """A call for 1001 never reaches 1002's socket."""
    async with (
        proxy.connect(proxy.sign_in("1001")) as ws1,
        proxy.connect(proxy.sign_in("1002")) as ws2,
    ):
        await next_message(ws1)
        await next_message(ws2)
        call_id = proxy.place_call(agent="1001", ani="+16504508810")
        await wait_for_call(ws1, call_id, matching=False)
        await ws2.send(json.dumps({"type": "ping"}))
        assert (await next_message(ws2))["type"] == "pong"


async def test_repeat_caller_within_cache_ttl_costs_no_api_call(proxy: RunningProxy) -> None:
    """The second call from the same number is matched without another Salesforce request."""
    async with proxy.connect(proxy.sign_in()) as ws:
        await next_message(ws)
        first = proxy.place_call(ani="+16504508812")
        await wait_for_call(ws, first, matching=False)
        after_first = proxy.api_calls
        second = proxy.place_call(ani="(650) 450-8812")
        popped = await wait_for_call(ws, second, matching=False)
        assert popped["call"]["caller_name"] == "Priya Raman"
        assert proxy.api_calls == after_first


async def test_the_page_used_last_owns_the_pop_across_browsers(proxy: RunningProxy) -> None:
    """Two pages of one agent (any browsers): the one that said it is in use owns the pop;
    when it closes, the other owns the next one."""
    token = proxy.sign_in()
    async with proxy.connect(token) as first, proxy.connect(token) as second:
        page_one = (await next_message(first))["page"]
        page_two = (await next_message(second))["page"]
        assert page_one and page_two and page_one != page_two
        await first.send(json.dumps({"type": "active"}))
        call_id = proxy.place_call(ani="+16504508811")
        popped = await wait_for_call(second, call_id, matching=False)
        assert popped["call"]["pop_owner"] == page_one
    async with proxy.connect(token) as third:
        page_three = (await next_message(third))["page"]
        async with proxy.connect(token) as fourth:
            await next_message(fourth)
        call_id = proxy.place_call(ani="+16504508812")
        popped = await wait_for_call(third, call_id, matching=False)
        assert popped["call"]["pop_owner"] == page_three  # the fourth page has closed
