"""Every link's capabilities reach the page in the welcome, and what a link cannot do is refused
by the proxy before the PBX hears of it."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.harness import RunningProxy, next_message, running_proxy
from tests.integration.links.link_peers import PEERS

ALL = {
    "answer": True,
    "hold": True,
    "redirect": True,
    "consult": True,
    "transfer": True,
    "conference": True,
    "dtmf": True,
    "dnd": True,
    "make_busy": True,
    "acd_groups": True,
    "cancel_work": True,
    "phone_login": True,
    "hold_recall": True,
}
ASTERISK_LACKS = ("conference", "dnd", "cancel_work", "phone_login", "hold_recall")
EXPECTED = {
    "sim": ALL,
    "bridge": ALL,
    "csta": ALL,
    "oig": ALL,
    "ami": ALL | dict.fromkeys(ASTERISK_LACKS, False),
}


@asynccontextmanager
async def proxy_on(link: str, tmp_path: Path) -> AsyncIterator[tuple[Any, RunningProxy]]:
    """The whole proxy on `link`'s test peer (the built-in simulator for `sim`)."""
    async with contextlib.AsyncExitStack() as peers:
        peer = None
        overrides: dict[str, Any] = {}
        if link != "sim":
            peer = await peers.enter_async_context(PEERS[link]().running())
            overrides["cti_url"] = peer.url
        stack = contextlib.ExitStack()
        # The proxy runs on its own loop in a thread; entering it blocks, so not on this loop.
        proxy = await asyncio.to_thread(stack.enter_context, running_proxy(tmp_path, **overrides))
        try:
            yield peer, proxy
        finally:
            await asyncio.to_thread(stack.close)


async def welcome_and_refusals(
    proxy: RunningProxy, refused: list[dict[str, Any]]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The welcome's status, and the answer to each of `refused` (sent in order)."""
    token = await asyncio.to_thread(proxy.sign_in)
    async with proxy.connect(token) as ws:
        welcome = await next_message(ws)
        answers = []
        for message in refused:
            await ws.send(json.dumps(message))
            while (answer := await next_message(ws))["type"] != "error":
                pass
            answers.append(answer)
    return welcome["status"], answers


@pytest.mark.parametrize("link", sorted(EXPECTED))
async def test_welcome_carries_the_links_capabilities(link: str, tmp_path: Path) -> None:
    """The page's welcome says what this link can do, honestly per link."""
    async with proxy_on(link, tmp_path) as (_, proxy):
        status, _ = await welcome_and_refusals(proxy, [])
    assert status["capabilities"] == EXPECTED[link]


async def test_asterisk_refuses_what_it_cannot_do_before_the_pbx(tmp_path: Path) -> None:
    """Conference, DND, cancel work and phone login on Asterisk get not_supported, and the
    manager never sees an action for them."""
    unsupported = [
        {"type": "conference", "call_id": "c1"},
        {"type": "set_state", "state": "dnd"},
        {"type": "cancel_work"},
        {"type": "login", "extension": "2001"},
    ]
    async with proxy_on("ami", tmp_path) as (peer, proxy):
        _, answers = await welcome_and_refusals(proxy, unsupported)
        assert peer is not None
        reached = list(peer.commands)
    assert [a["code"] for a in answers] == ["not_supported"] * 4
    assert answers[0]["message"] == "This phone system cannot make conferences from here"
    assert answers[0]["call_id"] == "c1"
    assert reached == []
