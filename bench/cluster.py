"""Cluster mode (issue 15), on real node processes behind a load balancer (tests/cluster.py):

- pop latency, from the simulator ringing an agent to the pop on the agent's socket, for a page
  on a node that does not hold the PBX link (the event crosses Redis to reach it), against a
  page on a one-node cluster in the same run (same processes, same Redis and PostgreSQL), and a
  page on the holder of the three-node cluster;
- takeover after `kill -9` of the link holder: until the PBX simulator sees the next node's
  link connect, and until that node's /readyz says it holds the link; median and max.

It needs the link lease and command forwarding (one holder per cluster): without them every
node runs a link of its own, and the rows that need a single holder say so instead of a number.
"""

from __future__ import annotations

import asyncio
import statistics
import time

import pytest

from bench.pop_latency import CALLERS, percentile
from tests.cluster import Cluster, Node, running_cluster
from tests.cluster_page import Page

TIMEOUT = 30.0


async def _page(cluster: Cluster, n: int, on: Node) -> Page:
    token = await cluster.sign_in(cluster.agents[n].address)
    page = await cluster.open_page(token, on=on)
    assert page.node == on.name, f"the balancer put the page on {page.node}, not {on.name}"
    return page


async def _one_pop(cluster: Cluster, page: Page, n: int, caller: str) -> float:
    """Seconds from ringing agent n to its page holding the pop; the call is hung up after."""
    started = time.perf_counter()
    pbx_call = await cluster.place_call(cluster.agents[n].extension, ani=caller)
    popped = await page.wait_for(state="ringing", matching=False, timeout=TIMEOUT)
    took = time.perf_counter() - started
    await cluster.http.post(f"{cluster.sim_url}/calls/{pbx_call}/hangup")
    await page.wait_for(popped["call"]["call_id"], state="cleared", timeout=TIMEOUT)
    return took


async def _pops(
    cluster: Cluster, pages: dict[str, tuple[Page, int]], calls: int
) -> dict[str, list[float]]:
    """Interleaved rounds over the pages (each row meets the same load), after a warm-up round
    that also puts every caller in the lookup cache."""
    samples: dict[str, list[float]] = {name: [] for name in pages}
    for i in range(len(CALLERS) + calls):
        for name, (page, n) in pages.items():
            took = await _one_pop(cluster, page, n, CALLERS[i % len(CALLERS)])
            if i >= len(CALLERS):
                samples[name].append(took)
    return samples


async def _single_node(calls: int) -> list[float]:
    async with running_cluster(1, agents=2) as cluster:
        holder = await cluster.wait_for_holder(TIMEOUT)
        page = await _page(cluster, 0, holder)
        return (await _pops(cluster, {"single": (page, 0)}, calls))["single"]


async def _three_nodes(
    calls: int, kills: int
) -> tuple[dict[str, list[float]], list[float], list[float]]:
    async with running_cluster(3, agents=2) as cluster:
        holder = await cluster.wait_for_holder(TIMEOUT)
        other = await cluster.non_holder(TIMEOUT)
        pages = {
            "holder": (await _page(cluster, 0, holder), 0),
            "other": (await _page(cluster, 1, other), 1),
        }
        samples = await _pops(cluster, pages, calls)
        for page, _ in pages.values():
            await page.close()
        link: list[float] = []
        ready: list[float] = []
        for _ in range(kills):
            took_link, took_ready = await _takeover(cluster)
            link.append(took_link)
            ready.append(took_ready)
            await cluster.add_nodes(1)  # back to three
        return samples, link, ready


async def _takeover(cluster: Cluster) -> tuple[float, float]:
    """kill -9 of the holder: seconds until the simulator sees another link, and until a node
    says on /readyz that it holds the link."""
    holder = await cluster.wait_for_holder(TIMEOUT)
    known = len(await cluster.bridge_sessions())
    killed = time.perf_counter()
    cluster.kill(holder)
    while True:
        sessions = await cluster.bridge_sessions()
        if any(s["closed"] is None for s in sessions[known:]):
            took_link = time.perf_counter() - killed
            break
        if time.perf_counter() - killed > TIMEOUT:
            raise AssertionError("no other node's link reached the PBX")
        await asyncio.sleep(0.005)
    await cluster.wait_for_holder(TIMEOUT, not_=holder)
    return took_link, time.perf_counter() - killed


def _row(name: str, samples: list[float]) -> str:
    ms = [s * 1000 for s in samples]
    return (
        f"  {name:<38} p50 {percentile(ms, 50):7.2f} ms   p99 {percentile(ms, 99):7.2f} ms   "
        f"mean {statistics.fmean(ms):7.2f} ms"
    )


def run(calls: int = 50, kills: int = 10) -> None:
    print(
        f"cluster: node processes behind a TLS-terminating TCP balancer, Redis bus, PostgreSQL "
        f"lease; {calls} calls per pop row (repeat callers, cached, rows interleaved); the "
        f"one-node cluster runs the same way (Redis, lease), alone"
    )
    try:
        single = asyncio.run(_single_node(calls))
        print(_row("pop, one-node cluster", single))
        samples, link, ready = asyncio.run(_three_nodes(calls, kills))
    except (AssertionError, RuntimeError, pytest.skip.Exception) as exc:
        print(f"  not measured: {str(exc).splitlines()[0]}")
        return
    print(_row("pop, 3 nodes, page on the holder", samples["holder"]))
    print(_row("pop, 3 nodes, page on another node", samples["other"]))
    for p in (50, 99):
        ratio = percentile(samples["other"], p) / percentile(single, p)
        print(f"  ratio another node / one node, p{p}:    {ratio:6.2f} x")
    print(
        f"  takeover after kill -9 ({len(link)} kills), to the next link at the PBX: median "
        f"{statistics.median(link) * 1000:.0f} ms   max {max(link) * 1000:.0f} ms"
    )
    print(
        f"  takeover after kill -9 ({len(ready)} kills), to /readyz saying holder:    median "
        f"{statistics.median(ready) * 1000:.0f} ms   max {max(ready) * 1000:.0f} ms"
    )
