"""CSTA-link specifics beyond the link contract: resync, failover, bad input, CSTA semantics."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import struct
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from proxy.errors import LinkCommandFailed, LinkUnavailable
from proxy.links import LinkCommand, open_link
from proxy.links.csta.link import CstaLink, open_csta_link
from proxy.links.csta.options import split_addresses
from softphone.events import AgentEvent, AgentState, CallEvent, Direction, Snapshot
from tests.harness import next_message, running_proxy, wait_for_call, wait_for_ringing
from tests.integration.links.link_peers import calls, next_of
from tests.integration.links.peers.csta_peer import ED3, EVENT_INVOKE, FIXTURES, CstaPeer, frame


@pytest.fixture
async def peer() -> AsyncIterator[CstaPeer]:
    async with CstaPeer().running() as running:
        yield running


@pytest.fixture
async def link(peer: CstaPeer) -> AsyncIterator[CstaLink]:
    async with open_csta_link(peer.url, self_url="") as opened:
        await next_of(opened, Snapshot)
        yield opened


def errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


def event_doc(body: str, name: str = "DeliveredEvent") -> str:
    return f'<{name} xmlns="{ED3}"><monitorCrossRefID>M1001</monitorCrossRefID>{body}</{name}>'


# --- resync, heartbeat, failover -----------------------------------------------------------
async def test_reconnect_mid_call_resyncs_the_call_with_its_caller(
    peer: CstaPeer, link: CstaLink
) -> None:
    """After a drop mid-call, the new snapshot reports the call, still with its caller's number."""
    await peer.emit("delivered", "c1", ani="+16504508810")
    await peer.emit("established", "c1", ani="+16504508810")
    await calls(link, 2)
    peer.set_snapshot([{"kind": "established", "call_id": "c1", "agent": "1001"}])
    await peer.drop()
    snapshot = await next_of(link, Snapshot)
    assert [(c.call_id, c.kind, c.ani) for c in snapshot.calls] == [
        ("c1", "established", "+16504508810")
    ]
    assert peer.connections == 2
    assert peer.requests.count("MonitorStart") == 4  # both devices, on both connections


async def test_snapshot_forgets_calls_that_ended_while_down(peer: CstaPeer, link: CstaLink) -> None:
    """A call the switch no longer reports after a reconnect is absent from the snapshot."""
    await peer.emit("delivered", "gone", ani="+16504508810")
    await next_of(link, CallEvent)
    await peer.drop()
    snapshot = await next_of(link, Snapshot)
    assert snapshot.calls == () and link.calls.find("1001", "gone") is None


async def test_heartbeats_flow_both_ways(peer: CstaPeer, link: CstaLink) -> None:
    """The link sends SystemStatus and answers the switch's own SystemStatus."""
    await asyncio.sleep(2.3)
    assert "SystemStatus" in peer.requests
    assert "SystemStatusResponse" in peer.requests
    assert peer.connections == 1


async def test_heartbeat_loss_drops_and_reconnects(peer: CstaPeer, link: CstaLink) -> None:
    """A switch that goes silent (no heartbeats, no answers) is dropped and connected to again."""
    peer.silence()
    await next_of(link, Snapshot, timeout=6)
    assert peer.connections == 2 and link.connected


async def test_failover_to_the_standby_address() -> None:
    """`csta://primary,csta://standby`: with nothing at the primary, the standby serves events."""
    closed = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    dead_port = closed.sockets[0].getsockname()[1]
    closed.close()
    await closed.wait_closed()
    async with CstaPeer().running() as standby:
        url = f"csta://127.0.0.1:{dead_port}?devices=1001,csta://127.0.0.1:{standby.port}"
        async with open_link(url, self_url="") as link:
            assert isinstance(link, CstaLink)
            await next_of(link, Snapshot)
            assert link.active_url == f"csta://127.0.0.1:{standby.port}"
            await standby.emit("delivered", "s1")
            assert (await next_of(link, CallEvent)).call_id == "s1"


