"""Agents as real rosters have them (addresses that are not extensions, hot desks) and calls as
real PBXs number them (ids reused after a restart), end to end through the simulator."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from proxy.agents.auth import hash_password
from proxy.store import AgentRecord
from tests.harness import RunningProxy, next_message, running_proxy, wait_for_call
from tests.integration.flows.test_call_log import eventually, next_of, org_of, send

JAMES = "+16504508811"  # one Contact in the demo org: James Okafor
MARIA = "maria@demo.example"  # on extension 2201
DESK = "desk@demo.example"  # hot desk


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[RunningProxy]:
    with running_proxy(tmp_path, wrap_up_seconds=0, task_retry_seconds=0.05) as running:
        yield running


def sign_in(proxy: RunningProxy, address: str, **extra: str) -> httpx.Response:
    body = {"address": address, "password": "demo", **extra}
    return httpx.post(f"{proxy.base_url}/api/v1/sessions", json=body)


async def test_an_agent_whose_address_is_not_the_extension_gets_the_call_and_one_task(
    proxy: RunningProxy,
) -> None:
    """A call to 2201 rings, pops, is answered by maria@demo.example and logs exactly one Task."""
    async with proxy.connect(proxy.sign_in(MARIA)) as ws:
        welcome = await next_message(ws)
        assert welcome["agent"]["extension"] == "2201"
        call_id = proxy.place_call(agent="2201", ani=JAMES)
        assert "@" not in call_id and call_id != proxy.pbx_call_id(call_id)
        popped = await wait_for_call(ws, call_id, matching=False)
        assert popped["call"]["caller_name"] == "James Okafor"
        await send(ws, type="answer", call_id=call_id)
        await wait_for_call(ws, call_id, state="active")
        await send(ws, type="hangup", call_id=call_id)
        await next_of(ws, "log", call_id=call_id, state="queued")
    (task,) = eventually(lambda: org_of(proxy).tasks(call_id))
    assert task["CallObject"] == call_id
    await asyncio.sleep(0.3)  # a second write would land by now
    assert len(org_of(proxy).tasks()) == 1


async def test_a_call_ringing_before_its_agent_signs_in_is_in_the_welcome(
    proxy: RunningProxy,
) -> None:
    """Maria's phone rings while nobody is signed in; signing in, her welcome has the call."""
    call_id = proxy.place_call(agent="2201", ani=JAMES)
    async with proxy.connect(proxy.sign_in(MARIA)) as ws:
        welcome = await next_message(ws)
        assert [(c["call_id"], c["state"]) for c in welcome["calls"]] == [(call_id, "ringing")]
        await send(ws, type="answer", call_id=call_id)
        await wait_for_call(ws, call_id, state="active")


async def test_hot_desk_sign_in_takes_the_chosen_extension_and_only_one_agent_holds_it(
    proxy: RunningProxy,
) -> None:
    """The hot-desk agent signs in at 2302 and gets its calls; nobody else can take 2302 until
    they sign out, a desk user cannot choose an extension, and a bad one is refused plainly."""
    proxy.run(
        proxy.services.store.put_agent(
            AgentRecord("kim@demo.example", "Kim", "2303", "hot_desk", hash_password("demo"))
        )
    )
    proxy.run(proxy.services.seating.reload_roster())
    token = proxy.sign_in(DESK, extension="2302")
    async with proxy.connect(token) as ws:
        welcome = await next_message(ws)
        assert welcome["agent"]["extension"] == "2302"
        call_id = proxy.place_call(agent="2302", ani=JAMES)
        await wait_for_call(ws, call_id, state="ringing")
        await send(ws, type="answer", call_id=call_id)
        await wait_for_call(ws, call_id, state="active")
        taken = sign_in(proxy, "kim@demo.example", extension="2302")
        assert (taken.status_code, taken.json()["detail"]["code"]) == (409, "extension_taken")
        desk_user = sign_in(proxy, MARIA, extension="2302")
        assert (desk_user.status_code, desk_user.json()["detail"]["code"]) == (400, "not_hot_desk")
        bad = sign_in(proxy, "kim@demo.example", extension="22a")
        assert (bad.status_code, bad.json()["detail"]["code"]) == (400, "bad_extension")
        maria_phone = sign_in(proxy, "kim@demo.example", extension="2201")
        assert maria_phone.status_code == 409
    signed_out = httpx.delete(
        f"{proxy.base_url}/api/v1/sessions", headers={"authorization": f"Bearer {token}"}
    )
    assert signed_out.status_code == 204
    assert sign_in(proxy, "kim@demo.example", extension="2302").status_code == 201


