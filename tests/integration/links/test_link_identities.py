"""Agents and calls as real PBXs present them, through the whole proxy on every link (sim,
bridge, CSTA, OIG, AMI): an address that is not the extension, a hot desk, an agent added
while the proxy runs, and a PBX restart that reuses call ids.

Each test runs the proxy (the demo roster and Salesforce stand-in) against the link's own
test peer, or the built-in simulator through its HTTP API, driven the same way by `Pbx`.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.harness import (
    RunningProxy,
    next_message,
    running_proxy,
    wait_for_call,
    wait_for_ringing,
)
from tests.integration.links.link_peers import PEERS, Peer

MARIA = "maria@demo.example"  # on extension 2201
DESK = "desk@demo.example"  # hot desk, whose own extension is 2301
CALLER = "+16504508810"  # Maria Chen, a Contact in the demo org
LINKS = sorted({"sim", *PEERS})
WAIT = 10.0  # seconds any one step may take before the test fails


async def until(check: Any, what: str, timeout: float = WAIT) -> Any:
    """Poll `check()` (a function or a coroutine function) until it returns something truthy;
    fail after `timeout` saying `what`."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        found = check()
        if inspect.isawaitable(found):
            found = await found
        if found:
            return found
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"never: {what}")
        await asyncio.sleep(0.05)


class Pbx:
    """One PBX, driven the same way whichever link reaches it: the built-in simulator through
    its HTTP API (it numbers calls itself), or a link's test peer through its wire protocol."""

    def __init__(self, peer: Peer | None) -> None:
        self.peer = peer
        self.base_url = ""  # the simulator's: the proxy's own, once it runs
        self._seen = 0  # the peer's commands before the last ring (earlier calls' answers)

    @property
    def url(self) -> str:
        return "sim://" if self.peer is None else self.peer.url

    async def _sim(self, method: str, path: str, **body: Any) -> Any:
        async with httpx.AsyncClient(base_url=f"{self.base_url}/sim") as client:
            response = await client.request(method, path, json=body or None)
        response.raise_for_status()
        return response.json() if response.content else None

    async def ring(self, device: str, pbx_id: str) -> str:
        """An outside call rings `device`; the PBX's id for it (`pbx_id`, but the simulator
        chooses its own)."""
        if self.peer is None:
            leg = await self._sim("POST", "/calls", agent=device, ani=CALLER)
            return str(leg["call_id"])
        self._seen = len(self.peer.commands)
        await self.peer.emit("delivered", pbx_id, device, ani=CALLER, dnis="8005550100")
        return pbx_id

    async def answered(self, device: str, pbx_id: str) -> None:
        """The PBX received the answer for its call `pbx_id` at `device`, and reports the
        call up (the simulator does both itself)."""
        if self.peer is None:

            async def up() -> bool:
                legs = await self._sim("GET", "/calls")
                wanted = (pbx_id, device, "active")
                return any((x["call_id"], x["agent"], x["state"]) == wanted for x in legs)

            await until(up, f"the simulator's call {pbx_id} at {device} answered")
            return
        peer = self.peer
        await until(
            lambda: any(
                (c["op"], c["agent"], c["call_id"]) == ("answer", device, pbx_id)
                for c in peer.commands[self._seen :]
            ),
            f"an answer for {pbx_id} at {device} at the PBX (got {peer.commands})",
        )
        await peer.emit("established", pbx_id, device, ani=CALLER, dnis="8005550100")

    async def clear(self, device: str, pbx_id: str) -> None:
        """The caller hangs up."""
        if self.peer is None:
            await self._sim("POST", f"/calls/{pbx_id}/hangup")
        else:
            await self.peer.emit("cleared", pbx_id, device)

    async def restart(self) -> None:
        """The PBX restarts: the link's connection drops, every call is forgotten, call ids
        start again."""
        if self.peer is None:
            await self._sim("POST", "/restart")
        else:
            await self.peer.restart()


@pytest.fixture(params=LINKS)
async def pbx(request: pytest.FixtureRequest) -> AsyncIterator[Pbx]:
    if request.param == "sim":
        yield Pbx(None)
        return
    async with PEERS[request.param]().running() as peer:
        yield Pbx(peer)