async def test_lost_primary_fails_over_while_running() -> None:
    """A primary that drops mid-session is replaced by the standby, which then reports calls."""
    async with CstaPeer().running() as standby:
        primary = CstaPeer()
        async with primary.running():
            url = f"{primary.url},csta://127.0.0.1:{standby.port}"
            link = open_csta_link(url, self_url="")
            await link.start()
            await next_of(link, Snapshot)
        # The primary's server is closed and its connection aborted: the standby takes over.
        try:
            await next_of(link, Snapshot)
            assert link.active_url.endswith(f":{standby.port}") and link.failovers == 1
            await standby.emit("delivered", "s2")
            assert (await next_of(link, CallEvent)).call_id == "s2"
        finally:
            await link.aclose()


def test_addresses_and_devices_are_read_from_the_url() -> None:
    """Commas inside the devices list stay with their address; ranges expand; ed=4 is kept."""
    url = "csta://a:1?devices=1001,1003-1005&ed=4,csta://b:2"
    assert split_addresses(url) == ["csta://a:1?devices=1001,1003-1005&ed=4", "csta://b:2"]
    link = open_csta_link(url, self_url="")
    assert link.options.devices == ("1001", "1003", "1004", "1005")
    assert link.options.namespace.endswith("/ed4") and link.urls[1] == "csta://b:2"
    with pytest.raises(ValueError, match="host and a port"):
        open_csta_link("csta://nohost", self_url="")


# --- malformed input -------------------------------------------------------------------------
async def test_truncated_frame_waits_for_the_rest(peer: CstaPeer, link: CstaLink) -> None:
    """A frame split across TCP segments is decoded once its last byte arrives."""
    whole = frame(EVENT_INVOKE, peer.event_xml("delivered", "split1", ani="+16504508810"))
    await peer.send(whole[:5])
    await asyncio.sleep(0.1)
    await peer.send(whole[5:40])
    await asyncio.sleep(0.1)
    await peer.send(whole[40:])
    event = await next_of(link, CallEvent)
    assert (event.call_id, event.ani) == ("split1", "+16504508810")


async def test_wrong_length_header_reconnects_and_resyncs(
    peer: CstaPeer, link: CstaLink, caplog: pytest.LogCaptureFixture
) -> None:
    """A header that loses the frame boundary is logged; the link reconnects and resyncs."""
    caplog.set_level(logging.ERROR)
    await peer.send(b"\x00\x00\x00\x03" + b"9999<x/>")
    await next_of(link, Snapshot)
    assert peer.connections == 2
    assert any("shorter than its own header" in m for m in errors(caplog))


async def test_bad_invoke_id_is_skipped_and_the_stream_goes_on(
    peer: CstaPeer, link: CstaLink, caplog: pytest.LogCaptureFixture
) -> None:
    """A frame whose invoke id is not digits is skipped; the next frame is read normally."""
    caplog.set_level(logging.ERROR)
    body = peer.event_xml("delivered", "bad-id").encode()
    await peer.send(b"\x00\x00" + struct.pack(">H", len(body) + 8) + b"99x9" + body)
    await peer.emit("delivered", "after-bad-id")
    assert (await next_of(link, CallEvent)).call_id == "after-bad-id"
    assert peer.connections == 1 and any("invoke id" in m for m in errors(caplog))


async def test_xml_bomb_is_refused_not_expanded(
    peer: CstaPeer, link: CstaLink, caplog: pytest.LogCaptureFixture
) -> None:
    """A billion-laughs document is logged with its call id and skipped; the link carries on."""
    caplog.set_level(logging.ERROR)
    await peer.send(frame(EVENT_INVOKE, (FIXTURES / "billion_laughs.xml").read_bytes()))
    await peer.emit("delivered", "after-bomb")
    assert (await next_of(link, CallEvent)).call_id == "after-bomb"
    assert peer.connections == 1
    assert any("bomb1" in m and "DTD" in m for m in errors(caplog))


async def test_invalid_xml_is_logged_with_its_call_id(
    peer: CstaPeer, link: CstaLink, caplog: pytest.LogCaptureFixture
) -> None:
    """A badly formed document is logged at ERROR with its call id and skipped."""
    caplog.set_level(logging.ERROR)
    await peer.send(frame(EVENT_INVOKE, "<DeliveredEvent><connection><callID>x77</callID>"))
    await peer.emit("delivered", "after-bad-xml")
    assert (await next_of(link, CallEvent)).call_id == "after-bad-xml"
    assert any("x77" in m and "invalid XML" in m for m in errors(caplog))


