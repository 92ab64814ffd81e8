"""OIG link figures against the loopback test peer: events per second polled and applied
(one getNumberedEvent round trip per event, as the gateway hands them out), and the round trip
of a call-control command (holdCall) at p50/p99."""

from __future__ import annotations

import asyncio
import statistics
import time

from proxy.links import LinkCommand, open_link
from proxy.links.oig.link import OigLink
from softphone.events import CallEvent, Snapshot
from tests.integration.links.peers.oig_peer import OigPeer


async def _measure(events: int, commands: int) -> None:
    async with OigPeer().running() as peer, open_link(peer.url, self_url="") as link:
        assert isinstance(link, OigLink)
        stream = link.events()
        while not isinstance(await anext(stream), Snapshot):
            pass
        started = time.perf_counter()
        for i in range(events):
            kind = ("delivered", "established", "cleared")[i % 3]
            await peer.emit(kind, str(100_000 + i // 3), ani="+16504508810")
        queued = time.perf_counter() - started
        applied = 0
        while applied < events:
            if isinstance(await anext(stream), CallEvent):
                applied += 1
        elapsed = time.perf_counter() - started
        print(
            f"OIG link: {events} events polled and applied in {elapsed:.2f} s "
            f"= {events / elapsed:,.0f} events/s (peer queued them in {queued:.2f} s)"
        )
        rtts: list[float] = []
        for i in range(commands):
            began = time.perf_counter()
            await link.send(LinkCommand(op="hold", agent="1001", call_id=str(i)))
            rtts.append((time.perf_counter() - began) * 1000)
        cuts = statistics.quantiles(rtts, n=100)
        print(
            f"OIG link: holdCall round trip over {commands} commands: "
            f"p50 {cuts[49]:.2f} ms, p99 {cuts[98]:.2f} ms"
        )


def run(events: int = 3000, commands: int = 500) -> None:
    asyncio.run(_measure(events, commands))


if __name__ == "__main__":
    run()