async def test_another_agents_call_cannot_be_touched(proxy: RunningProxy) -> None:
    """Agent 1001 naming Maria's call (by the id her page has) is refused; her call rings on."""
    call_id = proxy.place_call(agent="2201", ani=JAMES)
    async with proxy.connect(proxy.sign_in("1001")) as ws:
        await next_message(ws)
        await send(ws, type="answer", call_id=call_id)
        assert (await next_of(ws, "error"))["code"] == "no_such_call"
    assert proxy.services.states.machine(MARIA).calls[call_id].state == "ringing"


def restart_pbx(proxy: RunningProxy) -> None:
    link = proxy.services.link
    reconnects = link.reconnects
    httpx.post(f"{proxy.base_url}/sim/restart").raise_for_status()
    eventually(lambda: link.reconnects > reconnects and link.connected)


async def test_a_pbx_restart_reusing_call_ids_logs_each_call_once(proxy: RunningProxy) -> None:
    """Three calls, a PBX restart that numbers calls from 1 again, three more: six Tasks."""
    pbx_ids: list[str] = []
    call_ids: list[str] = []
    async with proxy.connect(proxy.sign_in("1001")) as ws:
        await next_message(ws)
        for round_ in range(2):
            if round_:
                restart_pbx(proxy)
            for _ in range(3):
                call_id = proxy.place_call(ani=JAMES)
                pbx_ids.append(proxy.pbx_call_id(call_id))
                call_ids.append(call_id)
                await wait_for_call(ws, call_id, state="ringing")
                await send(ws, type="answer", call_id=call_id)
                await wait_for_call(ws, call_id, state="active")
                await send(ws, type="hangup", call_id=call_id)
                await next_of(ws, "log", call_id=call_id, state="queued")
    assert pbx_ids[:3] == pbx_ids[3:]  # the PBX reused its ids
    eventually(lambda: len(org_of(proxy).tasks()) >= 6)
    await asyncio.sleep(0.3)  # a duplicate would land by now
    counts = Counter(t["CallObject"] for t in org_of(proxy).tasks())
    assert counts == Counter(call_ids) and len(counts) == 6


KIM = "kim@demo.example"  # a second hot-desk agent, added by the tests that need one


def add_kim(proxy: RunningProxy) -> None:
    kim = AgentRecord(KIM, "Kim", "2303", "hot_desk", hash_password("demo"))
    proxy.run(proxy.services.store.put_agent(kim))
    proxy.run(proxy.services.seating.reload_roster())


def phone_state(proxy: RunningProxy, device: str) -> str:
    assert proxy.services.pbx is not None
    return str(proxy.services.pbx.agents[device].state.value)


def current_extension(proxy: RunningProxy, token: str) -> str:
    headers = {"authorization": f"Bearer {token}"}
    agent = httpx.get(f"{proxy.base_url}/api/v1/sessions/current", headers=headers).json()["agent"]
    return str(agent["extension"])


