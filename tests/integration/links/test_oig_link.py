"""Mitel OIG link specifics beyond the link contract: flows, keep-alive, resync, HA, bad input."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from proxy.errors import LinkCommandFailed
from proxy.links import LinkCommand, open_link
from proxy.links.oig.link import OigLink
from proxy.links.oig.options import SESSION_TIMER_SECONDS, parse_oig_urls
from softphone.events import AgentEvent, AgentState, CallEvent, Direction, Snapshot
from tests.harness import next_message, running_proxy, wait_for_ringing
from tests.integration.links.link_peers import next_of
from tests.integration.links.peers.oig_peer import OigPeer

BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>
<getNumberedEventResponse><return result="true"><callEvent localCallId="c77" objectId="501">
<type>&lol4;</type></callEvent></return></getNumberedEventResponse></soapenv:Body>
</soapenv:Envelope>"""


@asynccontextmanager
async def peer_and_link(query: str = "") -> AsyncIterator[tuple[OigPeer, OigLink]]:
    async with OigPeer().running() as peer, open_link(peer.url + query, self_url="") as link:
        assert isinstance(link, OigLink)
        await next_of(link, Snapshot)
        yield peer, link


async def next_events(link: OigLink, n: int, timeout: float = 8.0) -> list[Any]:
    async def take() -> list[Any]:
        found: list[Any] = []
        async for event in link.events():
            found.append(event)
            if len(found) == n:
                return found
        raise AssertionError("link closed")

    return await asyncio.wait_for(take(), timeout)


async def until(condition: Any, timeout: float = 8.0) -> None:
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.02)

    await asyncio.wait_for(poll(), timeout)


async def test_acd_call_transcript_becomes_one_event_per_step() -> None:
    """A queued ACD call rings with caller, queue and global id, then each step once, then work."""
    async with peer_and_link() as (peer, link):
        await peer.play("inbound_acd_call")
        events = await next_events(link, 7)
        calls = [e for e in events if isinstance(e, CallEvent)]
        assert [e.kind for e in calls] == [
            "delivered",
            "delivered",
            "established",
            "held",
            "retrieved",
            "cleared",
        ]
        queued = calls[0]
        assert (queued.call_id, queued.agent, queued.direction) == ("4711", "1001", "inbound")
        assert (queued.ani, queued.dnis, queued.queue) == ("+16504508810", "8005550100", "Support")
        assert queued.global_call_id == "G-77"
        assert all(e.ani == "+16504508810" and e.queue == "Support" for e in calls)
        work = events[-1]
        assert isinstance(work, AgentEvent) and work.state == AgentState.WORK


async def test_consultation_call_knows_the_call_it_consults() -> None:
    """After consult on 300, the originated call 301 is outbound to 1002 and consults 300."""
    async with peer_and_link() as (peer, link):
        await link.send(LinkCommand(op="consult", agent="1001", call_id="300", number="1002"))
        await peer.play("consult_transfer")
        held, originated, answered, transferred = await next_events(link, 4)
        assert (held.kind, held.reason) == ("held", "consultation")
        assert (originated.kind, originated.call_id, originated.consult_of) == (
            "originated",
            "301",
            "300",
        )
        assert originated.direction == Direction.OUTBOUND and originated.dnis == "1002"
        assert (answered.kind, transferred.kind, transferred.call_id) == (
            "established",
            "transferred",
            "300",
        )


async def test_feature_events_become_whole_agent_states() -> None:
    """Group join, make busy and DND feature events each report the agent's whole state."""
    async with peer_and_link() as (peer, link):
        await peer.play("agent_features")
        states = [(e.state, e.groups) for e in await next_events(link, 5)]
        assert states == [
            (AgentState.READY, ("7001",)),
            (AgentState.BUSY, ("7001",)),
            (AgentState.DND, ("7001",)),
            (AgentState.BUSY, ("7001",)),
            (AgentState.READY, ("7001",)),
        ]


