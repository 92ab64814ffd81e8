"""A sign-in storm at shift change, and what it does to an agent already at work.

A canary agent signs in and connects first and is rung one call after another, before the
storm (its baseline) and all through it, while everyone else signs in with a bounded number of
requests in flight. Sign-ins are password sign-ins (argon2id), the expensive kind.

The crowd signs in from a process of its own, as agents sign in from their own browsers: in
the canary's process, the crowd's hundred clients held its loop, and the canary's rings waited
behind the load generator's own work, not the proxy's.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from collections.abc import Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

import httpx

from bench.fleet import Fleet, Outcomes, percentile, sign_in_all

BASELINE_RINGS = 100
PAUSE = 0.02  # between the canary's calls: a busy agent, not a flood


@dataclass
class Storm:
    sign_ins: Outcomes = field(default_factory=Outcomes)
    before: list[float] = field(default_factory=list)
    during: list[float] = field(default_factory=list)
    signed_in_before: int = 0  # agents whose sessions were there before: not in the storm

    def report(self, floor: list[float]) -> None:
        if not self.before or not self.during:
            print("  sign-in storm: no canary rings measured")
            return
        rest = (
            f" (the other {self.signed_in_before:,} agents hold sessions from before a restart)"
            if self.signed_in_before
            else ""
        )
        print(f"  sign-in storm, password sign-ins{rest}: {self.sign_ins.summary()}")
        for name, samples in (("before", self.before), ("during", self.during)):
            p50, p99 = percentile(samples, 50), percentile(samples, 99)
            print(
                f"    canary's rings {name} the storm ({len(samples)}): p50 {p50:.2f} ms, "
                f"p99 {p99:.2f} ms ({p50 / percentile(floor, 50):.1f} x and "
                f"{p99 / percentile(floor, 99):.1f} x the floor)"
            )


async def run_storm(
    http: httpx.AsyncClient,
    fleet: Fleet,
    ring: Callable[[str], Awaitable[float]],
    canary: str,
    crowd: list[str],
    password: str,
    in_flight: int,
    ws_url: str,
) -> tuple[Storm, dict[str, str]]:
    """The storm's figures, and the crowd's session tokens."""
    storm = Storm()
    token = (await sign_in_all(http, [canary], password, 1))[0][canary]
    await fleet.connect({canary: (ws_url, ["softphone.v2", f"auth.{token}"])}, 1, welcome=True)
    for _ in range(BASELINE_RINGS):
        storm.before.append(await ring(canary))
        await asyncio.sleep(PAUSE)
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as crowds:
        # Started (a fresh interpreter) before the storm, so its startup is not the storm's.
        await asyncio.get_running_loop().run_in_executor(crowds, os.getpid)
        signing_in = asyncio.get_running_loop().run_in_executor(
            crowds, _crowd_signs_in, str(http.base_url), crowd, password, in_flight
        )
        while not signing_in.done():
            storm.during.append(await ring(canary))
            await asyncio.sleep(PAUSE)
        tokens, storm.sign_ins = await signing_in
    return storm, tokens


def _crowd_signs_in(
    base_url: str, crowd: list[str], password: str, in_flight: int
) -> tuple[dict[str, str], Outcomes]:
    """In the crowd's own process: everyone signs in; their tokens, and what they met."""

    async def storm() -> tuple[dict[str, str], Outcomes]:
        limits = httpx.Limits(max_connections=in_flight + 10, max_keepalive_connections=in_flight)
        async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=300) as http:
            return await sign_in_all(http, crowd, password, in_flight)

    return asyncio.run(storm())
