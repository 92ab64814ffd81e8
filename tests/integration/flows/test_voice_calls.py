"""Salesforce Voice: a Voice agent's calls become VoiceCalls at the org, each written once.

The whole proxy runs (simulator PBX, stand-in org serving the Telephony Integration API over
HTTPS with JWT checks); agents connect with the real websockets client, the Voice connector's
way (offering `voice.connector`) or the Open CTI page's.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from websockets.asyncio.client import ClientConnection

from proxy.salesforce.standin.telephony import StandinTelephony, new_key_pair
from tests.harness import RunningProxy, next_message, running_proxy, wait_for_call
from tests.integration.flows.test_call_log import JAMES, eventually, next_of, org_of, send


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[RunningProxy]:
    with running_proxy(
        tmp_path,
        voice_scrt_url="standin://",
        wrap_up_seconds=0,
        task_retry_seconds=0.05,
        log_missed=True,
    ) as running:
        yield running


def center(proxy: RunningProxy) -> StandinTelephony:
    return org_of(proxy).telephony


def voice_socket(proxy: RunningProxy, agent: str = "1001") -> Any:
    token = proxy.sign_in(agent)
    protocols: Any = ["softphone.v2", f"auth.{token}", "voice.connector"]
    return websockets.connect(proxy.ws_url, subprotocols=protocols)


async def ring(proxy: RunningProxy, ws: ClientConnection, agent: str = "1001") -> str:
    call_id = proxy.place_call(agent=agent, ani=JAMES)
    await wait_for_call(ws, call_id, state="ringing")
    return call_id


def sim(proxy: RunningProxy, path: str) -> None:
    httpx.post(f"{proxy.base_url}/sim{path}").raise_for_status()


async def test_a_voice_agents_call_is_one_voicecall_created_at_the_ring_and_ended_once(
    proxy: RunningProxy,
) -> None:
    """Ring -> POST /voiceCalls keyed by our call id, with the matched Contact in
    callAttributes; hold, retrieve, hang up -> one PATCH with the hold counted; and no Task,
    since Salesforce Voice keeps the call itself."""
    async with voice_socket(proxy) as ws:
        await next_message(ws)
        call_id = await ring(proxy, ws)
        created = eventually(lambda: center(proxy).voice_calls.get(call_id))
        assert created["initiationMethod"] == "Inbound"
        assert created["from"] == JAMES and created["to"]
        assert created["participants"] == [{"participantKey": JAMES, "type": "END_USER"}]
        # Our caller matching's find travels with it, for a flow to relate or open.
        james = org_of(proxy).find_by_phone(JAMES)
        attributes = json.loads(created["callAttributes"])
        assert attributes["matches"] == [{"object": "Contact", "id": james[0]["id"]}]
        await send(ws, type="answer", call_id=call_id)
        await wait_for_call(ws, call_id, state="active")
        await send(ws, type="hold", call_id=call_id)
        await wait_for_call(ws, call_id, state="held")
        await send(ws, type="retrieve", call_id=call_id)
        await wait_for_call(ws, call_id, state="active")
        await send(ws, type="hangup", call_id=call_id)
        await next_of(ws, "log", call_id=call_id, state="queued")
    updates = eventually(lambda: [u for k, u in center(proxy).updates if k == call_id])
    await asyncio.sleep(0.5)  # a second PATCH, if one were sent, lands by now
    assert len([k for k, _ in center(proxy).updates if k == call_id]) == 1
    assert updates[0]["numberOfHolds"] == 1 and "acceptTime" in updates[0]
    assert center(proxy).cleared == []
    assert org_of(proxy).tasks(call_id) == []
    assert "_started_at" not in created


async def test_an_open_cti_agent_gets_a_task_and_no_voicecall(proxy: RunningProxy) -> None:
    """Without the Voice connector open, an agent's calls are logged as Tasks, as before."""
    async with proxy.connect(proxy.sign_in("1002")) as ws:
        await next_message(ws)
        call_id = await ring(proxy, ws, "1002")
        await send(ws, type="answer", call_id=call_id)
        await wait_for_call(ws, call_id, state="active")
        await send(ws, type="hangup", call_id=call_id)
        eventually(lambda: org_of(proxy).tasks(call_id))
    assert center(proxy).voice_calls == {}


