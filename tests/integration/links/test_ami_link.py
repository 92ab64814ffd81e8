"""Asterisk link specifics beyond the link contract: call flows, resync, failover, bad input."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from proxy.errors import LinkCommandFailed, LinkUnavailable
from proxy.links import LinkCommand, open_link
from proxy.links.ami.link import AmiLink
from proxy.links.ami.protocol import mask_url, parse_ami_urls
from softphone.events import AgentEvent, AgentState, CallEvent, Direction, Snapshot
from tests.harness import next_message, running_proxy, wait_for_ringing
from tests.integration.links.link_peers import calls, next_of
from tests.integration.links.peers.ami_peer import AmiPeer


@asynccontextmanager
async def peer_and_link(query: str = "") -> AsyncIterator[tuple[AmiPeer, AmiLink]]:
    async with AmiPeer().running() as peer, open_link(peer.url + query, self_url="") as link:
        assert isinstance(link, AmiLink)
        await next_of(link, Snapshot)
        yield peer, link


async def test_inbound_queue_call_becomes_one_event_per_step() -> None:
    """A queue call with IVR data rings with ANI, IVR entry and queue, then each step once."""
    async with peer_and_link() as (peer, link):
        await peer.play("inbound_queue_call.txt", caller="1700000000.16", agent="1700000000.42")
        events = await calls(link, 5)
        assert [e.kind for e in events] == [
            "delivered",
            "established",
            "held",
            "retrieved",
            "cleared",
        ]
        ringing = events[0]
        assert (ringing.call_id, ringing.agent, ringing.direction) == (
            "1700000000.42",
            "1001",
            Direction.INBOUND,
        )
        assert ringing.ani == "+16504508810" and ringing.queue == "Support"
        assert ringing.ivr == ("Case.CaseNumber=00001027",)
        assert ringing.global_call_id == "1700000000.16"


async def test_outbound_call_from_the_desk_phone() -> None:
    """A call the agent dials on the phone is originated, delivered, established, cleared."""
    async with peer_and_link() as (peer, link):
        await peer.play("outbound_call.txt", agent="1700000001.1")
        events = await calls(link, 4)
        assert [e.kind for e in events] == ["originated", "delivered", "established", "cleared"]
        assert events[0].direction == Direction.OUTBOUND
        assert events[0].dnis == "916505550132"


async def test_blind_transfer_ends_the_agents_call_once() -> None:
    """BlindTransfer reports transferred; the transferer's hangup after it adds nothing."""
    async with peer_and_link() as (peer, link):
        await peer.emit("delivered", "t1")
        await peer.emit("established", "t1")
        await calls(link, 2)
        await peer.play("blind_transfer.txt", agent="t1", caller="t1-in")
        await peer.emit("delivered", "t2")
        events = await calls(link, 2)
        assert [(e.kind, e.call_id) for e in events] == [("transferred", "t1"), ("delivered", "t2")]


async def test_queue_pause_reports_the_agent_busy_with_reason() -> None:
    """QueueMemberPause makes the agent busy with the pause reason, then ready again."""
    async with peer_and_link() as (peer, link):
        await peer.play("queue_pause.txt")
        busy, ready = await next_of(link, AgentEvent), await next_of(link, AgentEvent)
        assert (busy.agent, busy.state, busy.reason) == ("1001", AgentState.BUSY, "Lunch")
        assert (ready.state, ready.reason) == (AgentState.READY, "")


async def test_reconnect_mid_call_resyncs_and_follows_the_same_call() -> None:
    """After a drop the snapshot still has the answered call, and its next step still arrives."""
    async with peer_and_link() as (peer, link):
        await peer.emit("delivered", "m1", ani="+16504508810")
        await peer.emit("established", "m1")
        await calls(link, 2)
        peer.set_snapshot([{"kind": "established", "call_id": "m1", "agent": "1001"}])
        await peer.drop()
        snapshot = await next_of(link, Snapshot)
        assert [(c.call_id, c.kind, c.ani) for c in snapshot.calls] == [
            ("m1", "established", "+16504508810")
        ]
        await peer.emit("held", "m1")
        assert (await next_of(link, CallEvent)).kind == "held"
        assert peer.connections == 2 and link.reconnects == 1


async def test_heartbeat_pings_and_a_silent_manager_is_dropped() -> None:
    """Pings go out at the configured pace; a manager that stops answering is reconnected."""
    async with peer_and_link("?heartbeat=0.2") as (peer, link):
        await asyncio.sleep(1.0)
        pings = [a for a in peer.actions if a.get("Action") == "Ping"]
        assert 3 <= len(pings) <= 8
        peer.silence()
        await next_of(link, Snapshot, timeout=5)
        assert peer.connections == 2


