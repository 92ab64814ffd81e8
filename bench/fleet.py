"""The load generator's side of the scale bench: many agents' sockets in one process.

Every socket is read as its messages arrive, and a ring is timed when its pop lands, not when
somebody looks. Sign-ins and connects run with a bounded number in flight, and count every
outcome a user would notice: a clear "busy, retry" (503 + Retry-After, or the socket's 1013)
apart from a 500 or a dropped connection, which must never happen.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import websockets
from websockets.asyncio.client import ClientConnection

from bench.profiling import recording

Message = dict[str, Any]
Predicate = Callable[[Message], bool]


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


@dataclass
class Outcomes:
    """What a burst of requests or connects met, and how long it took."""

    done: int = 0
    seconds: float = 0.0
    busy: int = 0  # 503 with Retry-After, or a socket refused with 1013: retried
    errors: int = 0  # HTTP 500s, or sockets closed with 1011
    dropped: int = 0  # connections that broke without an answer
    other: Counter[str] = field(default_factory=Counter)

    @property
    def rate(self) -> float:
        return self.done / self.seconds if self.seconds else 0.0

    def summary(self) -> str:
        other = ", ".join(f"{n} x {what}" for what, n in sorted(self.other.items()))
        return (
            f"{self.done:,} in {self.seconds:.1f} s = {self.rate:,.1f}/s; "
            f"busy (retried) {self.busy}, 500s {self.errors}, dropped {self.dropped}"
            + (f", other: {other}" if other else "")
        )


async def bounded(jobs: list[Callable[[], Awaitable[None]]], in_flight: int) -> None:
    queue = list(reversed(jobs))

    async def worker() -> None:
        while queue:
            await queue.pop()()

    await asyncio.gather(*(worker() for _ in range(min(in_flight, len(jobs)))))


async def sign_in_all(
    http: httpx.AsyncClient, agents: list[str], password: str, in_flight: int
) -> tuple[dict[str, str], Outcomes]:
    """Every agent signs in; a 503 is waited out as its Retry-After says, then tried again."""
    tokens: dict[str, str] = {}
    outcomes = Outcomes()

    async def one(agent: str) -> None:
        for _ in range(100):
            try:
                r = await http.post(
                    "/api/v1/sessions", json={"address": agent, "password": password}
                )
            except httpx.TransportError as exc:
                # Said by name: a server closing an idle keep-alive connection as the request
                # goes out reads as a drop too, and is not the same fault as a crash.
                outcomes.dropped += 1
                outcomes.other[f"dropped: {type(exc).__name__}"] += 1
                await asyncio.sleep(1)
                continue
            if r.is_success:
                tokens[agent] = r.json()["token"]
                outcomes.done += 1
                return
            if r.status_code == 503 and "retry-after" in r.headers:
                outcomes.busy += 1
                await asyncio.sleep(float(r.headers["retry-after"]))
            elif r.status_code >= 500:
                outcomes.errors += 1
                await asyncio.sleep(1)
            else:
                outcomes.other[f"HTTP {r.status_code}"] += 1
                return

    started = time.perf_counter()
    await bounded([lambda a=a: one(a) for a in agents], in_flight)  # type: ignore[misc]
    outcomes.seconds = time.perf_counter() - started
    return tokens, outcomes


class Fleet:
    """Agents' open sockets, each with a reader that timestamps what it is waiting for."""

    def __init__(self) -> None:
        self.sockets: dict[str, ClientConnection] = {}
        self._readers: list[asyncio.Task[None]] = []
        self._waiting: dict[str, tuple[Predicate, asyncio.Future[float]]] = {}

    async def connect(
        self,
        targets: dict[str, tuple[str, list[str]]],
        in_flight: int,
        welcome: bool,
    ) -> Outcomes:
        """Open a socket per agent (`url`, subprotocols); with `welcome`, connected means the
        server's first message has arrived, as a page counts it."""
        outcomes = Outcomes()

        async def one(agent: str) -> None:
            url, protocols = targets[agent]
            for _ in range(20):
                try:
                    ws = await websockets.connect(
                        url,
                        subprotocols=protocols or None,  # type: ignore[arg-type]
                        compression=None,
                        ping_interval=None,
                        open_timeout=120,
                        max_queue=64,
                    )
                    if welcome:
                        # A busy server says so (an error), then closes 1013 "retry after N".
                        while json.loads(await ws.recv()).get("type") != "welcome":
                            pass
                except websockets.ConnectionClosed as exc:
                    code = exc.rcvd.code if exc.rcvd else 1006
                    outcomes.busy += code == 1013
                    outcomes.errors += code == 1011
                    outcomes.dropped += code not in (1011, 1013)
                    reason = exc.rcvd.reason if exc.rcvd else ""
                    wait = reason.rpartition("retry after ")[2]
                    await asyncio.sleep(float(wait) if wait.isdigit() else 1)
                    continue
                except (OSError, TimeoutError, websockets.InvalidHandshake) as exc:
                    outcomes.other[type(exc).__name__] += 1
                    await asyncio.sleep(1)
                    continue
                self.sockets[agent] = ws
                self._readers.append(asyncio.create_task(self._read(agent, ws)))
                outcomes.done += 1
                return

        started = time.perf_counter()
        await bounded([lambda a=a: one(a) for a in targets], in_flight)  # type: ignore[misc]
        outcomes.seconds = time.perf_counter() - started
        if outcomes.done < len(targets):
            missing = len(targets) - outcomes.done
            raise RuntimeError(f"{missing} sockets never connected: {outcomes}")
        return outcomes

    async def _read(self, agent: str, ws: ClientConnection) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for raw in ws:
                waiting = self._waiting.get(agent)
                if waiting is None:
                    continue
                at = time.perf_counter()
                predicate, arrived = waiting
                if not arrived.done() and predicate(json.loads(raw)):
                    arrived.set_result(at)

    def expect(self, agent: str, predicate: Predicate) -> asyncio.Future[float]:
        """The moment the next message on `agent`'s socket that `predicate` accepts arrives."""
        arrived: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._waiting[agent] = (predicate, arrived)
        return arrived

    async def ring(
        self,
        agent: str,
        predicate: Predicate,
        place: Callable[[str], Awaitable[str]],
        after: Callable[[str], Awaitable[None]],
    ) -> float:
        """Milliseconds from asking for the call to its pop on the agent's socket."""
        arrived = self.expect(agent, predicate)
        started = time.perf_counter()
        call_id = await place(agent)
        try:
            at = await asyncio.wait_for(arrived, 30)
        finally:
            del self._waiting[agent]
        await after(call_id)
        return (at - started) * 1000

    async def close(self) -> None:
        for task in self._readers:
            task.cancel()
        await asyncio.gather(*self._readers, return_exceptions=True)
        await bounded([ws.close for ws in self.sockets.values()], 200)
        self.sockets.clear()


