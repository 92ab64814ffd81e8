"""The garbage-collection policy: long-lived objects frozen out of full collections, and the
cycles among them reclaimed only while no call is on."""

from __future__ import annotations

import asyncio
import gc
import weakref

from proxy.collector import Collector


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


async def test_objects_alive_at_start_are_frozen_and_given_back_at_the_end() -> None:
    collector = Collector(quiet=lambda: False)
    await collector.start()
    try:
        assert gc.get_freeze_count() > 0
    finally:
        await collector.aclose()
    assert gc.get_freeze_count() == 0


async def test_a_frozen_cycle_outlives_full_collections_until_reclaimed() -> None:
    collector = Collector(quiet=lambda: False)
    holder = [Node()]
    holder[0].other = Node()
    holder[0].other.other = holder[0]
    await collector.start()
    try:
        dead = weakref.ref(holder[0])
        holder.clear()  # the cycle is garbage now, but frozen
        gc.collect()
        assert dead() is not None, "a full collection looked at frozen objects"
        assert collector.reclaim() >= 2
        assert dead() is None
    finally:
        await collector.aclose()


async def test_reclaims_wait_for_a_moment_with_no_call_on() -> None:
    calls_on = True
    collector = Collector(quiet=lambda: not calls_on, every=0.01, reclaim_interval=0.0)
    await collector.start()
    try:
        # Long-lived objects arrive (sockets opening): they are frozen as they settle...
        kept = [Node() for _ in range(max(50_000, gc.get_freeze_count() // 2))]
        await asyncio.sleep(0.2)
        assert gc.get_freeze_count() >= len(kept)
        # ...but while a call is on, no full collection pauses the loop.
        assert collector.reclaims == 0
        calls_on = False
        for _ in range(100):
            if collector.reclaims:
                break
            await asyncio.sleep(0.02)
        assert collector.reclaims == 1
    finally:
        await collector.aclose()


async def test_no_reclaim_before_its_interval_however_quiet() -> None:
    collector = Collector(quiet=lambda: True, every=0.01, reclaim_interval=3600.0)
    await collector.start()
    try:
        kept = [Node() for _ in range(max(50_000, gc.get_freeze_count() // 2))]
        await asyncio.sleep(0.2)
        assert gc.get_freeze_count() >= len(kept)
        assert collector.reclaims == 0
    finally:
        await collector.aclose()
