"""The simulated PBX's records and plumbing: devices, legs, listeners, timers and look-ups.

The behaviour is layered on top, one concern a module: `agent_state` (agent states, ACD groups
and after-call work), `basic_calls` (a device's own call), `call_features` (redirect, consult,
transfer, conference); `pbx.SimulatedPbx` is the whole.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from proxy.simulator.model import SimAgent, SimError, SimLeg
from softphone.events import (
    MAX_CONFERENCE_PARTIES,
    AgentEvent,
    CallEvent,
    CallState,
    EventKind,
)

log = logging.getLogger(__name__)
S = CallState
Listener = Callable[[CallEvent | AgentEvent], None]


@dataclass
class PbxBase:
    agents: dict[str, SimAgent] = field(default_factory=dict)
    legs: dict[str, SimLeg] = field(default_factory=dict)
    queued: list[SimLeg] = field(default_factory=list)
    hold_timeout: float = 60.0
    transfer_recall: float = 20.0
    work_seconds: float = 0.0
    _listeners: set[Listener] = field(default_factory=set)
    _timers: dict[str, asyncio.TimerHandle] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def add_agent(self, device: str, groups: tuple[str, ...] = ()) -> None:
        """A phone (an extension) this PBX rings; the simulator knows devices, never agents."""
        self.agents.setdefault(device, SimAgent(device, groups=set(groups)))

    def restart(self) -> None:
        """The PBX restarts: every call is gone and call ids start from 1 again, as real PBXs'
        do (the phones stay as they were)."""
        for key in list(self._timers):
            self._cancel(key)
        self.legs.clear()
        self.queued.clear()
        self._ids = itertools.count(1)

    def listen(self, listener: Listener) -> None:
        self._listeners.add(listener)

    def unlisten(self, listener: Listener) -> None:
        self._listeners.discard(listener)

    def _next_id(self) -> str:
        return f"sim-{next(self._ids):06d}"

    def _event(self, leg: SimLeg, kind: EventKind, reason: str = "") -> CallEvent:
        return CallEvent(
            kind=kind,
            call_id=leg.call_id,
            agent=leg.agent,
            device=leg.agent,
            direction=leg.direction,
            ani=leg.ani,
            dnis=leg.dnis,
            ivr=leg.ivr,
            queue=leg.queue,
            digits=leg.digits,
            global_call_id=leg.global_id,
            consult_of=leg.consult_of,
            parties=tuple(leg.parties[:MAX_CONFERENCE_PARTIES]),
            reason=reason,
        )

    def _emit(self, leg: SimLeg, kind: EventKind, reason: str = "") -> None:
        event = self._event(leg, kind, reason)
        for listener in list(self._listeners):
            listener(event)

    def _emit_agent(self, agent: SimAgent) -> None:
        left = max(0.0, agent.work_until - time.monotonic())
        event = AgentEvent(
            agent=agent.address,
            state=agent.state,
            reason=agent.reason,
            groups=tuple(sorted(agent.groups)),
            work_seconds=left,
        )
        for listener in list(self._listeners):
            listener(event)

    def _later(self, key: str, delay: float, action: Callable[[], None]) -> None:
        self._cancel(key)

        def fire() -> None:
            self._timers.pop(key, None)
            try:
                action()
            except SimError as exc:  # nothing may escape an event-loop callback
                log.warning("simulator timer %s: %s", key, exc.message)

        self._timers[key] = asyncio.get_running_loop().call_later(delay, fire)

    def _cancel(self, key: str) -> None:
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()

    def leg(self, call_id: str, agent: str | None = None) -> SimLeg:
        leg = self.legs.get(call_id)
        if leg is None or (agent is not None and leg.agent != agent):
            raise SimError("no_such_call", f"no call {call_id!r} in progress for this agent")
        return leg

    def _need(self, leg: SimLeg, *states: CallState) -> None:
        if leg.state not in states:
            raise SimError("invalid", f"call {leg.call_id} is {leg.state.value}")

    def _agent(self, address: str) -> SimAgent:
        agent = self.agents.get(address)
        if agent is None:
            raise SimError("no_such_agent", f"no agent {address!r}; agents: {sorted(self.agents)}")
        return agent

    def snapshot(self) -> tuple[list[CallEvent], list[AgentEvent]]:
        kinds: dict[CallState, tuple[EventKind, str]] = {
            S.RINGING: ("delivered", ""),
            S.DIALING: ("originated", ""),
            S.ACTIVE: ("established", ""),
            S.HELD: ("held", ""),
            S.CONSULTATION: ("held", "consultation"),
            S.CONFERENCE: ("conferenced", ""),
        }
        calls = [self._event(leg, *kinds[leg.state]) for leg in self.legs.values()]
        agents = [
            AgentEvent(
                agent=a.address,
                state=a.state,
                reason=a.reason,
                groups=tuple(sorted(a.groups)),
                work_seconds=max(0.0, a.work_until - time.monotonic()),
            )
            for a in self.agents.values()
        ]
        return calls, agents

    def _ring(self, leg: SimLeg, reason: str = "") -> None:
        self.legs[leg.call_id] = leg
        self._emit(leg, "delivered", reason)
