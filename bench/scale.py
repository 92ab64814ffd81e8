"""Scale: N agents online at once, against the floor relay with the same number of sockets.

One load-generator process (this one) on loopback; the proxy and the relay each run in a
process of their own (`bench.servers`), so RSS and CPU are theirs alone. Phases, each with
the proxy's longest event-loop stall read from its /metrics:

1. sign-in: a canary agent signs in and connects first and is rung before and during a storm
   in which everyone else signs in (`bench.storm`);
2. connect: every agent opens its socket;
3. idle: everyone online, nothing happening;
4. calls: a bounded number of rings, each to another agent, timed to the pop on its socket;
5. admin views: /admin/status.json, /metrics and /admin with everyone online, while a call
   is placed meanwhile.
"""

from __future__ import annotations

import asyncio
import hashlib
import resource
import secrets
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.fleet import Fleet, Message, Outcomes, StallWatch, percentile
from bench.goals import goals
from bench.profiling import summary
from bench.servers import Child
from bench.storm import Storm, run_storm
from proxy.agents.auth import hash_password
from proxy.store import AgentRecord
from proxy.store.sql import SqlStore

PASSWORD = "bench-password"  # noqa: S105 - the bench's own throwaway agents
ADMIN_PASSWORD = "bench-admin-password"  # noqa: S105 - the bench's own throwaway proxy
FIRST_EXTENSION = 100_000  # clear of the demo roster's extensions
IN_FLIGHT = 100  # sign-ins and connects at once: within the servers' listen backlog (128)
MIB = 1024 * 1024


@dataclass
class Side:
    """What one server (the proxy or the relay) measured."""

    rss_before: int = 0  # before the agents' sockets, after sign-in
    rss_online: int = 0  # with every socket open
    cpu_connect: float = 0.0  # CPU seconds while the sockets opened
    idle_cpu: float = 0.0  # share of one core, everyone online and nothing happening
    connect: Outcomes = field(default_factory=Outcomes)
    rings: list[float] = field(default_factory=list)
    rss_at: dict[int, int] = field(default_factory=dict)  # sockets open -> RSS
    load: str = ""  # the machine's load average while this side ran: it is shared
    interleaved: bool = False  # rung call by call with the proxy, in the same moments

    def per_socket(self, sockets: int) -> float:
        return (self.rss_online - self.rss_before) / max(1, sockets)


@dataclass
class ProxyRun(Side):
    storm: Storm = field(default_factory=Storm)
    admin_ms: dict[str, float] = field(default_factory=dict)
    ring_during_admin: float = 0.0
    stalls: dict[str, float] = field(default_factory=dict)
    stalls_cpu: dict[str, float] = field(default_factory=dict)
    stalls_gc: dict[str, float] = field(default_factory=dict)


def addresses(count: int) -> list[str]:
    return [str(FIRST_EXTENSION + i) for i in range(count)]


async def seed(
    database_url: str, agents: list[str], signed_in: Sequence[str] = ()
) -> dict[str, str]:
    """The roster; and sessions for `signed_in`, as a restarted proxy finds them (tokens)."""
    password_hash = hash_password(PASSWORD)  # one hash: the bench times sign-ins, not seeding
    tokens = {address: secrets.token_urlsafe(32) for address in signed_in}
    expires = time.time() + 8 * 3600
    async with SqlStore(database_url) as store:
        for address in agents:
            await store.put_agent(
                AgentRecord(address, f"Bench {address}", address, "acd", password_hash)
            )
        for address, token in tokens.items():
            # Stored as proxy.agents.auth stores a session: the token's SHA-256, never the token.
            digest = hashlib.sha256(token.encode()).hexdigest()
            await store.create_session(digest, address, expires)
    return tokens


def call_rings(seen: set[str]) -> Callable[[Message], bool]:
    """The proxy's pop for a call the agent has not seen before (pages see the proxy's ids)."""

    def popped(message: Message) -> bool:
        call = message.get("call") or {}
        call_id = call.get("call_id")
        if call_id and call.get("matching") is False and call_id not in seen:
            seen.add(call_id)
            return True
        return False

    return popped


