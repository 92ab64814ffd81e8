"""Review loose ends on the real links: a held call ringing back reads as a recall (CSTA, OIG),
and CSTA "ready" clears do not disturb as well as setting the agent state."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from proxy.links import LinkCommand, open_link
from proxy.links.csta.link import CstaLink, open_csta_link
from softphone.calls import CallStateMachine
from softphone.events import AgentEvent, AgentState, CallState, Snapshot
from tests.integration.links.link_peers import calls, next_of
from tests.integration.links.peers.csta_peer import ED3, EVENT_INVOKE, CstaPeer, frame
from tests.integration.links.peers.oig_peer import OigPeer


@pytest.fixture
async def csta() -> AsyncIterator[tuple[CstaPeer, CstaLink]]:
    async with CstaPeer().running() as peer, open_csta_link(peer.url, self_url="") as link:
        await next_of(link, Snapshot)
        yield peer, link


def recall_doc(call_id: str) -> bytes:
    """A DeliveredEvent at 1001 with ECMA-269's cause `recall`, as a switch sends a ring-back."""
    body = (
        f"<monitorCrossRefID>M1001</monitorCrossRefID>"
        f"<connection><callID>{call_id}</callID><deviceID>1001</deviceID></connection>"
        "<alertingDevice><deviceIdentifier>1001</deviceIdentifier></alertingDevice>"
        "<callingDevice><deviceIdentifier>+16504508810</deviceIdentifier></callingDevice>"
        "<calledDevice><deviceIdentifier>1001</deviceIdentifier></calledDevice>"
        "<cause>recall</cause>"
    )
    return frame(EVENT_INVOKE, f'<DeliveredEvent xmlns="{ED3}">{body}</DeliveredEvent>')


async def test_csta_ready_also_switches_do_not_disturb_off(
    csta: tuple[CstaPeer, CstaLink],
) -> None:
    """Ready sends SetDoNotDisturb off and then SetAgentState ready, so a DND agent is reachable."""
    peer, link = csta
    await peer.emit_agent("DoNotDisturbEvent", body="<doNotDisturbOn>true</doNotDisturbOn>")
    assert (await next_of(link, AgentEvent)).state == AgentState.DND
    await link.send(LinkCommand(op="set_state", agent="1001", state="ready"))
    assert peer.requests[-2:] == ["SetDoNotDisturb", "SetAgentState"]
    assert [(c["op"], c["state"], c["agent"]) for c in peer.commands[-2:]] == [
        ("set_state", "ready", "1001"),  # the peer reads doNotDisturbOn false as ready
        ("set_state", "ready", "1001"),
    ]
    await peer.emit_agent("DoNotDisturbEvent", body="<doNotDisturbOn>false</doNotDisturbOn>")
    await peer.emit_agent("AgentReadyEvent")
    await next_of(link, AgentEvent)
    assert (await next_of(link, AgentEvent)).state == AgentState.READY


async def test_csta_held_call_ringing_back_is_a_hold_recall(
    csta: tuple[CstaPeer, CstaLink],
) -> None:
    """A DeliveredEvent for a call held at the device is reported as hold_recall, and the core
    moves the call from held to ringing (not left "On hold")."""
    peer, link = csta
    for kind in ("delivered", "established", "held"):
        await peer.emit(kind, "c1", ani="+16504508810")
    events = await calls(link, 3)
    await peer.emit("delivered", "c1", ani="+16504508810")  # no cause: held is enough
    (rang_back,) = await calls(link, 1)
    assert rang_back.reason == "hold_recall"
    machine = CallStateMachine("1001")
    for event in (*events, rang_back):
        machine.apply(event, now=1.0)
    assert machine.calls["c1"].state == CallState.RINGING


async def test_csta_recall_cause_on_a_call_gone_is_a_transfer_recall(
    csta: tuple[CstaPeer, CstaLink],
) -> None:
    """Cause recall on a call the device had handed on rings back as transfer_recall."""
    peer, link = csta
    await peer.emit("delivered", "c2", ani="+16504508810")
    await peer.emit("established", "c2", ani="+16504508810")
    await peer.emit("transferred", "c2", number="1002")
    await calls(link, 3)
    await peer.send(recall_doc("c2"))
    (back,) = await calls(link, 1)
    assert (back.call_id, back.kind, back.reason) == ("c2", "delivered", "transfer_recall")


async def test_csta_first_ring_is_no_recall(csta: tuple[CstaPeer, CstaLink]) -> None:
    """An ordinary first ring carries no recall reason."""
    peer, link = csta
    await peer.emit("delivered", "c3", ani="+16504508810")
    (ring,) = await calls(link, 1)
    assert ring.reason == ""


async def test_oig_held_call_ringing_back_is_a_hold_recall() -> None:
    """On MiVoice (OIG), CALL_DELIVERED for a call held at the device is a hold_recall; after a
    retrieve, a later delivered is not."""
    async with OigPeer().running() as peer, open_link(peer.url, self_url="") as link:
        await next_of(link, Snapshot)
        for kind in ("delivered", "established", "held", "delivered"):
            await peer.emit(kind, "c1", ani="+16504508810")
        reasons = [e.reason for e in await calls(link, 4)]
        assert reasons == ["", "", "", "hold_recall"]
        for kind in ("established", "held", "retrieved", "delivered"):
            await peer.emit(kind, "c1", ani="+16504508810")
        assert (await calls(link, 4))[-1].reason == ""
