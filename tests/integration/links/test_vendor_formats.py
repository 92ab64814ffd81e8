"""Recorded vendor frames replayed over TCP through the real CSTA link and the whole proxy.

The transcripts in tests/integration/fixtures/csta/ are written from the vendors' published
formats: Unify OpenScape Voice (`N<digits>…;displayNumber=…`, hex correlatorData) and Avaya AE
Services (`extension:switch:address:0`). The agent must see numbers, never those strings.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from websockets.asyncio.client import ClientConnection

from proxy.links.csta.link import CstaLink, open_csta_link
from softphone.events import Direction, Snapshot
from tests.harness import next_message, running_proxy
from tests.integration.links.link_peers import calls, next_of
from tests.integration.links.peers.csta_peer import EVENT_INVOKE, FIXTURES, CstaPeer, frame

NENA_CALL_DATA = (
    "urn:nena:uid:callid:Q7fKx2Lm9pA.osv.example.com;"
    "urn:nena:uid:incidentid:Zr3Tw8Yb1cD.osv.example.com"
)


@pytest.fixture
async def peer() -> AsyncIterator[CstaPeer]:
    async with CstaPeer().running() as running:
        yield running


@pytest.fixture
async def link(peer: CstaPeer) -> AsyncIterator[CstaLink]:
    async with open_csta_link(peer.url, self_url="") as opened:
        await next_of(opened, Snapshot)
        yield opened


async def test_openscape_frames_give_numbers_and_keep_the_nena_id_as_call_data(
    peer: CstaPeer, link: CstaLink
) -> None:
    """OpenScape's N<…> identifiers arrive as numbers; its hex NENA id is call data, not IVR."""
    await peer.play("openscape_inbound")
    seen = await calls(link, 4)
    assert [e.kind for e in seen] == ["delivered", "established", "established", "cleared"]
    ringing = seen[0]
    assert (ringing.agent, ringing.direction) == ("1001", Direction.INBOUND)
    assert (ringing.ani, ringing.dnis, ringing.queue) == ("6504508810", "8005550100", "")
    assert ringing.ivr == () and ringing.digits == ""
    assert ringing.call_data == NENA_CALL_DATA
    # The caller is one party, by number, and leaving (by its plain-digits connection) ends it.
    assert [p.number for p in seen[1].parties] == ["6504508810"] and seen[2].parties == ()
    assert seen[3].call_id == ringing.call_id


async def test_avaya_frames_give_numbers_and_the_agents_own_side_matches(
    peer: CstaPeer, link: CstaLink
) -> None:
    """Avaya's digits:switch:ip:0 ids are numbers; 1001's own ids in that form are 1001's."""
    await peer.play("avaya_inbound")
    ringing, answered, cleared, withheld = await calls(link, 4)
    assert (ringing.ani, ringing.dnis, ringing.queue) == ("6504508810", "8005550100", "8005550100")
    assert ringing.direction == Direction.INBOUND
    # Answered by 1001 itself, so the caller is the only party; 1001's own clearing ends it.
    assert [p.number for p in answered.parties] == ["6504508810"]
    assert (cleared.kind, cleared.call_id) == ("cleared", "5821")
    # A withheld caller rings with no number at all, and no party to show.
    assert (withheld.kind, withheld.ani, withheld.parties) == ("delivered", "", ())


def _documents(name: str) -> list[bytes]:
    """The event documents of the transcript fixture `name`, each as the switch sends it."""
    transcript = etree.parse(str(FIXTURES / f"{name}.xml"))
    return [
        etree.tostring(d, with_tail=False) for d in transcript.getroot() if isinstance(d.tag, str)
    ]


async def _call_update(ws: ClientConnection, **wanted: Any) -> dict[str, Any]:
    """The first call update whose fields match `wanted`, whatever id the page knows it by."""
    while True:
        message = await next_message(ws, 8.0)
        if message.get("type") == "call" and all(
            message["call"].get(k) == v for k, v in wanted.items()
        ):
            return dict(message["call"])


async def test_openscape_call_pops_maria_chen_not_a_new_contact(tmp_path: Path) -> None:
    """End to end: an OpenScape caller rings 1001 as +1 650-450-8810 and pops Maria Chen."""
    async with CstaPeer(("1001",)).running() as peer:
        stack = contextlib.ExitStack()
        # The proxy runs on its own loop in a thread; entering it blocks, so not on this loop.
        proxy = await asyncio.to_thread(
            stack.enter_context, running_proxy(tmp_path, cti_url=peer.url)
        )
        try:
            token = await asyncio.to_thread(proxy.sign_in)
            async with proxy.connect(token) as ws:
                await next_message(ws)
                # Only the ring: the pop is decided while the call rings (answering would end it).
                delivered = _documents("openscape_inbound")[0]
                await peer.send(frame(EVENT_INVOKE, delivered))
                call = await _call_update(ws, state="ringing", matching=False)
                assert (call["ani"], call["ani_display"]) == ("6504508810", "+1 650-450-8810")
                assert call["dnis"] == "8005550100"
                assert call["caller_name"] == "Maria Chen"
                assert call["pop"]["kind"] == "record" and call["pop"]["rule"] == "ani"
                assert [m["name"] for m in call["pop"]["matches"]] == ["Maria Chen"]
                assert call["ivr"] == [] and call["digits"] == ""
        finally:
            await asyncio.to_thread(stack.close)
