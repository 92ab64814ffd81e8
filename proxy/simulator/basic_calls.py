"""The simulated PBX's basic calls at a device: ring, answer, hold, retrieve, dial, hang up."""

from __future__ import annotations

from proxy.simulator.agent_state import AgentStates
from proxy.simulator.model import SimError, SimLeg
from softphone.events import (
    AgentState,
    CallState,
    Direction,
    EventKind,
    Party,
    PartyStatus,
)

S = CallState


class BasicCalls(AgentStates):
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
        if leg.acd and kind in ("cleared", "transferred"):
            self._start_work(leg.agent)
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

    def dtmf(self, call_id: str, digits: str, agent: str | None = None) -> SimLeg:
        leg = self.leg(call_id, agent)
        self._need(leg, S.ACTIVE, S.CONFERENCE)
        leg.dtmf += digits
        return leg