_STALL = re.compile(rb"^softphone_event_loop_stall_max_seconds ([0-9.e+-]+)$", re.M)
_STALL_CPU = re.compile(rb"^softphone_event_loop_stall_max_cpu_seconds ([0-9.e+-]+)$", re.M)
_STALL_GC = re.compile(rb"^softphone_event_loop_stall_max_gc_seconds ([0-9.e+-]+)$", re.M)


class StallWatch:
    """The proxy's longest event-loop stall while a phase runs, read from /metrics twice a
    second (its gauge keeps the last one to two seconds' worst); with `profile_dir`, each
    phase is also profiled with py-spy into <profile_dir>/<phase>.txt."""

    def __init__(
        self, http: httpx.AsyncClient, pid: int = 0, profile_dir: Path | None = None
    ) -> None:
        self.http = http
        self.pid = pid
        self.profile_dir = profile_dir
        self.longest: dict[str, float] = {}
        self.longest_cpu: dict[str, float] = {}  # the loop's own CPU during that stall
        self.longest_gc: dict[str, float] = {}  # garbage collection during it

    def profile(self, phase: str) -> Path | None:
        return self.profile_dir / f"{phase.replace(' ', '-')}.txt" if self.profile_dir else None

    async def _poll(self, phase: str) -> None:
        while True:
            await self._read(phase)
            await asyncio.sleep(0.5)

    async def _read(self, phase: str) -> None:
        with contextlib.suppress(httpx.HTTPError):
            page = (await self.http.get("/metrics", timeout=120)).content
            found, cpu, gc = _STALL.search(page), _STALL_CPU.search(page), _STALL_GC.search(page)
            if found and cpu and gc and float(found[1]) > self.longest.get(phase, 0.0):
                self.longest[phase] = float(found[1])
                self.longest_cpu[phase] = float(cpu[1])
                self.longest_gc[phase] = float(gc[1])

    @contextlib.asynccontextmanager
    async def phase(self, name: str) -> AsyncIterator[None]:
        # The gauge keeps the worst of the last one to two seconds: wait them out, so the
        # first reading is not the last phase's worst, nor the first phase's the server's
        # startup (its full collection before it serves: 84-200 ms, read as the sign-in's).
        await asyncio.sleep(2)
        self.longest[name] = self.longest_cpu[name] = self.longest_gc[name] = 0.0
        poller = asyncio.create_task(self._poll(name))
        try:
            with recording(self.pid, self.profile(name)):
                yield
        finally:
            poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await poller
            await self._read(name)  # a stall at the very end is still in the gauge