async def test_unknown_event_is_logged_with_its_call_id(
    peer: CstaPeer, link: CstaLink, caplog: pytest.LogCaptureFixture
) -> None:
    """An event type the link does not know is logged with its call id and skipped."""
    caplog.set_level(logging.ERROR)
    body = "<connection><callID>u9</callID><deviceID>1001</deviceID></connection>"
    await peer.send(frame(EVENT_INVOKE, event_doc(body, "TeleportedEvent")))
    await peer.emit("delivered", "after-unknown")
    assert (await next_of(link, CallEvent)).call_id == "after-unknown"
    assert any("u9" in m and "TeleportedEvent" in m for m in errors(caplog))


async def test_event_with_an_oversized_field_is_logged_not_fatal(
    peer: CstaPeer, link: CstaLink, caplog: pytest.LogCaptureFixture
) -> None:
    """A callID longer than the proxy allows is logged and skipped, never a crash."""
    caplog.set_level(logging.ERROR)
    await peer.emit("delivered", "c" * 65)
    await peer.emit("delivered", "after-long")
    assert (await next_of(link, CallEvent)).call_id == "after-long"
    assert errors(caplog)


# --- call flows from transcripts -------------------------------------------------------------
async def test_inbound_transcript_gives_caller_queue_and_clearing(
    peer: CstaPeer, link: CstaLink
) -> None:
    """Delivered carries ANI, DNIS and queue; the caller leaving alone does not clear the call."""
    await peer.play("inbound_call")
    seen = await calls(link, 4)
    assert [e.kind for e in seen] == ["delivered", "established", "established", "cleared"]
    ringing = seen[0]
    assert (ringing.ani, ringing.dnis, ringing.queue) == ("+16504508810", "8005550100", "Support")
    assert ringing.direction == Direction.INBOUND
    assert [p.number for p in seen[1].parties] == ["+16504508810"] and seen[2].parties == ()


@pytest.mark.parametrize("fixture", ["transfer_transfered", "transfer_transferred"])
async def test_both_transfer_spellings_end_the_agents_calls(
    peer: CstaPeer, link: CstaLink, fixture: str
) -> None:
    """TransferedEvent (ECMA's spelling) and TransferredEvent both end both of 1001's calls."""
    await peer.play(fixture)
    seen = await calls(link, 6)
    assert [(e.kind, e.call_id) for e in seen] == [
        ("delivered", "t200"),
        ("established", "t200"),
        ("held", "t200"),
        ("originated", "t201"),
        ("established", "t201"),
        ("transferred", "t200"),
    ]
    assert seen[2].reason == "consultation"
    assert (await next_of(link, CallEvent)).call_id == "t201"


async def test_conference_merges_the_consultation_and_keeps_the_call_id(
    peer: CstaPeer, link: CstaLink
) -> None:
    """The consultation call clears as conferenced; the original call id carries the conference."""
    await peer.play("conference")
    seen = await calls(link, 8)
    assert [(e.kind, e.call_id) for e in seen[-3:]] == [
        ("cleared", "t301"),
        ("conferenced", "t300"),
        ("established", "t300"),
    ]
    assert seen[-3].reason == "conferenced"
    assert sorted(p.number for p in seen[-2].parties) == ["+16504508812", "1002"]
    assert [p.number for p in seen[-1].parties] == ["1002"]
    assert link.calls.csta_id("1001", "t300") == "t302"
    await link.send(LinkCommand(op="hangup", agent="1001", call_id="t300"))
    assert peer.commands[-1]["call_id"] == "t302"  # the switch's new name for the call


