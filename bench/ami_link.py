"""The Asterisk link's own figures: AMI messages parsed and call events produced per second
(in memory, then over loopback from the test peer), and command round trips (p50/p99).

Run: `python -m bench.ami_link` (not part of `scripts/bench`'s default set yet).
"""

from __future__ import annotations

import asyncio
import statistics
import time

from proxy.links import LinkCommand, open_link
from proxy.links.ami.calls import AmiCalls
from proxy.links.ami.link import AmiLink
from proxy.links.ami.protocol import AmiParser
from softphone.events import CallEvent, Snapshot
from tests.integration.links.peers.ami_peer import AmiPeer, fixture

FLOW = "inbound_queue_call.txt"
EVENTS_PER_FLOW = 5  # delivered, established, held, retrieved, cleared


def _flows(count: int) -> bytes:
    return b"".join(
        fixture(FLOW, caller=f"1700000000.{i}", agent=f"1700000001.{i}") for i in range(count)
    )


def in_memory(flows: int) -> tuple[float, float]:
    """Messages parsed per second and call events produced per second, no sockets."""
    data = _flows(flows)
    parser, calls = AmiParser(), AmiCalls()
    messages = events = 0
    start = time.perf_counter()
    for offset in range(0, len(data), 4096):  # as a socket would hand it over
        parser.feed(data[offset : offset + 4096])
        while (message := parser.next_message()) is not None:
            messages += 1
            events += len(calls.apply(message))
    took = time.perf_counter() - start
    return messages / took, events / took


async def over_loopback(flows: int, round_trips: int) -> tuple[float, float, list[float]]:
    async with AmiPeer().running() as peer, open_link(peer.url, self_url="") as opened:
        assert isinstance(opened, AmiLink)
        link = opened
        stream = link.events()
        while not isinstance(await anext(stream), Snapshot):
            pass
        before = link.messages
        wanted = flows * EVENTS_PER_FLOW
        start = time.perf_counter()
        await peer.send_raw(_flows(flows))
        got = 0
        while got < wanted:
            if isinstance(await anext(stream), CallEvent):
                got += 1
        took = time.perf_counter() - start
        parsed = (link.messages - before) / took
        times = []
        for i in range(round_trips):
            began = time.perf_counter()
            await link.send(LinkCommand(op="hold", agent="1001", call_id=f"rt-{i}"))
            times.append(time.perf_counter() - began)
        return parsed, got / took, times


def run(flows: int = 2000, round_trips: int = 1000) -> None:
    parsed, applied = in_memory(flows)
    print(f"ami in memory: {parsed:,.0f} messages/s parsed, {applied:,.0f} call events/s applied")
    parsed, applied, times = asyncio.run(over_loopback(flows, round_trips))
    print(f"ami loopback:  {parsed:,.0f} messages/s parsed, {applied:,.0f} call events/s out")
    cuts = statistics.quantiles(times, n=100)
    print(
        f"ami command round trip ({round_trips} holds): "
        f"p50 {cuts[49] * 1000:.2f} ms, p99 {cuts[98] * 1000:.2f} ms"
    )


if __name__ == "__main__":
    run()
