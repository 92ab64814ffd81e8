"""The page shows what the PBX link can do and what the PBX says: no Conference or DND on
Asterisk, the digits a caller keyed in, and a held call ringing back as a hold recall."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest
from playwright.sync_api import FrameLocator, Page, expect

from tests.harness import RunningProxy, running_proxy
from tests.integration.links.peers.ami_peer import AmiPeer

pytestmark = pytest.mark.browser
T = TypeVar("T")


def open_console(page: Page, proxy: RunningProxy) -> FrameLocator:
    page.goto(proxy.console_url)
    return page.frame_locator("#softphone")


def sign_in(phone: Page | FrameLocator, address: str = "1001") -> None:
    phone.get_by_label("Sign-in address").fill(address)
    phone.get_by_label("Password").fill("demo")
    phone.get_by_role("button", name="Sign in", exact=True).click()
    expect(phone.get_by_text("Ready for calls")).to_be_visible()


@contextmanager
def ami_peer() -> Iterator[tuple[AmiPeer, Any]]:
    """The Asterisk test peer on a loop of its own (the browser test is synchronous), and a
    function that runs a coroutine on that loop."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="ami peer", daemon=True)
    thread.start()

    def run(coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, loop).result(10)

    peer = AmiPeer()
    running = peer.running()
    run(running.__aenter__())
    try:
        yield peer, run
    finally:
        run(running.__aexit__(None, None, None))
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


@pytest.fixture
def hold_recall_proxy(tmp_path: Path) -> Iterator[RunningProxy]:
    """The demo proxy with a PBX hold timeout short enough to watch a recall."""
    with running_proxy(tmp_path, sim_hold_timeout_seconds=1.5) as running:
        yield running


def test_digits_and_hold_recall_are_shown(
    page: Page, hold_recall_proxy: RunningProxy, artifacts: Path
) -> None:
    """Digits the caller keyed in show as "Caller entered 1 2 3 4"; a call held past the PBX's
    hold timeout rings back as "Hold recall", not "On hold"."""
    proxy = hold_recall_proxy
    phone = open_console(page, proxy)
    sign_in(phone)
    proxy.place_call(agent="1001", ani="+16504508810", digits="1234")
    details = phone.locator("#call-details")
    expect(details.get_by_text("Caller entered", exact=True)).to_be_visible()
    expect(details.get_by_text("1 2 3 4", exact=True)).to_be_visible()
    page.screenshot(path=artifacts / "call-collected-digits.png")
    phone.get_by_role("button", name="Answer").click()
    phone.get_by_role("button", name="Hold").click()
    expect(phone.get_by_text("On hold")).to_be_visible()
    expect(phone.get_by_text("Hold recall", exact=True)).to_be_visible(timeout=8000)
    expect(phone.get_by_role("button", name="Answer")).to_be_visible()
    # The digits are still there when the call comes back.
    expect(details.get_by_text("1 2 3 4", exact=True)).to_be_visible()


def test_asterisk_agent_sees_no_conference_and_no_dnd(page: Page, tmp_path: Path) -> None:
    """On Asterisk, consulting a colleague offers Complete transfer but no Conference, and the
    state menu has no Do not disturb."""
    with ami_peer() as (peer, run), running_proxy(tmp_path, cti_url=peer.url) as proxy:
        # The page on its own: the demo console drives the simulator, and there is none here.
        page.goto(f"{proxy.page_base}/softphone/softphone.html")
        phone = page
        sign_in(phone)
        states = phone.locator("#agent-state option").all_inner_texts()
        assert "Ready" in states and "Do not disturb" not in states, states
        run(peer.emit("delivered", "c1", ani="+16504508810"))
        expect(phone.get_by_role("button", name="Answer")).to_be_visible()
        run(peer.emit("established", "c1", ani="+16504508810"))
        expect(phone.get_by_role("button", name="Hold")).to_be_visible()
        phone.get_by_label("Transfer or redirect to").fill("1002")
        phone.get_by_role("button", name="Consult").click()
        expect(phone.get_by_role("button", name="Complete transfer")).to_be_visible()
        expect(phone.locator("#conference")).to_be_hidden()
        assert [c["op"] for c in peer.commands] == ["consult"]