async def test_agent_events_become_agent_states(peer: CstaPeer, link: CstaLink) -> None:
    """AgentNotReady with a reason, then DoNotDisturb, reach the proxy as busy and dnd."""
    reason = "<extensions><privateData><private><reasonCode>Lunch</reasonCode></private>"
    await peer.emit_agent("AgentNotReadyEvent", body=reason + "</privateData></extensions>")
    busy = await next_of(link, AgentEvent)
    assert (busy.agent, busy.state, busy.reason) == ("1001", AgentState.BUSY, "Lunch")
    await peer.emit_agent("DoNotDisturbEvent", body="<doNotDisturbOn>true</doNotDisturbOn>")
    assert (await next_of(link, AgentEvent)).state == AgentState.DND


# --- commands ------------------------------------------------------------------------------
async def test_consult_then_complete_transfer_names_both_calls(
    peer: CstaPeer, link: CstaLink
) -> None:
    """A consultation's hold reads as consultation, and TransferCall joins it to the new call."""
    await peer.emit("delivered", "c1", ani="+16504508810")
    await peer.emit("established", "c1", ani="+16504508810")
    await calls(link, 2)
    new_id = await link.send(LinkCommand(op="consult", agent="1001", call_id="c1", number="1002"))
    await peer.emit("held", "c1")
    await peer.emit("originated", new_id, dnis="1002")
    held, originated = await calls(link, 2)
    assert held.reason == "consultation" and originated.consult_of == "c1"
    await link.send(LinkCommand(op="complete_transfer", agent="1001", call_id="c1"))
    assert peer.commands[-1]["op"] == "complete_transfer"
    assert peer.requests[-1] == "TransferCall"


async def test_every_op_reaches_the_switch_as_its_csta_service(
    peer: CstaPeer, link: CstaLink
) -> None:
    """Each command op goes out as the CSTA request that carries it, fields included."""
    sent = [
        LinkCommand(op="answer", agent="1001", call_id="c1"),
        LinkCommand(op="redirect", agent="1001", call_id="c1", number="1002"),
        LinkCommand(op="transfer", agent="1001", call_id="c1", number="1003"),
        LinkCommand(op="dial", agent="1001", number="916505550132"),
        LinkCommand(op="set_state", agent="1001", state="ready"),
        LinkCommand(op="set_state", agent="1001", state="dnd"),
        LinkCommand(op="acd_login", agent="1001", group="Support"),
        LinkCommand(op="acd_logout", agent="1001", group="Support"),
        LinkCommand(op="login", agent="1001", number="2001"),
    ]
    results = [await link.send(command) for command in sent]
    assert results[3] == "n1"  # MakeCall's new call
    got = [(c["op"], c["call_id"], c["number"], c["state"], c["group"]) for c in peer.commands]
    assert got == [
        ("answer", "c1", "", "", ""),
        ("redirect", "c1", "1002", "", ""),
        ("transfer", "c1", "1003", "", ""),
        ("dial", "", "916505550132", "", ""),
        ("set_state", "", "", "ready", ""),  # ready: DND off,
        ("set_state", "", "", "ready", ""),  # and the agent state
        ("set_state", "", "", "dnd", ""),
        ("acd_login", "", "", "", "Support"),
        ("acd_logout", "", "", "", "Support"),
        ("login", "", "2001", "", ""),
    ]
    assert peer.requests[-10:] == [
        "AnswerCall",
        "DeflectCall",
        "SingleStepTransferCall",
        "MakeCall",
        "SetDoNotDisturb",
        "SetAgentState",
        "SetDoNotDisturb",
        "SetAgentState",
        "SetAgentState",
        "SetAgentState",
    ]


@pytest.mark.parametrize(
    ("refusal", "code"),
    [
        ("no_such_call", "no_such_call"),  # invalidCallID
        ("invalid_device", "invalid_device"),  # invalidDeviceID
        ("invalid_call_state", "invalid_call_state"),  # any other: snake-cased
    ],
)
async def test_csta_error_codes_become_the_proxys_codes(
    peer: CstaPeer, link: CstaLink, refusal: str, code: str
) -> None:
    """A CSTAErrorCode answer raises LinkCommandFailed with a mapped code and a clear message."""
    peer.refuse("r1", refusal)
    with pytest.raises(LinkCommandFailed) as failed:
        await link.send(LinkCommand(op="retrieve", agent="1001", call_id="r1"))
    assert failed.value.code == code
    assert "RetrieveCall refused" in str(failed.value)


