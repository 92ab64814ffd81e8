"""The simulated PBX's call features: redirect, consultation, transfer and conference."""

from __future__ import annotations

from proxy.simulator.basic_calls import BasicCalls
from proxy.simulator.model import SimError, SimLeg
from softphone.events import (
    MAX_CONFERENCE_PARTIES,
    AgentState,
    CallState,
    Direction,
    Party,
    PartyStatus,
)

S = CallState


class CallFeatures(BasicCalls):
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