async def test_commands_become_oig_operations() -> None:
    """Each command is the StandardCCService operation it should be, with its fields."""
    async with peer_and_link() as (peer, link):
        sends = [
            LinkCommand(op="answer", agent="1001", call_id="41"),
            LinkCommand(op="transfer", agent="1001", call_id="41", number="2002"),
            LinkCommand(op="set_state", agent="1002", state="dnd"),
            LinkCommand(op="set_state", agent="1002", state="busy", reason="7"),
            LinkCommand(op="acd_login", agent="1001", group="7001"),
            LinkCommand(op="dial", agent="1001", number="916505550132"),
        ]
        for command in sends:
            assert await link.send(command) == ""
        ops = [r[1] for r in peer.requests if not r[1].startswith(("get", "reset", "monitor"))]
        assert ops[-7:] == [
            "answerCall",
            "consultationCall",
            "transferCall",
            "setDeviceDND",
            "advSetACDAgentMakeBusyWithCode",
            "advSetACDAgentPresence",
            "makeCall",
        ]
        seen = [(c["op"], c["agent"], c["call_id"], c["number"], c["group"]) for c in peer.commands]
        assert seen[1:3] == [
            ("consult", "1001", "41", "2002", ""),
            ("complete_transfer", "1001", "41", "", ""),
        ]
        assert seen[-2:] == [
            ("acd_login", "1001", "", "", "7001"),
            ("dial", "1001", "", "916505550132", ""),
        ]
        assert peer.commands[4]["reason"] == "7"


async def test_unknown_state_is_not_supported() -> None:
    """A state the OIG has no operation for is refused with not_supported, nothing sent."""
    async with peer_and_link() as (peer, link):
        with pytest.raises(LinkCommandFailed) as refused:
            await link.send(LinkCommand(op="set_state", agent="1001", state="away"))
        assert refused.value.code == "not_supported" and peer.commands == []


async def test_soap_fault_on_a_command_is_a_clear_error() -> None:
    """A gateway Fault becomes LinkCommandFailed with a snake_case code and its fault string."""
    async with peer_and_link() as (peer, link):
        peer.refuse("c9", "feature_not_allowed")
        with pytest.raises(LinkCommandFailed) as refused:
            await link.send(LinkCommand(op="answer", agent="1001", call_id="c9"))
        assert refused.value.code == "feature_not_allowed"
        assert str(refused.value) == "refused: feature_not_allowed"


async def test_reconnect_mid_call_re_monitors_and_resyncs() -> None:
    """After the session is lost mid-call the link logs in, monitors again and reports the call."""
    async with peer_and_link() as (peer, link):
        await peer.emit("delivered", "77", ani="+16504508810")
        await next_of(link, CallEvent)
        peer.set_snapshot([{"kind": "established", "call_id": "77", "ani": "+16504508810"}])
        await peer.drop()
        snapshot = await next_of(link, Snapshot)
        assert [(c.call_id, c.kind, c.ani) for c in snapshot.calls] == [
            ("77", "established", "+16504508810")
        ]
        monitors = [r for r in peer.requests if r[1] == "monitorObject"]
        assert peer.connections == 2 and len(monitors) == 4
        await peer.emit("cleared", "77")
        assert (await next_of(link, CallEvent)).kind == "cleared"


async def test_keep_alive_resets_the_session_timer_well_within_ten_seconds() -> None:
    """resetSessionTimer keeps coming at intervals under the gateway's 10 s session timer."""
    async with peer_and_link("&keepalive=0.5") as (peer, link):

        def resets() -> list[float]:
            return [t for t, op in peer.requests if op == "resetSessionTimer"]

        await until(lambda: len(resets()) >= 3)
        times = resets()
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert max(gaps) < SESSION_TIMER_SECONDS and link.connected
    assert link.options.keepalive == 0.5
    assert parse_oig_urls(peer.url)[1].keepalive < SESSION_TIMER_SECONDS


async def test_event_number_gap_brings_a_fresh_snapshot(caplog: pytest.LogCaptureFixture) -> None:
    """Lost event numbers are logged as a warning and followed by a resync snapshot."""
    caplog.set_level(logging.WARNING)
    async with peer_and_link() as (peer, link):
        await peer.emit("delivered", "1")
        await next_of(link, CallEvent)
        peer.set_snapshot([{"kind": "established", "call_id": "1"}])
        peer.skip_numbers(3)
        await peer.emit("held", "1")
        held, snapshot = await next_events(link, 2)
        assert held.kind == "held" and isinstance(snapshot, Snapshot)
        assert [c.call_id for c in snapshot.calls] == ["1"]
        assert any("jumped from 1 to 5" in r.getMessage() for r in caplog.records)


async def test_failover_to_the_standby_when_the_primary_goes_silent() -> None:
    """A silent primary is given up and the standby address takes over with a fresh snapshot."""
    async with OigPeer().running() as primary, OigPeer().running() as standby:
        url = f"{primary.url},oig+http://127.0.0.1:{standby.port}/axis2/services"
        async with open_link(url, self_url="") as link:
            assert isinstance(link, OigLink)
            await next_of(link, Snapshot)
            primary.silence()
            await next_of(link, Snapshot, timeout=10)
            assert standby.connections == 1 and link.active_url == standby.base
            await standby.emit("delivered", "s1")
            assert (await next_of(link, CallEvent)).call_id == "s1"