class ProxyCalls:
    """Rings placed with the simulator's control API; one caller the org knows (cached)."""

    def __init__(self, http: httpx.AsyncClient, fleet: Fleet) -> None:
        self.http = http
        self.fleet = fleet
        self.seen: dict[str, set[str]] = {}

    async def _place(self, agent: str) -> str:
        r = await self.http.post("/sim/calls", json={"agent": agent, "ani": "+16504508810"})
        return str(r.raise_for_status().json()["call_id"])

    async def _hang_up(self, call_id: str) -> None:
        (await self.http.post(f"/sim/calls/{call_id}/hangup")).raise_for_status()

    async def ring(self, agent: str) -> float:
        popped = call_rings(self.seen.setdefault(agent, set()))
        return await self.fleet.ring(agent, popped, self._place, self._hang_up)


class RelayCalls:
    def __init__(self, http: httpx.AsyncClient, fleet: Fleet) -> None:
        self.http = http
        self.fleet = fleet
        self.count = 0

    async def ring(self, agent: str) -> float:
        self.count += 1
        call_id = f"r{self.count}"

        async def place(agent: str) -> str:
            body = {"call_id": call_id, "ani": "+16504508810", "pop": {"kind": "record"}}
            (await self.http.post(f"/relay/{agent}", json=body)).raise_for_status()
            return call_id

        async def nothing(call_id: str) -> None:
            return None

        return await self.fleet.ring(agent, lambda m: m.get("call_id") == call_id, place, nothing)


