"""The simulated PBX: agents' devices, ACD groups and the calls that ring at them.

A call appears at each agent's device as a *leg* with its own call id; legs of one call share a
global call id. Far parties (customers, outside numbers) are simulated: the control API makes
them answer, hang up or be busy. Numbers that are agents' extensions ring those agents.
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
    AgentState,
    CallEvent,
    CallState,
    Direction,
    EventKind,
    Party,
    PartyStatus,
)

log = logging.getLogger(__name__)
S = CallState
Listener = Callable[[CallEvent | AgentEvent], None]


@dataclass
class SimulatedPbx:
    agents: dict[str, SimAgent] = field(default_factory=dict)
    legs: dict[str, SimLeg] = field(default_factory=dict)
    queued: list[SimLeg] = field(default_factory=list)
    hold_timeout: float = 60.0
    transfer_recall: float = 20.0
    work_seconds: float = 0.0
    _listeners: set[Listener] = field(default_factory=set)
    _timers: dict[str, asyncio.TimerHandle] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    # --- plumbing --------------------------------------------------------------------------
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

    # --- calls arriving --------------------------------------------------------------------
    def place_inbound(
        self,
        agent: str | None,
        ani: str,
        dnis: str = "",
        ivr: tuple[str, ...] = (),
        queue: str = "",
        reason: str = "",
        digits: str = "",
    ) -> SimLeg:
        """A call from outside: to an agent's extension, or into an ACD queue."""
        leg = SimLeg(
            call_id=self._next_id(),
            agent=agent or "",
            direction=Direction.INBOUND,
            state=S.RINGING,
            global_id="",
            far=ani,
            ani=ani,
            dnis=dnis,
            ivr=ivr,
            queue=queue,
            digits=digits,
            parties=[Party(number=ani or "withheld", status=PartyStatus.CONNECTED)],
        )
        leg.global_id = f"g-{leg.call_id}"
        if agent is None:
            if not queue:
                raise SimError("no_destination", "a call needs an agent or a queue")
            leg.acd = True
            self.queued.append(leg)
            self._dispatch()
            return leg
        target = self._agent(agent)
        if target.state in (AgentState.DND, AgentState.LOGGED_OUT):
            raise SimError(target.state.value, f"agent {agent} is {target.state.value}")
        self._ring(leg, reason)
        return leg

    def _ring(self, leg: SimLeg, reason: str = "") -> None:
        self.legs[leg.call_id] = leg
        self._emit(leg, "delivered", reason)

    def _dispatch(self) -> None:
        """Hand queued ACD calls to ready agents of their group who are not on a call."""
        for leg in list(self.queued):
            busy = {other.agent for other in self.legs.values()}
            free = [
                a
                for a in self.agents.values()
                if a.state == AgentState.READY and leg.queue in a.groups and a.address not in busy
            ]
            if free:
                self.queued.remove(leg)
                leg.agent = free[0].address
                self._ring(leg)

    # --- the agent's device ----------------------------------------------------------------
    def answer(self, call_id: str) -> SimLeg:
        leg = self.leg(call_id)
        self._need(leg, S.RINGING)
        self._connect(leg)
        if leg.peer in self.legs:
            self._connect(self.legs[leg.peer])
        return leg

    def _connect(self, leg: SimLeg) -> None:
        self._cancel(leg.call_id)
        leg.parties = [
            Party(number=p.number, name=p.name, status=PartyStatus.CONNECTED) for p in leg.parties
        ]
        leg.state = S.CONFERENCE if len(leg.parties) >= 2 else S.ACTIVE
        self._emit(leg, "established")

    def hangup(self, call_id: str, reason: str = "") -> SimLeg:
        """The agent clears the call, or (`reason` "far_end") the other end hangs up."""
        leg = self.leg(call_id)
        self._clear(leg, "cleared", reason)
        if leg.peer in self.legs:
            self._clear(self.legs[leg.peer], "cleared", reason)
        return leg

    def _clear(self, leg: SimLeg, kind: EventKind, reason: str = "") -> None:
        self._cancel(leg.call_id)
        self.legs.pop(leg.call_id, None)
        leg.state = S.CLEARED
        self._emit(leg, kind, reason)
        consult = next((c for c in self.legs.values() if c.consult_of == leg.call_id), None)
        if consult is not None and kind == "cleared":
            self._clear(consult, "cleared", reason)
        if leg.acd and kind in ("cleared", "transferred") and self.work_seconds > 0:
            agent = self.agents.get(leg.agent)
            if agent is not None and agent.state == AgentState.READY:
                agent.state, agent.work_until = (
                    AgentState.WORK,
                    time.monotonic() + self.work_seconds,
                )
                self._emit_agent(agent)
                self._later(
                    f"work:{agent.address}", self.work_seconds, lambda: self._end_work(agent)
                )
        self._dispatch()

    def _end_work(self, agent: SimAgent) -> None:
        self._cancel(f"work:{agent.address}")
        if agent.state == AgentState.WORK:
            agent.state, agent.work_until = AgentState.READY, 0.0
            self._emit_agent(agent)
            self._dispatch()

    def hold(self, call_id: str, agent: str | None = None) -> SimLeg:
        leg = self.leg(call_id, agent)
        self._need(leg, S.ACTIVE, S.CONFERENCE)
        leg.state = S.HELD
        self._emit(leg, "held")
        self._later(leg.call_id, self.hold_timeout, lambda: self._recall(leg))
        return leg

    def _recall(self, leg: SimLeg) -> None:
        """Held too long: the call rings back at the agent's device."""
        if self.legs.get(leg.call_id) is leg and leg.state == S.HELD:
            leg.state = S.RINGING
            self._emit(leg, "delivered", "hold_recall")

    def retrieve(self, call_id: str, agent: str | None = None) -> SimLeg:
        leg = self.leg(call_id, agent)
        self._need(leg, S.HELD, S.CONSULTATION)
        self._cancel(leg.call_id)
        consult = next((c for c in self.legs.values() if c.consult_of == leg.call_id), None)
        if consult is not None:  # retrieving from consultation ends the consultation call
            self._clear(consult, "cleared", "consultation_cancelled")
        leg.state = S.CONFERENCE if len(leg.parties) >= 2 else S.ACTIVE
        self._emit(leg, "retrieved")
        return leg

    def _reachable(self, number: str) -> None:
        """Refuse before anything changes when `number` is an agent who cannot ring."""
        target = self.agents.get(number)
        if target is not None and target.state in (AgentState.DND, AgentState.LOGGED_OUT):
            raise SimError("busy", f"{number} is {target.state.value.replace('_', ' ')}")

    def redirect(self, call_id: str, number: str, agent: str | None = None) -> SimLeg:
        leg = self.leg(call_id, agent)
        self._need(leg, S.RINGING)
        self._reachable(number)
        caller_leg = self.legs.get(leg.peer)
        self._clear(leg, "diverted", "redirected")
        if number in self.agents:
            moved = self.place_inbound(number, leg.ani, leg.dnis, leg.ivr, leg.queue)
            if caller_leg is not None:  # an internal caller now rings the new destination
                caller_leg.peer, moved.peer = moved.call_id, caller_leg.call_id
        elif caller_leg is not None:
            caller_leg.peer = ""
        return leg

    def dial(self, agent: str, number: str, consult_of: str = "") -> SimLeg:
        caller = self._agent(agent)
        internal = number in self.agents
        leg = SimLeg(
            call_id=self._next_id(),
            agent=caller.address,
            direction=Direction.INTERNAL if internal else Direction.OUTBOUND,
            state=S.DIALING,
            global_id="",
            far=number,
            dnis=number,
            consult_of=consult_of,
            parties=[Party(number=number, status=PartyStatus.RINGING)],
        )
        leg.global_id = f"g-{leg.call_id}"
        self.legs[leg.call_id] = leg
        self._emit(leg, "originated")
        if internal:
            target = self.agents[number]
            if target.state == AgentState.DND:
                self._clear(leg, "failed", "busy")
                return leg
            far = SimLeg(
                call_id=self._next_id(),
                agent=number,
                direction=Direction.INTERNAL,
                state=S.RINGING,
                global_id=leg.global_id,
                far=agent,
                ani=agent,
                parties=[Party(number=agent, status=PartyStatus.CONNECTED)],
                peer=leg.call_id,
            )
            leg.peer = far.call_id
            self._ring(far)
        return leg

    def far_answer(self, call_id: str) -> SimLeg:
        """The party the agent dialled (or transferred to) answers."""
        leg = self.leg(call_id)
        self._need(leg, S.DIALING)
        self._connect(leg)
        return leg

    def far_busy(self, call_id: str) -> SimLeg:
        leg = self.leg(call_id)
        self._need(leg, S.DIALING)
        self._clear(leg, "failed", "busy")
        return leg

    def consult(self, call_id: str, number: str, agent: str | None = None) -> SimLeg:
        leg = self.leg(call_id, agent)
        self._need(leg, S.ACTIVE, S.CONFERENCE)
        self._cancel(leg.call_id)
        leg.state = S.CONSULTATION
        self._emit(leg, "held", "consultation")
        return self.dial(leg.agent, number, consult_of=leg.call_id)

    def transfer(self, call_id: str, number: str, agent: str | None = None) -> SimLeg:
        """Unsupervised: the agent leaves at once; unanswered, the call rings back."""
        leg = self.leg(call_id, agent)
        self._need(leg, S.ACTIVE)
        self._reachable(number)
        self._hand_over(leg, number, answered=False)
        return leg

    def complete_transfer(self, call_id: str, agent: str | None = None) -> SimLeg:
        leg = self.leg(call_id, agent)
        self._need(leg, S.CONSULTATION)
        consult = next((c for c in self.legs.values() if c.consult_of == leg.call_id), None)
        if consult is None:
            raise SimError("no_consultation", "no consultation call to transfer to")
        answered = consult.state == S.ACTIVE
        if consult.peer in self.legs:  # another agent: their leg now carries the caller
            target = self.legs[consult.peer]
            target.peer, target.ani = "", leg.ani
            target.parties = [Party(number=leg.far or "withheld", status=PartyStatus.CONNECTED)]
            # Still ringing (unsupervised completion): it rings on, now with the caller.
            self._emit(target, "delivered" if target.state == S.RINGING else "established")
        self._clear(consult, "transferred", "completed")
        self._hand_over(leg, consult.far, answered=answered or bool(consult.peer))
        return leg

    def _hand_over(self, leg: SimLeg, number: str, *, answered: bool) -> None:
        self._clear(leg, "transferred", "completed")
        if answered:
            return
        if number in self.agents:
            target = self.place_inbound(number, leg.ani, leg.dnis, leg.ivr, leg.queue)
            self._later(
                target.call_id, self.transfer_recall, lambda: self._transfer_recall(target, leg)
            )
        else:
            self._later(
                f"recall:{leg.call_id}",
                self.transfer_recall,
                lambda: self._transfer_recall(None, leg),
            )

    def _transfer_recall(self, target: SimLeg | None, original: SimLeg) -> None:
        """Nobody answered the transfer: it rings back at the agent who transferred it."""
        if target is not None:
            if self.legs.get(target.call_id) is not target or target.state != S.RINGING:
                return
            self._clear(target, "cleared", "no_answer")
        # A recall rings whatever the agent's state: the caller must not be dropped.
        recall = SimLeg(
            call_id=self._next_id(),
            agent=original.agent,
            direction=Direction.INBOUND,
            state=S.RINGING,
            global_id=original.global_id,
            far=original.far,
            ani=original.ani,
            dnis=original.dnis,
            ivr=original.ivr,
            queue=original.queue,
            digits=original.digits,
            parties=[Party(number=original.far or "withheld", status=PartyStatus.CONNECTED)],
        )
        self._ring(recall, "transfer_recall")

    def conference(self, call_id: str, agent: str | None = None) -> SimLeg:
        leg = self.leg(call_id, agent)
        self._need(leg, S.CONSULTATION)
        consult = next((c for c in self.legs.values() if c.consult_of == leg.call_id), None)
        if consult is None:
            raise SimError("no_consultation", "no consultation call to conference")
        parties = leg.parties + [
            p for p in consult.parties if p.number not in {q.number for q in leg.parties}
        ]
        if len(parties) + 1 > MAX_CONFERENCE_PARTIES:
            raise SimError("conference_full", f"at most {MAX_CONFERENCE_PARTIES} parties")
        self._cancel(consult.call_id)
        self.legs.pop(consult.call_id, None)
        self._emit(consult, "cleared", "conferenced")
        if consult.peer in self.legs and not leg.peer:
            # A colleague consulted in stays joined to the conference and ends with it.
            leg.peer = consult.peer
            self.legs[consult.peer].peer = leg.call_id
        leg.parties = parties
        leg.state = S.CONFERENCE
        self._emit(leg, "conferenced")
        return leg

    def dtmf(self, call_id: str, digits: str, agent: str | None = None) -> SimLeg:
        leg = self.leg(call_id, agent)
        self._need(leg, S.ACTIVE, S.CONFERENCE)
        leg.dtmf += digits
        return leg

    # --- agent state -----------------------------------------------------------------------
    def set_state(self, address: str, state: str, reason: str = "") -> SimAgent:
        agent = self._agent(address)
        agent.state = {"ready": AgentState.READY, "busy": AgentState.BUSY, "dnd": AgentState.DND}[
            state
        ]
        agent.reason = reason if state == "busy" else ""
        self._cancel(f"work:{address}")
        self._emit_agent(agent)
        self._dispatch()
        return agent

    def acd_login(self, address: str, group: str) -> SimAgent:
        agent = self._agent(address)
        agent.groups.add(group)
        if agent.state == AgentState.LOGGED_OUT:
            agent.state = AgentState.READY
        self._emit_agent(agent)
        self._dispatch()
        return agent

    def acd_logout(self, address: str, group: str) -> SimAgent:
        agent = self._agent(address)
        agent.groups.discard(group)
        self._emit_agent(agent)
        return agent

    def logout(self, address: str) -> SimAgent:
        """The agent logs out of their phone: no calls ring there until they log in."""
        agent = self._agent(address)
        agent.state, agent.reason = AgentState.LOGGED_OUT, ""
        self._emit_agent(agent)
        return agent

    def login(self, address: str) -> SimAgent:
        """A phone logs in; a hot-desk phone the PBX has not rung yet is one it has now."""
        self.add_agent(address)
        agent = self._agent(address)
        if agent.state == AgentState.LOGGED_OUT:
            agent.state = AgentState.READY
        self._emit_agent(agent)
        self._dispatch()
        return agent

    def cancel_work(self, address: str) -> SimAgent:
        agent = self._agent(address)
        if agent.state != AgentState.WORK:
            raise SimError("no_work_timer", "no work timer running")
        self._end_work(agent)
        return agent