async def test_ha_partner_announced_by_the_gateway_is_moved_to() -> None:
    """The HA callback's newServerIPAddress becomes an address of the link, which moves there."""
    query = "&ha_callback=http://127.0.0.1:0/oig-ha"
    async with OigPeer().running() as partner, peer_and_link(query) as (peer, link):
        assert peer.ha_callback.startswith("http://127.0.0.1:")
        await peer.announce_partner(f"127.0.0.1:{partner.port}")
        await next_of(link, Snapshot)
        assert partner.connections == 1
        assert link.active_url == partner.base and partner.base in link.urls


@pytest.mark.parametrize(
    ("call_id", "document"),
    [
        ("c66", None),  # the peer's broken XML
        ("c77", BOMB),
        ("c88", "unknown"),
        ("-", "no_call_id"),
    ],
)
async def test_malformed_input_is_logged_with_call_id_and_survived(
    call_id: str, document: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Invalid XML, an XML bomb, an unknown event type, a missing call id: logged, skipped."""
    caplog.set_level(logging.ERROR)
    async with peer_and_link() as (peer, link):
        if document is None:
            await peer.send_garbage(call_id)
        elif isinstance(document, bytes):
            await peer.push("", raw=document)
        elif document == "unknown":
            await peer.push(peer.call_event_xml("CALL_TELEPORTED", call_id))
        else:
            await peer.push(
                '<cc:callEvent objectId="501"><cc:type>CALL_HELD</cc:type></cc:callEvent>'
            )
        await peer.emit("delivered", "next")
        assert (await next_of(link, CallEvent)).call_id == "next"
        errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
        assert any(f"[call_id={call_id}]" in m for m in errors), errors
        assert link.connected and peer.connections == 1


async def test_password_never_reaches_a_log_line(caplog: pytest.LogCaptureFixture) -> None:
    """Connecting, reconnecting, commands and failures log no password; addresses hold none."""
    caplog.set_level(logging.DEBUG)
    async with peer_and_link() as (peer, link):
        await peer.drop()
        await next_of(link, Snapshot)
        await link.send(LinkCommand(op="hold", agent="1001", call_id="1"))
        assert all("s3cret" not in u for u in link.urls)
        assert "s3cret" not in repr(link.options)
    dead = peer.url.replace(f":{peer.port}/", ":9/")
    async with open_link(dead, self_url=""):
        await asyncio.sleep(0.3)
    with pytest.raises(ValueError) as bad:
        parse_oig_urls(f"{peer.url}&keepalive=20")  # over the gateway's 10 s session timer
    assert "s3cret" not in str(bad.value)
    assert caplog.records and not any("s3cret" in r.getMessage() for r in caplog.records)


def test_url_lists_devices_ranges_and_standby_without_secrets() -> None:
    """Commas inside options stay options; a comma before oig+http starts the standby."""
    endpoints, options = parse_oig_urls(
        "oig+https://oig1.example.com?password=pw&devices=1001-1003,2001&busy_codes=Lunch:4,"
        "oig+https://oig2.example.com:8443/custom/"
    )
    assert endpoints == [
        "https://oig1.example.com/axis2/services",
        "https://oig2.example.com:8443/custom",
    ]
    assert options.devices == ("1001", "1002", "1003", "2001")
    assert options.busy_codes == {"Lunch": 4} and options.password == "pw"


async def test_a_call_delivered_by_the_gateway_rings_the_agent_socket(tmp_path: Path) -> None:
    """End to end: the OIG reports a call at 1001 and 1001's signed-in page sees it ring."""
    async with OigPeer(("1001",)).running() as peer:
        stack = contextlib.ExitStack()
        proxy = await asyncio.to_thread(
            stack.enter_context, running_proxy(tmp_path, cti_url=peer.url)
        )
        try:
            token = await asyncio.to_thread(proxy.sign_in)
            async with proxy.connect(token) as ws:
                assert (await next_message(ws))["type"] == "welcome"
                await peer.emit("delivered", "9911", ani="+16504508810", dnis="8005550100")
                ringing = await wait_for_ringing(ws, timeout=10)
                assert ringing["call"]["call_id"] != "9911"  # the proxy's own id
                assert ringing["call"]["ani_display"] == "+1 650-450-8810"
        finally:
            await asyncio.to_thread(stack.close)