async def test_failover_to_the_standby_keeps_the_password_out_of_logs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Losing the primary moves to the standby, whose snapshot and events then arrive."""
    caplog.set_level(logging.DEBUG)
    async with AmiPeer().running() as primary, AmiPeer().running() as standby:
        standby.set_snapshot([{"kind": "established", "call_id": "s1", "agent": "1001"}])
        async with open_link(f"{primary.url},{standby.url}", self_url="") as link:
            assert isinstance(link, AmiLink)
            await next_of(link, Snapshot)
            await primary.drop()
            taken_over = await next_of(link, Snapshot)
            assert [c.call_id for c in taken_over.calls] == ["s1"]
            assert link.active_url == mask_url(standby.url) and link.failovers == 1
            await standby.emit("held", "s1")
            assert (await next_of(link, CallEvent)).kind == "held"
    assert "s3cret" not in caplog.text
    assert "proxy:***@127.0.0.1" in caplog.text


async def test_malformed_messages_are_each_logged_and_skipped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An unterminated block, garbage, an unknown event and a missing Uniqueid are logged with
    their call ids; the next good event still arrives on the same connection."""
    caplog.set_level(logging.ERROR)
    async with peer_and_link() as (peer, link):
        await peer.play("malformed.txt", bad="b7", good="g7")
        ringing = await next_of(link, CallEvent)
        assert (ringing.kind, ringing.call_id) == ("delivered", "g7")
        errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
        for call_id in ("b7-unterminated", "b7-garbage", "b7-unknown", "b7-missing"):
            assert any(call_id in m for m in errors), call_id
        assert peer.connections == 1 and link.connected


async def test_message_cut_off_by_a_disconnect_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A message without its blank line when the stream ends is logged with its call id."""
    caplog.set_level(logging.ERROR)
    async with peer_and_link() as (peer, link):
        await peer.send_raw(b"Event: Newstate\r\nChannel: PJSIP/1001-1\r\nUniqueid: cut-1\r\n")
        await peer.drop()
        await next_of(link, Snapshot)
        assert any("cut-1" in r.getMessage() for r in caplog.records)


async def test_oversized_message_is_skipped_and_the_next_one_read(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A message over 64 KB is dropped with an error; the message after it is read."""
    caplog.set_level(logging.ERROR)
    async with peer_and_link() as (peer, link):
        huge = b"Event: UserEvent\r\nUniqueid: big-1\r\n" + b"Data: " + b"x" * 70_000 + b"\r\n\r\n"
        await peer.send_raw(huge)
        await peer.emit("delivered", "after-big")
        assert (await next_of(link, CallEvent)).call_id == "after-big"
        assert any("longer than" in r.getMessage() for r in caplog.records)


async def test_refused_login_is_logged_retried_with_backoff_and_keeps_the_secret_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A wrong secret logs a clear error, is retried with backoff, and never appears in logs."""
    caplog.set_level(logging.DEBUG)
    async with AmiPeer(secret="right").running() as peer:
        url = f"ami://proxy:Wr0ngSecret@127.0.0.1:{peer.port}"
        async with open_link(url, self_url="") as link:
            await asyncio.sleep(1.5)
            assert not link.connected
    assert 2 <= peer.refused_logins <= 10  # without backoff it would be hundreds
    assert "login refused for user 'proxy'" in caplog.text
    assert "Authentication failed" in caplog.text
    assert "Wr0ngSecret" not in caplog.text


async def test_dial_returns_the_channel_id_asterisk_will_use() -> None:
    """Originate carries the number and our ChannelId; that channel's events are the call."""
    async with peer_and_link() as (peer, link):
        call_id = await link.send(LinkCommand(op="dial", agent="1001", number="916505550132"))
        originate = peer.actions[-1]
        assert originate["Action"] == "Originate" and originate["Channel"] == "PJSIP/1001"
        assert originate["ChannelId"] == call_id and originate["Exten"] == "916505550132"
        await peer.send_raw(
            f"Event: Newchannel\r\nChannel: PJSIP/1001-00000099\r\nChannelState: 0\r\n"
            f"Uniqueid: {call_id}\r\nLinkedid: {call_id}\r\n\r\n".encode()
        )
        placed = await next_of(link, CallEvent)
        assert (placed.kind, placed.call_id, placed.dnis) == (
            "originated",
            call_id,
            "916505550132",
        )


async def test_consult_then_complete_transfer() -> None:
    """consult is Atxfer (call on consultation hold, a consultation call dialling);
    complete_transfer hangs the agent's channel up, which completes Asterisk's transfer."""
    async with peer_and_link() as (peer, link):
        await peer.emit("delivered", "x1")
        await peer.emit("established", "x1")
        await calls(link, 2)
        consult_id = await link.send(
            LinkCommand(op="consult", agent="1001", call_id="x1", number="1002")
        )
        held, dialling = await calls(link, 2)
        assert (held.kind, held.reason) == ("held", "consultation")
        assert (dialling.kind, dialling.call_id, dialling.consult_of) == (
            "originated",
            consult_id,
            "x1",
        )
        await link.send(LinkCommand(op="complete_transfer", agent="1001", call_id="x1"))
        assert [c["op"] for c in peer.commands] == ["consult", "complete_transfer"]
        assert [a["Action"] for a in peer.actions[-2:]] == ["Atxfer", "Hangup"]