async def ring_many(
    rings: Sequence[Callable[[str], Awaitable[float]]], agents: list[str], calls: int
) -> list[list[float]]:
    """`calls` rings one after another, each to a different agent across the whole floor; with
    several servers, each call is rung through each of them in turn, so all meet the same
    moments of a shared machine's load."""
    stride = max(1, len(agents) // calls)
    samples: list[list[float]] = [[] for _ in rings]
    for i in range(calls):
        agent = agents[(i * stride) % len(agents)]
        for ring, taken in zip(rings, samples, strict=True):
            taken.append(await ring(agent))
    return samples


MARKS = (1_000, 5_000, 10_000)


async def _sample_rss(child: Child, fleet: Fleet, side: Side, total: int) -> None:
    """RSS as the sockets open, at each mark passed (1k, 5k, 10k): memory is per socket."""
    marks = [m for m in MARKS if m <= total] or [total]
    while marks:
        while marks and len(fleet.sockets) >= marks[0]:
            side.rss_at[marks.pop(0)] = child.rss()
        await asyncio.sleep(0.1)


async def connect_all(
    child: Child, fleet: Fleet, side: Side, targets: dict[str, tuple[str, list[str]]], welcome: bool
) -> None:
    side.rss_before = child.rss()
    cpu = child.cpu_seconds()
    sampler = asyncio.create_task(
        _sample_rss(child, fleet, side, len(fleet.sockets) + len(targets))
    )
    side.connect = await fleet.connect(targets, IN_FLIGHT, welcome=welcome)
    side.cpu_connect = child.cpu_seconds() - cpu
    await sampler


def load_average() -> str:
    with open("/proc/loadavg") as loadavg:
        return loadavg.read().split()[0]


async def idle_cpu(child: Child, seconds: float) -> float:
    before = child.cpu_seconds()
    await asyncio.sleep(seconds)
    return (child.cpu_seconds() - before) / seconds


async def _admin_views(
    http: httpx.AsyncClient, calls: ProxyCalls, probe: str, run: ProxyRun
) -> None:
    """Each admin view timed, with a call to `probe` placed while they are being served."""
    auth = httpx.BasicAuth("admin", ADMIN_PASSWORD)
    ringing = asyncio.create_task(calls.ring(probe))
    for path in ("/admin/status.json", "/metrics", "/admin"):
        started = time.perf_counter()
        (await http.get(path, auth=auth, timeout=600)).raise_for_status()
        run.admin_ms[path] = (time.perf_counter() - started) * 1000
    run.ring_during_admin = await ringing


async def _proxy_phases(
    child: Child,
    agents: list[str],
    calls: int,
    profile_dir: Path | None,
    signed_in: dict[str, str],
    relay: Child,
) -> tuple[ProxyRun, Side | None]:
    """The proxy's phases; and the floor's, rung in turn with the proxy's calls, when this
    process may hold both servers' sockets at once (else None: `_relay_phases` runs after)."""
    run = ProxyRun()
    floor: Side | None = None
    limits = httpx.Limits(max_connections=IN_FLIGHT + 10, max_keepalive_connections=IN_FLIGHT)
    async with httpx.AsyncClient(base_url=child.url, limits=limits, timeout=300) as http:
        scraper = httpx.AsyncClient(base_url=child.url, timeout=300)
        watch = StallWatch(scraper, child.process.pid, profile_dir)
        fleet = Fleet()
        proxy_calls = ProxyCalls(http, fleet)
        ws_url = child.url.replace("http", "ws", 1) + "/ws/agent"
        canary, crowd = agents[0], agents[1:]
        storm = [a for a in crowd if a not in signed_in]
        async with watch.phase("sign-in"):
            run.storm, tokens = await run_storm(
                http, fleet, proxy_calls.ring, canary, storm, PASSWORD, IN_FLIGHT, ws_url
            )
        run.storm.signed_in_before = len(signed_in)
        tokens.update(signed_in)
        targets = {a: (ws_url, ["softphone.v2", f"auth.{t}"]) for a, t in tokens.items()}
        async with watch.phase("connect"):
            await connect_all(child, fleet, run, targets, welcome=True)
        async with watch.phase("idle"):
            run.idle_cpu = await idle_cpu(child, 5)
        run.rss_online = child.rss()
        rings = [proxy_calls.ring]
        if 2 * len(agents) + 500 < resource.getrlimit(resource.RLIMIT_NOFILE)[0]:
            floor, relay_fleet, relay_http = await _relay_online(relay, crowd)
            rings.append(RelayCalls(relay_http, relay_fleet).ring)
        async with watch.phase("calls"):
            samples = await ring_many(rings, crowd, calls)
            run.rings = samples[0]
            run.load = load_average()
        if floor is not None:
            floor.rings, floor.load, floor.interleaved = samples[1], run.load, True
            await relay_fleet.close()
            await relay_http.aclose()
        async with watch.phase("admin views"):
            await _admin_views(http, proxy_calls, crowd[len(crowd) // 2], run)
        run.stalls, run.stalls_cpu, run.stalls_gc = (
            watch.longest,
            watch.longest_cpu,
            watch.longest_gc,
        )
        await watch.http.aclose()
        await fleet.close()
    return run, floor


async def _relay_online(child: Child, agents: list[str]) -> tuple[Side, Fleet, httpx.AsyncClient]:
    """The floor relay with a socket per agent: its memory and CPU figures, its sockets, and
    a client to ring through it."""
    side = Side()
    http = httpx.AsyncClient(base_url=child.url, timeout=300)
    fleet = Fleet()
    ws_base = child.url.replace("http", "ws", 1)
    targets = {a: (f"{ws_base}/ws/{a}", []) for a in agents}
    await connect_all(child, fleet, side, targets, welcome=False)
    side.idle_cpu = await idle_cpu(child, 5)
    side.rss_online = child.rss()
    return side, fleet, http


async def _relay_phases(child: Child, agents: list[str], calls: int) -> Side:
    """The floor on its own, after the proxy's run (when both servers' sockets would not fit
    in this process's file descriptors)."""
    side, fleet, http = await _relay_online(child, agents)
    side.rings = (await ring_many([RelayCalls(http, fleet).ring], agents, calls))[0]
    side.load = load_average()
    await fleet.close()
    await http.aclose()
    return side


def measure(agents: int, calls: int, storm: int, profile_dir: Path | None) -> tuple[ProxyRun, Side]:
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        database_url = f"sqlite+aiosqlite:///{tmp}/scale.db"
        roster = addresses(agents + 1)  # the canary, and everyone else
        # Past the storm's size, agents hold sessions from before a restart: a password
        # sign-in is seconds of CPU per hundred, and the storm row measures those.
        signed_in = asyncio.run(seed(database_url, roster, roster[1 + storm :]))
        settings = {
            "demo": True,
            "database_url": database_url,
            "admin_password": ADMIN_PASSWORD,
        }
        proxy = Child("proxy", Path(tmp) / "proxy.log", settings)
        relay = Child("relay", Path(tmp) / "relay.log")
        try:
            proxy.wait_ready("/readyz")
            relay.wait_ready("/readyz")
            proxy_run, floor = asyncio.run(
                _proxy_phases(proxy, roster, calls, profile_dir, signed_in, relay)
            )
            proxy.stop()
            if floor is None:
                floor = asyncio.run(_relay_phases(relay, roster[1:], calls))
        finally:
            proxy.stop()
            relay.stop()
    return proxy_run, floor


def _ms(samples: list[float]) -> str:
    return (
        f"p50 {percentile(samples, 50):6.2f} ms  p99 {percentile(samples, 99):7.2f} ms  "
        f"max {max(samples):8.2f} ms"
    )


def report(agents: int, calls: int, proxy: ProxyRun, floor: Side) -> None:
    print(
        f"scale: {agents:,} agents online; one load-generator process on loopback; proxy and "
        f"floor relay (same hops) each in a process of its own"
    )
    for name, side in (("proxy", proxy), ("floor", floor)):
        print(
            f"  {name}: RSS {side.rss_online / MIB:,.0f} MiB with {agents:,} sockets open "
            f"({side.per_socket(agents) / 1024:.1f} KiB per connected agent, "
            f"{side.per_socket(agents) * 1000 / MIB:.1f} MiB per 1,000); "
            f"connects {side.connect.summary()}; "
            f"CPU {side.cpu_connect * 1000 / max(1, agents):.2f} s per 1,000 connects; "
            f"idle CPU {side.idle_cpu * 100:.1f}% of a core"
        )
        marks = ", ".join(f"{n:,}: {rss / MIB:,.0f} MiB" for n, rss in side.rss_at.items())
        print(f"    RSS by sockets open: {marks}; load average {side.load} at its rings")
    print(
        f"  RSS proxy / floor {proxy.rss_online / floor.rss_online:.2f} x;  sockets per second "
        f"{proxy.connect.rate:,.0f} vs {floor.connect.rate:,.0f}"
    )
    when = (
        "each call rung through the proxy, then the floor"
        if floor.interleaved
        else "the floor's after the proxy's: one process cannot hold both servers' sockets"
    )
    print(
        f"  ring, from asking the simulator (the relay) for a call to the pop, {calls} calls "
        f"({when}):"
    )
    print(f"    proxy  {_ms(proxy.rings)}  mean {statistics.fmean(proxy.rings):.2f} ms")
    print(f"    floor  {_ms(floor.rings)}  mean {statistics.fmean(floor.rings):.2f} ms")
    print(
        f"    ratio  p50 {percentile(proxy.rings, 50) / percentile(floor.rings, 50):.2f} x  "
        f"p99 {percentile(proxy.rings, 99) / percentile(floor.rings, 99):.2f} x"
    )
    views = ", ".join(f"{path} {ms:,.0f} ms" for path, ms in proxy.admin_ms.items())
    print(f"  admin views with everyone online: {views}")
    print(
        f"    a call placed meanwhile reached its agent in {proxy.ring_during_admin:,.1f} ms "
        f"({proxy.ring_during_admin / percentile(floor.rings, 50):.1f} x the floor's p50)"
    )
    stalls = ", ".join(
        f"{phase} {s * 1000:,.0f} ms ({proxy.stalls_cpu[phase] * 1000:,.0f} on CPU, "
        f"{proxy.stalls_gc[phase] * 1000:,.0f} in GC)"
        for phase, s in proxy.stalls.items()
    )
    print(
        "  longest event-loop stall by phase (the loop thread's CPU, and garbage collection, "
        f"meanwhile; the rest it waited for a core): {stalls}"
    )
    proxy.storm.report(floor.rings)
    goals(agents, proxy, floor)


def run(
    agents: int = 1000, calls: int = 300, storm: int = 1000, profile_dir: Path | None = None
) -> None:
    if profile_dir is not None:
        profile_dir.mkdir(parents=True, exist_ok=True)
    proxy, floor = measure(agents, calls, storm, profile_dir)
    report(agents, calls, proxy, floor)
    for phase in proxy.stalls if profile_dir is not None else ():
        print("\n".join(summary(profile_dir / f"{phase.replace(' ', '-')}.txt")))
