"""The `softphone-proxy` command as an admin uses it, run as a real process."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.harness import RunningProxy, next_message, wait_for_call

CLI = [sys.executable, "-m", "proxy.cli"]


async def test_simulate_call_command_rings_the_agent(proxy: RunningProxy) -> None:
    """`softphone-proxy simulate call` prints the simulator's call id and the agent's phone
    rings (under the proxy's own id for that call)."""
    async with proxy.connect(proxy.sign_in("1003")) as ws:
        await next_message(ws)
        result = subprocess.run(
            [
                *CLI,
                "simulate",
                "call",
                "--agent",
                "1003",
                "--ani",
                "+16504508810",
                "--url",
                proxy.base_url,
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        pbx_id = result.stdout.strip()
        assert pbx_id.startswith("sim-")
        call_id = await asyncio.to_thread(proxy.proxy_call_id, pbx_id)
        popped = await wait_for_call(ws, call_id, matching=False)
        assert popped["call"]["caller_name"] == "Maria Chen"


def test_simulate_call_for_unknown_agent_explains(proxy: RunningProxy) -> None:
    """The command exits 1 and repeats the simulator's reason."""
    result = subprocess.run(
        [*CLI, "simulate", "call", "--agent", "7777", "--url", proxy.base_url],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 1
    assert "no agent '7777'" in result.stderr


@pytest.mark.parametrize(
    ("variable", "value", "known"),
    [
        ("SOFTPHONE_CTI_URL", "carrier-pigeon://loft", "bridge+ws://, bridge+wss://, sim://"),
        ("SOFTPHONE_BUS_URL", "kafka://k:9092", "memory://"),
        ("SOFTPHONE_DATABASE_URL", "oracle://db", "postgresql+asyncpg://, sqlite+aiosqlite://"),
        ("SOFTPHONE_SALESFORCE_URL", "ftp://org", "browser://, https://, standin://"),
    ],
)
def test_unknown_scheme_stops_at_start_naming_known_ones(
    variable: str, value: str, known: str
) -> None:
    """An unknown URL scheme exits 2 with a message that lists the schemes that exist."""
    env = {**os.environ, variable: value}
    result = subprocess.run(
        [*CLI, "serve", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
        check=False,
    )
    assert result.returncode == 2
    assert f"{variable}={value!r}" in result.stderr
    listed = result.stderr.rsplit("known: ", 1)[1].strip().split(", ")
    assert set(known.split(", ")) <= set(listed)  # link modules may add more schemes


def test_demo_command_serves_console_and_prints_its_url(tmp_path: Path) -> None:
    """`softphone-proxy demo` prints the console URL at `localhost`, so the console frames the
    page from `127.0.0.1`: another site, as Salesforce frames it."""
    env = {**os.environ, "SOFTPHONE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/demo.db"}
    process = subprocess.Popen(
        [*CLI, "demo", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 30
        url = ""
        while not url and time.monotonic() < deadline:
            line = process.stdout.readline()
            if "Demo console:" in line:
                url = line.split("Demo console:")[1].strip()
        assert url.startswith("http://localhost:") and url.endswith("/console/")
        console = httpx.get(url)
        assert console.status_code == 200 and "Simulate inbound call" in console.text
        page_origin = url.replace("localhost", "127.0.0.1").removesuffix("/console/")
        page = httpx.get(f"{page_origin}/softphone/softphone.html")
        assert page.status_code == 200 and 'id="answer"' in page.text
    finally:
        process.terminate()
        process.wait(15)
