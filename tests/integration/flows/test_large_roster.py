"""A contact centre's whole roster on one proxy: 10,000 agents, the link up and monitoring all of
them (its monitor frame is about 90 KB), and a call to the last one rings on their page."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from proxy.agents.hashing import hash_password
from proxy.store import AgentRecord
from tests.harness import RunningProxy, running_proxy, wait_for_ringing

AGENTS = 10_000


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[RunningProxy]:
    with running_proxy(tmp_path) as running:
        yield running


async def test_ten_thousand_agents_are_monitored_and_the_last_one_rings(
    proxy: RunningProxy,
) -> None:
    password = hash_password("demo")
    roster = [
        AgentRecord(f"agent{n}@big.example", f"Agent {n}", str(30000 + n), "regular", password)
        for n in range(AGENTS)
    ]
    proxy.run(proxy.services.store.put_agents(roster))
    last = roster[-1]
    _wait_until_simulated(proxy, last.extension)
    # Generous timeouts: the machine running the suite may be loaded, and this is no timing.
    signed_in = httpx.post(
        f"{proxy.base_url}/api/v1/sessions",
        json={"address": last.address, "password": "demo"},
        timeout=30,
    )
    signed_in.raise_for_status()
    token = signed_in.json()["token"]
    async with proxy.connect(token) as ws:
        response = httpx.post(
            f"{proxy.base_url}/sim/calls",
            json={"agent": last.extension, "ani": "+16505550199"},
            timeout=30,
        )
        response.raise_for_status()
        ringing = await wait_for_ringing(ws, timeout=30)
    assert ringing["call"]["state"] == "ringing"  # on the last agent's own page
    assert proxy.services.link.connected


def _wait_until_simulated(proxy: RunningProxy, extension: str) -> None:
    """The roster watcher has told the simulator and the link of the new agents."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        known = set(httpx.get(f"{proxy.base_url}/sim/agents", timeout=30).json())
        if extension in known and proxy.services.link.connected:
            return
        time.sleep(0.2)
    raise AssertionError(f"the simulator never learnt of {extension}")
