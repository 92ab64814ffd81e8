"""Every finished call becomes exactly one Task, with the agent's notes, codes and record."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection

from proxy.salesforce.standin.org import StandinOrg, demo_user_id
from tests.databases import postgres_url
from tests.harness import RunningProxy, next_message, running_proxy, wait_for_call

# James Okafor's direct line in the demo org (one Contact matches it).
JAMES = "+16504508811"


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[RunningProxy]:
    with running_proxy(
        tmp_path,
        wrap_up_seconds=30,
        task_retry_seconds=0.05,
        classification_codes=["Resolved", "Escalated"],
        account_codes=["ACME-1"],
    ) as running:
        yield running


def org_of(proxy: RunningProxy) -> StandinOrg:
    assert proxy.services.org is not None
    return proxy.services.org


def eventually(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout}s: {check}")
        time.sleep(0.02)


async def next_of(ws: ClientConnection, kind: str, **wanted: Any) -> dict[str, Any]:
    """The next message of type `kind` whose payload fields match `wanted`."""
    while True:
        message = await next_message(ws)
        if message["type"] != kind:
            continue
        body = message.get(kind if kind != "data" else "data", message)
        if all(body.get(k) == v for k, v in wanted.items()):
            return message


async def send(ws: ClientConnection, **message: Any) -> None:
    await ws.send(json.dumps(message))


async def talk_and_hang_up(proxy: RunningProxy, ws: ClientConnection, ani: str = JAMES) -> str:
    call_id = proxy.place_call(ani=ani)
    await wait_for_call(ws, call_id, matching=False)
    await send(ws, type="answer", call_id=call_id)
    await wait_for_call(ws, call_id, state="active")
    await send(ws, type="hangup", call_id=call_id)
    await next_of(ws, "log", call_id=call_id, state="wrapping")
    return call_id


async def test_wrap_up_writes_one_task_with_everything_the_agent_gave(
    proxy: RunningProxy,
) -> None:
    """Notes, quick notes, codes and the matched Contact end up on one completed call Task."""
    async with proxy.connect(proxy.sign_in()) as ws:
        await next_message(ws)
        call_id = await talk_and_hang_up(proxy, ws)
        await send(
            ws,
            type="save_notes",
            call_id=call_id,
            notes="Wants a callback about invoice 42",
            quick_notes=["Will call back"],
        )
        await next_of(ws, "log", call_id=call_id, notes="Wants a callback about invoice 42")
        await send(
            ws,
            type="wrap_up",
            call_id=call_id,
            action="save_exit",
            classification="Resolved",
            account_code="ACME-1",
        )
        queued = await next_of(ws, "log", call_id=call_id, state="queued")
        assert queued["then"] == ""
    org = org_of(proxy)
    (task,) = eventually(lambda: org.tasks(call_id))
    james = next(c for c in org.records["Contact"] if c["Name"] == "James Okafor")
    assert task["Status"] == "Completed"
    assert task["TaskSubtype"] == "Call"
    assert task["CallType"] == "Inbound"
    assert task["Subject"] == "Inbound call +1 650-450-8811"
    assert task["WhoId"] == james["Id"]
    assert task["OwnerId"] == demo_user_id(1)
    assert task["CallDisposition"] == "Resolved"
    assert task["Description"] == (
        "Wants a callback about invoice 42\n\n- Will call back\n\nAccount code: ACME-1"
    )
    assert isinstance(task["CallDurationInSeconds"], int)


async def test_two_tabs_saving_notes_give_one_task_with_the_latest(proxy: RunningProxy) -> None:
    """Both tabs see each other's notes; the Task has the notes saved last, and only once."""
    token = proxy.sign_in()
    async with proxy.connect(token) as tab1, proxy.connect(token) as tab2:
        await next_message(tab1)
        await next_message(tab2)
        call_id = await talk_and_hang_up(proxy, tab1)
        await send(tab1, type="save_notes", call_id=call_id, notes="first draft")
        seen = await next_of(tab2, "log", call_id=call_id, notes="first draft")
        await send(tab2, type="save_notes", call_id=call_id, notes="final words")
        await next_of(tab1, "log", call_id=call_id, notes="final words")
        await send(tab1, type="wrap_up", call_id=call_id, action="save_exit")
        await send(tab2, type="wrap_up", call_id=call_id, action="save_exit")
        refused = await next_of(tab2, "error", call_id=call_id)
        assert refused["code"] == "no_such_call"
        assert seen["log"]["revision"] >= 1
    org = org_of(proxy)
    (task,) = eventually(lambda: org.tasks(call_id))
    assert task["Description"] == "final words"
    await asyncio.sleep(0.3)
    assert len(org.tasks(call_id)) == 1