@pytest.fixture
async def proxy(pbx: Pbx, tmp_path: Path) -> AsyncIterator[RunningProxy]:
    """The whole proxy on `pbx`'s link, started in a thread (the peer runs on this loop)."""
    stack = contextlib.ExitStack()
    started = running_proxy(tmp_path, cti_url=pbx.url, wrap_up_seconds=0, task_retry_seconds=0.05)
    running = await asyncio.to_thread(stack.enter_context, started)
    pbx.base_url = running.base_url
    try:
        yield running
    finally:
        await asyncio.to_thread(stack.close)


async def sign_in(proxy: RunningProxy, address: str, password: str = "demo", **extra: str) -> Any:
    """The sign-in's answer (from this loop: a hot desk's phone login needs the peer)."""
    body = {"address": address, "password": password, **extra}
    async with httpx.AsyncClient() as client:
        return await client.post(f"{proxy.base_url}/api/v1/sessions", json=body)


async def token_of(proxy: RunningProxy, address: str, **extra: str) -> str:
    response = await sign_in(proxy, address, **extra)
    assert response.status_code == 201, response.text
    token: str = response.json()["token"]
    return token


async def take_call(
    pbx: Pbx, proxy: RunningProxy, ws: Any, device: str, pbx_id: str
) -> tuple[str, str]:
    """Ring `device`, see it ring on the page under the proxy's own id, answer it there (the
    PBX gets the answer for that device and call), and the caller hangs up: the proxy's id
    and the PBX's."""
    pbx_id = await pbx.ring(device, pbx_id)
    call_id: str = (await wait_for_ringing(ws, WAIT))["call"]["call_id"]
    assert call_id != pbx_id
    assert proxy.services.identities.pbx_call(call_id) == (device, pbx_id)
    await ws.send(json.dumps({"type": "answer", "call_id": call_id}))
    await pbx.answered(device, pbx_id)
    await wait_for_call(ws, call_id, timeout=WAIT, state="active")
    await pbx.clear(device, pbx_id)
    await wait_for_call(ws, call_id, timeout=WAIT, state="cleared")
    return call_id, pbx_id


async def tasks_once_written(proxy: RunningProxy, call_ids: list[str]) -> list[dict[str, Any]]:
    """Every Task in the org, once each of `call_ids` has one and no write is pending."""
    org, store = proxy.services.org, proxy.services.store
    assert org is not None

    async def settled() -> list[dict[str, Any]] | None:
        counts = await asyncio.to_thread(proxy.run, store.outbox_counts())
        tasks = org.tasks()
        logged = {t["CallObject"] for t in tasks}
        return tasks if counts["pending"] == 0 and logged >= set(call_ids) else None

    tasks: list[dict[str, Any]] = await until(settled, f"calls {call_ids} all logged")
    return tasks


def link_watches(proxy: RunningProxy, device: str) -> bool:
    """The link monitors `device` on its live connection (an AMI device is `PJSIP/<ext>`), with
    no monitor change still on its way to the PBX."""
    link = proxy.services.link
    watched = {d.rpartition("/")[2] for d in link.watched}
    return device in watched and not link.monitoring.locked()  # type: ignore[attr-defined]


# --- 1. an agent whose sign-in address is not their extension ----------------------------------
async def test_an_agent_whose_address_is_not_the_extension_rings_answers_and_logs_once(
    pbx: Pbx, proxy: RunningProxy
) -> None:
    """maria@demo.example (on 2201): a ring at 2201 rings and pops Maria Chen on her page under
    the proxy's id, her answer reaches the PBX for 2201's call, and one Task logs it."""
    async with proxy.connect(await token_of(proxy, MARIA)) as ws:
        welcome = await next_message(ws)
        assert welcome["agent"]["extension"] == "2201"
        pbx_id = await pbx.ring("2201", "7")
        call_id = (await wait_for_ringing(ws, WAIT))["call"]["call_id"]
        assert call_id != pbx_id
        popped = await wait_for_call(ws, call_id, timeout=WAIT, matching=False)
        assert popped["call"]["caller_name"] == "Maria Chen"
        await ws.send(json.dumps({"type": "answer", "call_id": call_id}))
        await pbx.answered("2201", pbx_id)
        await wait_for_call(ws, call_id, timeout=WAIT, state="active")
        await pbx.clear("2201", pbx_id)
        await wait_for_call(ws, call_id, timeout=WAIT, state="cleared")
    tasks = await tasks_once_written(proxy, [call_id])
    assert [t["CallObject"] for t in tasks] == [call_id]