async def test_a_hot_desk_seat_outlives_a_proxy_restart(tmp_path: Path) -> None:
    """After a restart (the simulator's too, which forgets the phone), the hot-desk agent's
    session still holds 2302: the phone is logged in again, rings on their page, and nobody
    else can take it."""
    with running_proxy(tmp_path) as proxy:
        add_kim(proxy)
        token = proxy.sign_in(DESK, extension="2302")
    with running_proxy(tmp_path) as proxy:
        assert current_extension(proxy, token) == "2302"
        taken = sign_in(proxy, KIM, extension="2302")
        assert (taken.status_code, taken.json()["detail"]["code"]) == (409, "extension_taken")
        eventually(lambda: proxy.services.pbx is not None and "2302" in proxy.services.pbx.agents)
        async with proxy.connect(token) as ws:
            assert (await next_message(ws))["agent"]["extension"] == "2302"
            call_id = proxy.place_call(agent="2302", ani=JAMES)
            await wait_for_call(ws, call_id, state="ringing")


async def test_a_hot_desk_phone_is_freed_when_the_agents_last_session_ends(
    proxy: RunningProxy,
) -> None:
    """Signing out one of two sessions keeps the phone; once the other has expired (the clock
    past its end), the next check frees the phone, logs it out, and Kim can sit there."""
    add_kim(proxy)
    seating = proxy.services.seating
    first = proxy.sign_in(DESK, extension="2302")
    second = proxy.sign_in(DESK)  # holds 2302 already: nothing to ask
    assert current_extension(proxy, second) == "2302"
    headers = {"authorization": f"Bearer {first}"}
    assert httpx.delete(f"{proxy.base_url}/api/v1/sessions", headers=headers).status_code == 204
    assert seating.device_of(DESK) == "2302" and phone_state(proxy, "2302") == "ready"
    assert proxy.run(seating.free_seats()) == []
    later = time.time() + proxy.services.auth.session_seconds + 60
    assert proxy.run(seating.free_seats(now=later)) == [DESK]
    assert seating.device_of(DESK) == ""
    assert proxy.run(proxy.services.store.list_seats()) == {}
    assert phone_state(proxy, "2302") == "logged_out"
    assert sign_in(proxy, KIM, extension="2302").status_code == 201


async def test_removing_a_seated_hot_desk_agent_frees_and_logs_out_the_phone(
    proxy: RunningProxy,
) -> None:
    """An admin removes the hot-desk agent sitting at 2302: the phone is logged out and free."""
    add_kim(proxy)
    proxy.sign_in(DESK, extension="2302")
    assert proxy.run(proxy.services.store.delete_agent(DESK))
    proxy.run(proxy.services.seating.reload_roster())
    assert phone_state(proxy, "2302") == "logged_out"
    assert proxy.run(proxy.services.store.list_seats()) == {}
    assert sign_in(proxy, KIM, extension="2302").status_code == 201


async def test_a_call_that_changes_hands_is_logged_once_for_each_agent(
    proxy: RunningProxy,
) -> None:
    """The hot-desk agent answers at 2302 and signs out mid-call; Kim sits at 2302 and gets
    the call under a new id, then hangs up: two Tasks, one per agent, each written once."""
    add_kim(proxy)
    desk = proxy.sign_in(DESK, extension="2302")
    async with proxy.connect(desk) as ws:
        await next_message(ws)
        call_id = proxy.place_call(agent="2302", ani=JAMES)
        await wait_for_call(ws, call_id, state="ringing")
        await send(ws, type="answer", call_id=call_id)
        await wait_for_call(ws, call_id, state="active")
    headers = {"authorization": f"Bearer {desk}"}
    assert httpx.delete(f"{proxy.base_url}/api/v1/sessions", headers=headers).status_code == 204
    async with proxy.connect(proxy.sign_in(KIM, extension="2302")) as ws:
        (call,) = (await next_message(ws))["calls"]
        assert call["state"] == "active" and call["call_id"] != call_id
        await send(ws, type="hangup", call_id=call["call_id"])
        await next_of(ws, "log", call_id=call["call_id"], state="queued")
    eventually(lambda: len(org_of(proxy).tasks()) >= 2)
    await asyncio.sleep(0.3)  # a duplicate would land by now
    counts = Counter(t["CallObject"] for t in org_of(proxy).tasks())
    assert counts == Counter([call_id, call["call_id"]])