async def test_follow_up_action_adds_a_task_due_tomorrow(proxy: RunningProxy) -> None:
    """ "Save & Follow-up tomorrow" logs the call and adds an open Task due the next day."""
    async with proxy.connect(proxy.sign_in()) as ws:
        await next_message(ws)
        call_id = await talk_and_hang_up(proxy, ws)
        await send(ws, type="wrap_up", call_id=call_id, action="follow_up")
        await next_of(ws, "log", call_id=call_id, state="queued")
    org = org_of(proxy)
    (call_task,) = eventually(lambda: org.tasks(call_id))
    (follow,) = eventually(lambda: org.tasks(f"{call_id}#follow-up"))
    assert call_task["CallDisposition"] == "Save & Follow-up tomorrow"
    assert follow["Status"] == "Not Started"
    assert follow["ActivityDate"] > call_task["ActivityDate"]
    assert follow["WhoId"] == call_task["WhoId"]


async def test_save_and_new_task_tells_the_page_to_open_a_task_form(proxy: RunningProxy) -> None:
    """The wrap-up action with a new Task asks the page to open the form."""
    async with proxy.connect(proxy.sign_in()) as ws:
        await next_message(ws)
        call_id = await talk_and_hang_up(proxy, ws)
        await send(ws, type="wrap_up", call_id=call_id, action="save_new_task")
        queued = await next_of(ws, "log", call_id=call_id, state="queued")
        assert queued["then"] == "new_task"


async def test_wrap_up_refuses_unknown_codes_and_calls_in_progress(proxy: RunningProxy) -> None:
    """Codes not in the admin's list, unknown actions and a call still on are refused plainly."""
    async with proxy.connect(proxy.sign_in()) as ws:
        await next_message(ws)
        call_id = proxy.place_call(ani=JAMES)
        await wait_for_call(ws, call_id, matching=False)
        await send(ws, type="answer", call_id=call_id)
        await wait_for_call(ws, call_id, state="active")
        await send(ws, type="wrap_up", call_id=call_id, action="save_exit")
        assert (await next_of(ws, "error"))["code"] == "call_in_progress"
        await send(ws, type="hangup", call_id=call_id)
        await next_of(ws, "log", call_id=call_id)
        for bad, code in (
            ({"action": "shred"}, "unknown_action"),
            ({"action": "save_exit", "classification": "Nope"}, "unknown_code"),
            ({"action": "save_exit", "account_code": "DROP TABLE"}, "unknown_code"),
        ):
            await send(ws, type="wrap_up", call_id=call_id, **bad)
            assert (await next_of(ws, "error"))["code"] == code


async def test_an_agent_cannot_touch_another_agents_call_log(proxy: RunningProxy) -> None:
    """Agent 1002 cannot read, annotate or log agent 1001's call."""
    async with proxy.connect(proxy.sign_in()) as ws, proxy.connect(proxy.sign_in("1002")) as other:
        await next_message(ws)
        await next_message(other)
        call_id = await talk_and_hang_up(proxy, ws)
        for message in (
            {"type": "save_notes", "call_id": call_id, "notes": "mine now"},
            {"type": "pick", "call_id": call_id, "record": None},
            {"type": "wrap_up", "call_id": call_id, "action": "save_exit"},
        ):
            await send(other, **message)
            assert (await next_of(other, "error"))["code"] == "no_such_call"
        assert proxy.services.journal.logs[("1001", call_id)].notes == ""


async def test_the_agent_picks_which_match_the_task_is_about(proxy: RunningProxy) -> None:
    """With a record picked, the Task names it (WhatId for an Account)."""
    org = org_of(proxy)
    account = org.records["Account"][0]
    async with proxy.connect(proxy.sign_in()) as ws:
        await next_message(ws)
        call_id = await talk_and_hang_up(proxy, ws)
        record = {"object": "Account", "id": account["Id"], "name": account["Name"]}
        await send(ws, type="pick", call_id=call_id, record=record)
        await next_of(ws, "log", call_id=call_id, picked=record)
        await send(ws, type="wrap_up", call_id=call_id, action="save_exit")
    (task,) = eventually(lambda: org.tasks(call_id))
    assert task["WhatId"] == account["Id"]
    assert "WhoId" not in task


async def test_missed_calls_and_switched_off_directions_are_not_logged(
    proxy: RunningProxy,
) -> None:
    """A missed call is not a Task by default, nor an inbound call once the agent says so."""
    async with proxy.connect(proxy.sign_in()) as ws:
        welcome = await next_message(ws)
        missed = proxy.place_call(ani=JAMES)
        await wait_for_call(ws, missed, matching=False)
        httpx.post(
            f"{proxy.base_url}/sim/calls/{proxy.pbx_call_id(missed)}/hangup"
        ).raise_for_status()
        await next_of(ws, "log", call_id=missed, state="skipped")
        data = (await next_of(ws, "data"))["data"]
        assert [e["call_id"] for e in data["history"]["missed"]] == [missed]
        settings = {**welcome["data"]["settings"], "log_inbound": False}
        await send(ws, type="save_settings", settings=settings)
        await next_of(ws, "data")
        call_id = proxy.place_call(ani=JAMES)
        await wait_for_call(ws, call_id, matching=False)
        await send(ws, type="answer", call_id=call_id)
        await wait_for_call(ws, call_id, state="active")
        await send(ws, type="hangup", call_id=call_id)
        await next_of(ws, "log", call_id=call_id, state="skipped")
    await asyncio.sleep(0.3)
    assert org_of(proxy).tasks() == []