# --- 2. a hot desk ------------------------------------------------------------------------------
async def test_a_hot_desk_agent_gets_the_calls_of_the_extension_they_chose(
    pbx: Pbx, proxy: RunningProxy
) -> None:
    """desk@demo.example signs in at 2302: the PBX logs that phone in (Asterisk, whose phones
    register themselves, is asked nothing), a ring at 2302 rings her page and she answers it,
    and a ring at her roster extension 2301 does not reach her."""
    async with proxy.connect(await token_of(proxy, DESK, extension="2302")) as ws:
        welcome = await next_message(ws)
        assert welcome["agent"]["extension"] == "2302"
        await until(lambda: link_watches(proxy, "2302"), "the link monitoring 2302")
        # Rung first at 2301: were it hers, it would ring on her page before the 2302 call.
        await pbx.ring("2301", "21")
        pbx_id = await pbx.ring("2302", "22")
        call_id = (await wait_for_ringing(ws, WAIT))["call"]["call_id"]
        assert proxy.services.identities.pbx_call(call_id) == ("2302", pbx_id)
        await ws.send(json.dumps({"type": "answer", "call_id": call_id}))
        await pbx.answered("2302", pbx_id)
        await wait_for_call(ws, call_id, timeout=WAIT, state="active")
    assert proxy.services.seating.device_of(DESK) == "2302"
    if pbx.peer is not None:
        logins = [c for c in pbx.peer.commands if c["op"] == "login"]
        if proxy.services.link.capabilities.phone_login:
            assert [c["number"] for c in logins] == ["2302"], logins
        else:
            assert logins == []


# --- 3. an agent added while the proxy runs --------------------------------------------------
def agents_cli(db: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """`softphone-proxy agents ...` run as an admin would, against the proxy's own database."""
    env = {**os.environ, "SOFTPHONE_DATABASE_URL": f"sqlite+aiosqlite:///{db}"}
    return subprocess.run(
        [sys.executable, "-m", "proxy.cli", "agents", *args],
        input=stdin,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_an_agent_added_while_the_proxy_runs_gets_calls_within_seconds(
    pbx: Pbx, proxy: RunningProxy, tmp_path: Path
) -> None:
    """`agents add kim@demo.example --extension 2405` while the proxy runs: within seconds,
    with no restart, Kim signs in, and a call to 2405 rings, is answered on her page and logged."""
    added = await asyncio.to_thread(
        agents_cli,
        tmp_path / "test.db",
        "add", "kim@demo.example", "--name", "Kim Park", "--extension", "2405",
        "--password-stdin",
        stdin="kim's password\n",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    token = await token_of(proxy, "kim@demo.example", password="kim's password")
    async with proxy.connect(token) as ws:
        welcome = await next_message(ws)
        assert welcome["agent"]["extension"] == "2405"
        await until(lambda: link_watches(proxy, "2405"), "the link monitoring 2405")
        call_id, _ = await take_call(pbx, proxy, ws, "2405", "31")
    tasks = await tasks_once_written(proxy, [call_id])
    assert [t["CallObject"] for t in tasks] == [call_id]


# --- 4. a PBX restart that reuses call ids ----------------------------------------------------
async def restarted(pbx: Pbx, proxy: RunningProxy) -> None:
    """Restart the PBX and wait for the link to be back on it."""
    link = proxy.services.link
    reconnects = link.reconnects
    await pbx.restart()
    await until(
        lambda: link.reconnects > reconnects and link.connected,
        "the link back after the PBX restart",
    )


async def test_a_pbx_restart_reusing_call_ids_logs_each_call_once(
    pbx: Pbx, proxy: RunningProxy
) -> None:
    """The PBX's call 1 at 2201, a restart, call 1 again, another restart, call 1 once more:
    three calls with three proxy ids, and exactly one Task each."""
    pbx_ids: list[str] = []
    call_ids: list[str] = []
    async with proxy.connect(await token_of(proxy, MARIA)) as ws:
        await next_message(ws)
        for round_ in range(3):
            if round_:
                await restarted(pbx, proxy)
            call_id, pbx_id = await take_call(pbx, proxy, ws, "2201", "1")
            call_ids.append(call_id)
            pbx_ids.append(pbx_id)
    assert len(set(pbx_ids)) == 1  # the PBX used the same id each time
    assert len(set(call_ids)) == 3
    tasks = await tasks_once_written(proxy, call_ids)
    assert sorted(t["CallObject"] for t in tasks) == sorted(call_ids)