async def test_unsupported_and_impossible_commands_fail_clearly(link: CstaLink) -> None:
    """An unknown agent state is not_supported; completing a transfer with no consult fails."""
    with pytest.raises(LinkCommandFailed) as unsupported:
        await link.send(LinkCommand(op="set_state", agent="1001", state="lunch"))
    assert unsupported.value.code == "not_supported"
    with pytest.raises(LinkCommandFailed) as alone:
        await link.send(LinkCommand(op="conference", agent="1001", call_id="nobody"))
    assert alone.value.code == "no_consultation"


async def test_unanswered_command_raises_link_unavailable(peer: CstaPeer, link: CstaLink) -> None:
    """A request the switch never answers fails with LinkUnavailable, not a hang."""
    peer.silence()
    with pytest.raises(LinkUnavailable):
        await link.send(LinkCommand(op="hold", agent="1001", call_id="c1"))


# --- through the whole proxy -----------------------------------------------------------------
async def test_call_delivered_by_csta_rings_the_signed_in_agent(tmp_path: Path) -> None:
    """End to end: a DeliveredEvent to 1001 rings 1001's page, pops the caller, answers."""
    async with CstaPeer(("1001",), auto_events=True).running() as peer:
        stack = contextlib.ExitStack()
        # The proxy runs on its own loop in a thread; entering it blocks, so not on this loop.
        proxy = await asyncio.to_thread(
            stack.enter_context, running_proxy(tmp_path, cti_url=peer.url)
        )
        try:
            token = await asyncio.to_thread(proxy.sign_in)
            async with proxy.connect(token) as ws:
                await next_message(ws)
                await peer.emit("delivered", "e2e1", ani="+16504508810", dnis="8005550100")
                call_id = (await wait_for_ringing(ws))["call"]["call_id"]
                assert call_id != "e2e1"  # the proxy's own id, never the PBX's
                popped = await wait_for_call(ws, call_id, matching=False)
                assert popped["call"]["caller_name"] == "Maria Chen"
                await ws.send(json.dumps({"type": "answer", "call_id": call_id}))
                await wait_for_call(ws, call_id, state="active")
                assert peer.commands[-1]["op"] == "answer"
                assert peer.commands[-1]["call_id"] == "e2e1"  # translated back for the PBX
        finally:
            await asyncio.to_thread(stack.close)


async def test_an_agent_whose_address_is_not_the_extension_rings_pops_and_logs(
    tmp_path: Path,
) -> None:
    """maria@demo.example sits at 2201 (the roster says so; no devices= in the URL): a CSTA
    call to 2201 rings her page, pops the caller, is answered, and is logged as one Task."""
    async with CstaPeer(("2201",), auto_events=True).running() as peer:
        stack = contextlib.ExitStack()
        proxy = await asyncio.to_thread(
            stack.enter_context, running_proxy(tmp_path, cti_url=peer.url, wrap_up_seconds=0)
        )
        try:
            token = await asyncio.to_thread(proxy.sign_in, "maria@demo.example")
            async with proxy.connect(token) as ws:
                welcome = await next_message(ws)
                assert welcome["agent"]["extension"] == "2201"
                await peer.emit(
                    "delivered", "7", agent="2201", ani="+16504508810", dnis="8005550100"
                )
                call_id = (await wait_for_ringing(ws))["call"]["call_id"]
                popped = await wait_for_call(ws, call_id, matching=False)
                assert popped["call"]["caller_name"] == "Maria Chen"
                await ws.send(json.dumps({"type": "answer", "call_id": call_id}))
                await wait_for_call(ws, call_id, state="active")
                assert peer.commands[-1]["op"] == "answer"
                await peer.emit("cleared", "7", agent="2201")
                await wait_for_call(ws, call_id, state="cleared")
            org = proxy.services.org
            assert org is not None
            for _ in range(200):
                if org.tasks(call_id):
                    break
                await asyncio.sleep(0.05)
            tasks = org.tasks(call_id)
            assert len(tasks) == 1, org.tasks()
            print(f"maria@demo.example on 2201: call {call_id} (CSTA id 7) -> Task {tasks[0]}")
        finally:
            await asyncio.to_thread(stack.close)