async def test_wrap_up_time_running_out_logs_the_call_anyway(tmp_path: Path) -> None:
    """An agent who walks away still gets their call logged, with the notes they saved."""
    with running_proxy(tmp_path, wrap_up_seconds=0.5) as proxy:
        async with proxy.connect(proxy.sign_in()) as ws:
            await next_message(ws)
            call_id = await talk_and_hang_up(proxy, ws)
            await send(ws, type="save_notes", call_id=call_id, notes="left mid-sentence")
            queued = await next_of(ws, "log", call_id=call_id, state="queued")
            assert queued["log"]["notes"] == "left mid-sentence"
        (task,) = eventually(lambda: org_of(proxy).tasks(call_id))
        assert task["Description"] == "left mid-sentence"
        assert "CallDisposition" not in task


async def test_a_required_classification_blocks_saving_and_cancelling_work(
    tmp_path: Path,
) -> None:
    """With codes required, neither Save nor cancelling the work timer goes through without one;
    choosing it is enough to cancel the timer, which logs the call with it."""
    with running_proxy(
        tmp_path,
        classification_codes=["Resolved"],
        classification_required=True,
        sim_work_seconds=30,
    ) as proxy:
        async with proxy.connect(proxy.sign_in()) as ws:
            await next_message(ws)
            # A queued (ACD) call: the PBX puts the agent in work after it.
            queued = {"ani": JAMES, "queue": "Support"}
            leg = httpx.post(f"{proxy.base_url}/sim/calls", json=queued).json()
            assert leg["agent"] == "1001"
            call_id = proxy.proxy_call_id(leg["call_id"])
            await wait_for_call(ws, call_id, matching=False)
            await send(ws, type="answer", call_id=call_id)
            await wait_for_call(ws, call_id, state="active")
            await send(ws, type="hangup", call_id=call_id)
            await next_of(ws, "log", call_id=call_id, state="wrapping")
            eventually(lambda: proxy.services.states.in_work("1001"))
            await send(ws, type="cancel_work")
            assert (await next_of(ws, "error"))["code"] == "classification_required"
            await send(ws, type="wrap_up", call_id=call_id, action="save_exit")
            assert (await next_of(ws, "error"))["code"] == "classification_required"
            # Choosing the code (without saving yet) is enough to end the work timer.
            await send(ws, type="set_codes", call_id=call_id, classification="Resolved")
            await next_of(ws, "log", call_id=call_id, classification="Resolved")
            await send(ws, type="cancel_work")
            status = (await next_of(ws, "agent"))["status"]
            assert status["state"] != "work"
            # Leaving work logs the call, with the code chosen.
            await next_of(ws, "log", call_id=call_id, state="queued")
        (task,) = eventually(lambda: org_of(proxy).tasks(call_id))
        assert task["CallDisposition"] == "Resolved"


async def test_favorites_and_history_follow_the_agent_to_every_tab(proxy: RunningProxy) -> None:
    """A favorite starred in one tab shows in the other; the 51st is refused; history fills."""
    token = proxy.sign_in()
    async with proxy.connect(token) as tab1, proxy.connect(token) as tab2:
        await next_message(tab1)
        await next_message(tab2)
        favorite = {"number": JAMES, "name": "James Okafor", "object": "Contact"}
        await send(tab1, type="favorite_add", favorite=favorite)
        data = (await next_of(tab2, "data"))["data"]
        assert [f["name"] for f in data["favorites"]] == ["James Okafor"]
        for n in range(49):
            await send(tab1, type="favorite_add", favorite={"number": f"+1415555{n:04d}"})
        await send(tab1, type="favorite_add", favorite={"number": "+14155559999"})
        assert (await next_of(tab1, "error"))["code"] == "favorites_full"
        call_id = await talk_and_hang_up(proxy, tab1)
        while not (data := (await next_of(tab2, "data"))["data"])["history"]["all"]:
            pass
        (entry,) = data["history"]["received"]
        assert (entry["call_id"], entry["name"], entry["outcome"]) == (
            call_id,
            "James Okafor",
            "answered",
        )
        assert len(data["favorites"]) == 50


async def test_the_whole_flow_runs_on_postgresql(tmp_path: Path) -> None:
    """With SOFTPHONE_DATABASE_URL on PostgreSQL, a call still ends as its one Task."""
    async with postgres_url() as url:
        with running_proxy(tmp_path, database_url=url, wrap_up_seconds=0) as proxy:
            async with proxy.connect(proxy.sign_in()) as ws:
                await next_message(ws)
                call_id = proxy.place_call(ani=JAMES)
                await wait_for_call(ws, call_id, matching=False)
                await send(ws, type="answer", call_id=call_id)
                await wait_for_call(ws, call_id, state="active")
                await send(ws, type="save_notes", call_id=call_id, notes="on postgres")
                await next_of(ws, "log", call_id=call_id, notes="on postgres")
                await send(ws, type="hangup", call_id=call_id)
                await next_of(ws, "log", call_id=call_id, state="queued")
            (task,) = eventually(lambda: org_of(proxy).tasks(call_id))
            assert task["Description"] == "on postgres"
