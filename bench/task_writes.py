"""Task writes: how fast the outbox drains into Salesforce, and how long a call waits for its Task.

Both run against the Salesforce stand-in slowed to 50 ms per API call, about what an org
answers in from a nearby data centre; the real simple-salesforce client does the writing.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from bench.fleet import bounded
from bench.scale import seed
from proxy.salesforce import open_salesforce
from proxy.salesforce.standin.org import demo_org
from proxy.salesforce.tasks import TaskWriter
from proxy.settings import Settings
from proxy.store.sql import SqlStore
from softphone.calllog import CallLog
from softphone.events import Direction
from tests.harness import serving_in_thread

LATENCY = 0.05


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


async def _drain(rows: int) -> tuple[float, int]:
    org = demo_org()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(database_url=f"sqlite+aiosqlite:///{Path(tmp)}/bench.db")
        async with SqlStore(settings.database_url) as store, open_salesforce(settings, org) as api:
            assert api is not None
            now = time.time()
            for i in range(rows):
                log = CallLog(f"b{i}", "1001", Direction.INBOUND, False, "+1650", now)
                await store.queue_call_log(log, [{"CallObject": log.call_object}], now)
            await api.object_names()  # sign in before the clock starts
            org.latency_seconds = LATENCY
            before = org.api_calls
            started = time.perf_counter()
            async with TaskWriter(store, api) as writer:
                while writer.written < rows:  # noqa: ASYNC110 - a poll is the measurement
                    await asyncio.sleep(0.005)
            return time.perf_counter() - started, org.api_calls - before


def _end_to_task(calls: int) -> list[float]:
    settings = Settings(
        demo=True,
        database_url=f"sqlite+aiosqlite:///{tempfile.mkdtemp(prefix='bench-')}/bench.db",
        wrap_up_seconds=0,
    )
    samples = []
    with serving_in_thread(settings) as (base_url, app, _loop):
        org = app.state.services.org
        org.latency_seconds = LATENCY
        identities = app.state.services.identities
        with httpx.Client(base_url=base_url) as client:
            for i in range(calls):
                leg = client.post("/sim/calls", json={"agent": "1001", "ani": "+14155559999"})
                call_id = leg.json()["call_id"]
                client.post(f"/sim/calls/{call_id}/answer")
                time.sleep(0.15)  # the pop's lookup is done; only the Task is measured
                # The Task's CallObject is the proxy's own id for the simulator's call.
                call_object = identities.known("1001", call_id)
                assert call_object is not None, f"the proxy never saw {call_id}"
                started = time.perf_counter()
                client.post(f"/sim/calls/{call_id}/hangup")
                while not org.tasks(call_object):
                    time.sleep(0.001)
                samples.append(time.perf_counter() - started)
                del i
    return samples


async def _end_together(base_url: str, call_ids: list[str]) -> None:
    limits = httpx.Limits(max_connections=100)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60) as client:

        async def hang_up(call_id: str) -> None:
            (await client.post(f"/sim/calls/{call_id}/hangup")).raise_for_status()

        await bounded([lambda c=c: hang_up(c) for c in call_ids], 100)  # type: ignore[misc]


def _burst(calls: int) -> tuple[float, int]:
    """`calls` answered calls, one per agent, all ending at once: seconds from the first hang-up
    to the last Task, and the API calls that took."""
    tmp = tempfile.mkdtemp(prefix="bench-burst-")
    database_url = f"sqlite+aiosqlite:///{tmp}/bench.db"
    agents = [str(200_000 + i) for i in range(calls)]
    asyncio.run(seed(database_url, agents))
    settings = Settings(demo=True, database_url=database_url, wrap_up_seconds=0)
    with serving_in_thread(settings) as (base_url, app, _loop):
        services = app.state.services
        while not services.link.connected:
            time.sleep(0.02)
        with httpx.Client(base_url=base_url) as client:
            call_ids = []
            for agent in agents:  # a caller the org knows: one lookup, then the cache
                leg = client.post("/sim/calls", json={"agent": agent, "ani": "+16504508810"})
                call_ids.append(leg.raise_for_status().json()["call_id"])
                client.post(f"/sim/calls/{call_ids[-1]}/answer").raise_for_status()
        while not all(
            services.identities.known(a, c) for a, c in zip(agents, call_ids, strict=True)
        ):
            time.sleep(0.05)
        time.sleep(0.5)  # the pops' lookups are done; only the Task writes are counted
        org, writer = services.org, services.writer
        org.latency_seconds = LATENCY
        before, written = org.api_calls, writer.written
        started = time.perf_counter()
        asyncio.run(_end_together(base_url, call_ids))
        while writer.written - written < calls:
            time.sleep(0.005)
        return time.perf_counter() - started, org.api_calls - before


def run(rows: int = 200, calls: int = 30, burst: int = 1000) -> None:
    seconds, api_calls = asyncio.run(_drain(rows))
    print(f"Task writes: {rows} outbox rows drained, stand-in at {LATENCY * 1000:.0f} ms per call")
    print(
        f"  {rows / seconds:,.1f} Tasks/s ({seconds:.2f} s), "
        f"{api_calls / rows:.2f} API calls per Task"
    )
    samples = _end_to_task(calls)
    ms = [s * 1000 for s in samples]
    print(f"call end to Task created ({calls} calls, wrap-up off, {LATENCY * 1000:.0f} ms org):")
    print(
        f"  p50 {statistics.median(ms):.0f} ms, p99 {percentile(ms, 99):.0f} ms, "
        f"max {max(ms):.0f} ms"
    )
    seconds, api_calls = _burst(burst)
    print(
        f"Task burst: {burst:,} answered calls, one per agent, hung up together "
        f"({LATENCY * 1000:.0f} ms org):"
    )
    print(
        f"  {api_calls / burst:.3f} API calls per Task ({burst / api_calls:.1f} Tasks per call), "
        f"last Task {seconds:.1f} s after the first hang-up ({burst / seconds:,.0f} Tasks/s)"
    )
