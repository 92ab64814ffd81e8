"""CSTA link figures on loopback: events decoded and applied per second, and command round trip.

The test peer blasts framed CSTA events (ring, answer, clear per call, across many devices)
into the link; the figure counts `CallEvent`s coming out of `link.events()`. Then hold
commands go one at a time, each waiting for its answer: p50 and p99 of the round trip.
"""

from __future__ import annotations

import asyncio
import statistics
import time

from proxy.links import LinkCommand
from proxy.links.csta.link import CstaLink, open_csta_link
from softphone.events import CallEvent, Snapshot
from tests.integration.links.peers.csta_peer import EVENT_INVOKE, CstaPeer, frame

KINDS = ("delivered", "established", "cleared")


async def _first_snapshot(link: CstaLink) -> None:
    async for event in link.events():
        if isinstance(event, Snapshot):
            return


async def _throughput(peer: CstaPeer, link: CstaLink, calls: int) -> tuple[int, float]:
    devices = peer.devices
    frames = [
        frame(EVENT_INVOKE, peer.event_xml(kind, f"b{i}", devices[i % len(devices)], ani="+1650"))
        for i in range(calls)
        for kind in KINDS
    ]
    expected = len(frames)
    start = time.perf_counter()
    writer = await peer.connected()
    # Whole frames per write: the peer's heartbeat may write between two of them, never inside.
    for at in range(0, len(frames), 500):
        writer.write(b"".join(frames[at : at + 500]))
        await writer.drain()
    seen = 0
    async for event in link.events():
        if isinstance(event, CallEvent):
            seen += 1
            if seen == expected:
                break
    return seen, time.perf_counter() - start


async def _round_trips(link: CstaLink, n: int) -> list[float]:
    took = []
    for i in range(n):
        start = time.perf_counter()
        await link.send(LinkCommand(op="hold", agent="1001", call_id=f"h{i}"))
        took.append(time.perf_counter() - start)
    return took


async def _main(calls: int, commands: int) -> None:
    devices = tuple(str(1001 + i) for i in range(100))
    async with CstaPeer(devices).running() as peer, open_csta_link(peer.url, self_url="") as link:
        await asyncio.wait_for(_first_snapshot(link), 10)
        seen, seconds = await _throughput(peer, link, calls)
        print(
            f"csta link: {seen} events decoded and applied in {seconds:.2f} s = "
            f"{seen / seconds:,.0f} events/s ({len(devices)} devices)"
        )
        took = sorted(await _round_trips(link, commands))
        p50 = statistics.median(took) * 1000
        p99 = took[min(len(took) - 1, int(len(took) * 0.99))] * 1000
        print(f"csta link: {commands} hold commands, round trip p50 {p50:.2f} ms, p99 {p99:.2f} ms")


def run(calls: int = 10_000, commands: int = 200) -> None:
    """Print CSTA link throughput and command round-trip time against the loopback peer."""
    asyncio.run(_main(calls, commands))


if __name__ == "__main__":
    run()
