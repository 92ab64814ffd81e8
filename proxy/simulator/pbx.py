"""The simulated PBX: agents' devices and the calls that ring at them."""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass, field

from softphone.events import CallEvent, Direction, EventKind


class UnknownAgent(LookupError):
    pass


class UnknownCall(LookupError):
    pass


class InvalidOperation(Exception):
    """The call is not in a state where the operation makes sense."""


@dataclass
class SimCall:
    call_id: str
    agent: str
    ani: str
    dnis: str
    ivr: tuple[str, ...]
    queue: str
    state: str = "ringing"
    # When the PBX rang the agent (monotonic clock): where the bench starts its stopwatch.
    rang_at: float = field(default_factory=time.perf_counter)


@dataclass
class SimulatedPbx:
    """Rings agents, answers and clears calls, and tells every bridge connection about it."""

    agents: set[str]
    calls: dict[str, SimCall] = field(default_factory=dict)
    _listeners: set[asyncio.Queue[CallEvent]] = field(default_factory=set)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def listen(self) -> asyncio.Queue[CallEvent]:
        queue: asyncio.Queue[CallEvent] = asyncio.Queue()
        self._listeners.add(queue)
        return queue

    def unlisten(self, queue: asyncio.Queue[CallEvent]) -> None:
        self._listeners.discard(queue)

    def _emit(self, call: SimCall, kind: EventKind) -> None:
        event = CallEvent(
            kind=kind,
            call_id=call.call_id,
            agent=call.agent,
            device=call.agent,
            direction=Direction.INBOUND,
            ani=call.ani,
            dnis=call.dnis,
            ivr=call.ivr,
            queue=call.queue,
        )
        for queue in self._listeners:
            queue.put_nowait(event)

    def place_inbound(
        self, agent: str, ani: str, dnis: str = "", ivr: tuple[str, ...] = (), queue: str = ""
    ) -> SimCall:
        if agent not in self.agents:
            raise UnknownAgent(f"no agent {agent!r} on this PBX; agents: {sorted(self.agents)}")
        call = SimCall(f"sim-{next(self._ids):06d}", agent, ani, dnis, ivr, queue)
        self.calls[call.call_id] = call
        self._emit(call, "delivered")
        return call

    def _call(self, call_id: str) -> SimCall:
        call = self.calls.get(call_id)
        if call is None:
            raise UnknownCall(f"no call {call_id!r} in progress")
        return call

    def answer(self, call_id: str) -> SimCall:
        call = self._call(call_id)
        if call.state != "ringing":
            raise InvalidOperation(f"call {call_id} is {call.state}, not ringing")
        call.state = "active"
        self._emit(call, "established")
        return call

    def hangup(self, call_id: str) -> SimCall:
        call = self.calls.pop(call_id, None)
        if call is None:
            raise UnknownCall(f"no call {call_id!r} in progress")
        call.state = "cleared"
        self._emit(call, "cleared")
        return call