async def test_redirect_moves_the_caller_not_the_agent() -> None:
    """Redirecting a ringing call sends the caller's channel to the new number."""
    async with peer_and_link() as (peer, link):
        await peer.emit("delivered", "r1", ani="+16504508810")
        await next_of(link, CallEvent)
        await link.send(LinkCommand(op="redirect", agent="1001", call_id="r1", number="1002"))
        redirect = peer.actions[-1]
        assert redirect["Action"] == "Redirect" and redirect["Exten"] == "1002"
        assert redirect["Channel"].startswith("PJSIP/carrier-")
        assert peer.commands[-1]["call_id"] == "r1"


@pytest.mark.parametrize(
    "command",
    [
        LinkCommand(op="conference", agent="1001", call_id="c1"),
        LinkCommand(op="cancel_work", agent="1001"),
        LinkCommand(op="set_state", agent="1001", state="dnd"),
    ],
)
async def test_what_asterisk_cannot_do_is_not_supported(command: LinkCommand) -> None:
    """Commands without a manager action fail with not_supported and send nothing."""
    async with peer_and_link() as (peer, link):
        with pytest.raises(LinkCommandFailed) as failed:
            await link.send(command)
        assert failed.value.code == "not_supported"
        assert peer.commands == []


async def test_an_unanswered_action_fails_as_unavailable() -> None:
    """A manager that stops answering fails the waiting command with LinkUnavailable."""
    async with peer_and_link() as (peer, link):
        peer.silence()
        with pytest.raises(LinkUnavailable):
            await link.send(LinkCommand(op="hangup", agent="1001", call_id="u1"))


async def test_a_reason_with_a_line_break_cannot_inject_an_action() -> None:
    """Text that would end the message and start another is refused before it is sent."""
    async with peer_and_link() as (peer, link):
        sneaky = "Lunch\r\nAction: Originate"
        with pytest.raises(LinkCommandFailed) as failed:
            await link.send(LinkCommand(op="set_state", agent="1001", state="busy", reason=sneaky))
        assert failed.value.code == "invalid_request"
        assert not any(a.get("Action") == "Originate" for a in peer.actions)


def test_url_options_devices_and_masking() -> None:
    """Devices are `;`- or `,`-separated, credentials are unquoted, and the logged form hides
    them."""
    targets, options = parse_ami_urls(
        "ami://cti:p%40ss@pbx1:5039?devices=PJSIP/1001;SIP/1002&context=agents"
        "&heartbeat=0.5,ami://cti:p%40ss@pbx2"
    )
    assert [(t.host, t.port, t.secret) for t in targets] == [
        ("pbx1", 5039, "p@ss"),
        ("pbx2", 5038, "p@ss"),
    ]
    assert options.devices == ("PJSIP/1001", "SIP/1002") and options.context == "agents"
    assert options.heartbeat == 0.5
    assert targets[0].masked == "ami://cti:***@pbx1:5039?devices=PJSIP/1001;SIP/1002" + (
        "&context=agents&heartbeat=0.5"
    )
    with pytest.raises(ValueError, match="ami://user:password@host"):
        parse_ami_urls("ami://pbx1:5038")
    # A comma inside the options is a list; only a comma before ami:// starts the standby.
    targets, options = parse_ami_urls("ami://c:s@p1?devices=PJSIP/1001,PJSIP/1002,ami://c:s@p2")
    assert [t.host for t in targets] == ["p1", "p2"]
    assert options.devices == ("PJSIP/1001", "PJSIP/1002")


async def test_ringing_reaches_the_agents_page_through_the_real_proxy(tmp_path: Path) -> None:
    """End to end: Asterisk rings 1001, and 1001's signed-in page sees the call ringing."""
    async with AmiPeer().running() as peer:
        stack = contextlib.ExitStack()
        # The proxy runs in its own thread; entering it here would block the peer's loop.
        proxy = await asyncio.to_thread(
            stack.enter_context, running_proxy(tmp_path, cti_url=peer.url)
        )
        try:
            token = await asyncio.to_thread(proxy.sign_in)
            async with proxy.connect(token) as ws:
                assert (await next_message(ws))["type"] == "welcome"
                await peer.play("inbound_queue_call.txt", caller="1700000002.1", agent="e2e-1")
                ringing = await wait_for_ringing(ws)
                assert ringing["call"]["queue"] == "Support"
                assert ringing["call"]["ivr"] == ["Case.CaseNumber=00001027"]
        finally:
            await asyncio.to_thread(stack.close)