async def test_a_missed_voicecall_is_ended_and_its_routing_cleared(proxy: RunningProxy) -> None:
    """The caller gives up while it rings: the VoiceCall is ended and its routing cleared."""
    async with voice_socket(proxy) as ws:
        await next_message(ws)
        call_id = await ring(proxy, ws)
        sim(proxy, f"/calls/{proxy.pbx_call_id(call_id)}/hangup")
        await wait_for_call(ws, call_id, state="cleared")
    eventually(lambda: center(proxy).cleared == [call_id])
    update = dict(center(proxy).updates)[call_id]
    assert "acceptTime" not in update


async def test_a_transfer_to_another_voice_agent_is_a_child_voicecall(
    proxy: RunningProxy,
) -> None:
    """1001 answers and transfers to 1002: 1002's ring is a VoiceCall of its own, initiated by
    transfer, whose parent is 1001's."""
    async with AsyncExitStack() as stack:
        first = await stack.enter_async_context(voice_socket(proxy, "1001"))
        second = await stack.enter_async_context(voice_socket(proxy, "1002"))
        await next_message(first)
        await next_message(second)
        call_id = await ring(proxy, first)
        await send(first, type="answer", call_id=call_id)
        await wait_for_call(first, call_id, state="active")
        await send(first, type="transfer", call_id=call_id, number="1002")
        await wait_for_call(first, call_id, state="cleared")
        message = await next_of(second, "call", state="ringing")
        child_id = message["call"]["call_id"]
        child = eventually(lambda: center(proxy).voice_calls.get(child_id))
        assert child["initiationMethod"] == "Transfer"
        assert child["parentVoiceCallId"] == call_id
        eventually(lambda: call_id in dict(center(proxy).updates))


async def test_a_refused_token_leaves_the_write_queued_with_the_reason(tmp_path: Path) -> None:
    """The contact center holds another certificate: nothing is lost, the row waits with an
    error that says what to check, and it is written once the admin fixes the certificate."""
    with running_proxy(
        tmp_path, voice_scrt_url="standin://", wrap_up_seconds=0, task_retry_seconds=0.05
    ) as proxy:
        telephony = center(proxy)
        right_key = telephony.public_key
        telephony.public_key = new_key_pair()[1]
        async with voice_socket(proxy) as ws:
            await next_message(ws)
            call_id = await ring(proxy, ws)

            def refused() -> str:
                rows = proxy.run(proxy.services.store.outbox_rows())
                row = next((r for r in rows if r.call_object == f"voice_create:{call_id}"), None)
                return row.last_error if row is not None and row.attempts > 0 else ""

            error = eventually(refused)
            assert "refused our token" in error and "certificate" in error
            assert telephony.voice_calls == {}
            telephony.public_key = right_key
            eventually(lambda: call_id in telephony.voice_calls, timeout=15)


async def test_a_consultation_completed_as_a_transfer_is_a_child_voicecall(
    proxy: RunningProxy,
) -> None:
    """1001 consults 1002 (an internal call: no VoiceCall), 1002 answers, 1001 completes the
    transfer: 1002 now has the customer, as a Transfer VoiceCall whose parent is 1001's."""
    async with AsyncExitStack() as stack:
        first = await stack.enter_async_context(voice_socket(proxy, "1001"))
        second = await stack.enter_async_context(voice_socket(proxy, "1002"))
        await next_message(first)
        await next_message(second)
        call_id = await ring(proxy, first)
        await send(first, type="answer", call_id=call_id)
        await wait_for_call(first, call_id, state="active")
        await send(first, type="consult", call_id=call_id, number="1002")
        consult = (await next_of(second, "call", state="ringing"))["call"]["call_id"]
        await send(second, type="answer", call_id=consult)
        await wait_for_call(second, consult, state="active")
        assert consult not in center(proxy).voice_calls
        await send(first, type="complete_transfer", call_id=call_id)
        await wait_for_call(first, call_id, state="cleared")
        child = eventually(lambda: center(proxy).voice_calls.get(consult))
        assert child["initiationMethod"] == "Transfer"
        assert child["parentVoiceCallId"] == call_id
        assert child["from"] == JAMES
    assert list(center(proxy).voice_calls) == [call_id, consult]
