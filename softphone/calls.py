"""Per-agent call state: which calls an agent has and what may be done with each.

A `CallStateMachine` belongs to one agent. Link events move its calls between states; every
command from the page is checked here, with a reason an agent can read, before anything
reaches the PBX. The PBX stays the authority: a command only asks, the events say what happened.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from softphone.commands import CallOp
from softphone.errors import CommandRefused
from softphone.events import (
    MAX_CONFERENCE_PARTIES,
    CallEvent,
    CallState,
    Direction,
    Party,
)
from softphone.pops import Pop

S = CallState
_ALLOWED: dict[str, frozenset[CallState]] = {
    "answer": frozenset({S.RINGING}),
    "hangup": frozenset({S.RINGING, S.DIALING, S.ACTIVE, S.HELD, S.CONFERENCE}),
    "hold": frozenset({S.ACTIVE, S.CONFERENCE}),
    "retrieve": frozenset({S.HELD, S.CONSULTATION}),
    "redirect": frozenset({S.RINGING}),
    "consult": frozenset({S.ACTIVE, S.CONFERENCE}),
    "transfer": frozenset({S.ACTIVE}),
    "complete_transfer": frozenset({S.CONSULTATION}),
    "conference": frozenset({S.CONSULTATION}),
    "dtmf": frozenset({S.ACTIVE, S.CONFERENCE}),
}
# Refusals that deserve more than "cannot X a call that is Y": what to do instead.
_ADVICE: dict[tuple[str, CallState], str] = {
    ("transfer", S.HELD): "Retrieve the call before transferring it",
    ("consult", S.HELD): "Retrieve the call before transferring it",
    ("complete_transfer", S.HELD): "Retrieve the call before transferring it",
    ("conference", S.HELD): "Retrieve the call before adding it to a conference",
    ("hangup", S.CONSULTATION): "Retrieve the call or complete the transfer first",
    ("transfer", S.CONSULTATION): "Complete or cancel the consultation first",
    ("consult", S.CONSULTATION): "Complete or cancel the consultation first",
    ("answer", S.ACTIVE): "The call is already answered",
}
_DTMF = re.compile(r"^[0-9*#]{1,32}$")
_TERMINAL = {"transferred", "diverted", "failed", "cleared"}
# A call in one of these states occupies the agent: no new call can be dialled over it.
_BUSY = frozenset({S.RINGING, S.DIALING, S.ACTIVE, S.CONFERENCE})


@dataclass(frozen=True)
class Call:
    """One call as one agent sees it. Immutable: every change makes a new value."""

    call_id: str
    agent: str
    direction: Direction
    state: CallState
    ani: str = ""
    dnis: str = ""
    ivr: tuple[str, ...] = ()
    digits: str = ""
    call_data: str = ""  # the PBX's non-IVR data: for the call log, not for the page
    queue: str = ""
    global_call_id: str = ""
    consult_of: str = ""
    parties: tuple[Party, ...] = ()
    reason: str = ""
    started_at: float = 0.0
    state_since: float = 0.0
    answered_at: float | None = None
    # The agent dialled this call (outside, internal or consultation), rather than received it.
    placed: bool = False
    pop: Pop | None = None
    # Where the PBX has the call: its device and its own id for it (ours is `call_id`).
    device: str = ""
    pbx_call_id: str = ""
    pop_delivered: bool = False


def _target(event: CallEvent, current: Call | None, absolute: bool) -> CallState | None:
    """The state `event` moves the call to, or None when it changes nothing.

    `absolute`: the event states where the call is now (a snapshot after a reconnect), not a
    change that just happened, so it wins even where a live event would be ignored.
    """
    kind = event.kind
    if kind in _TERMINAL:
        return S.CLEARED
    if kind == "originated":
        return S.DIALING
    if kind == "delivered":
        if current is None:
            return S.DIALING if event.direction == Direction.OUTBOUND else S.RINGING
        if current.state == S.HELD and (absolute or event.reason.endswith("_recall")):
            return S.RINGING  # a held or transferred call ringing back to the agent
        if absolute and not current.placed:
            return S.RINGING
        return current.state if current.state in (S.DIALING, S.RINGING) else None
    if kind == "held":
        return S.CONSULTATION if event.reason == "consultation" else S.HELD
    if kind in ("established", "retrieved", "conferenced"):
        connected = sum(1 for p in event.parties if p.status != "ringing")
        return S.CONFERENCE if kind == "conferenced" or connected >= 2 else S.ACTIVE
    return None


@dataclass
class CallStateMachine:
    """The calls of one agent, moved only by link events and checked before every command."""

    agent: str
    calls: dict[str, Call] = field(default_factory=dict)

    def apply(self, event: CallEvent, now: float, *, absolute: bool = False) -> Call | None:
        """Apply a link event; return the call as it now is, or None when nothing changed.

        Links resend events after reconnects, so a repeated event is a no-op, not an error.
        `absolute` marks a snapshot's account of a call, which overrides what came before.
        """
        if event.agent != self.agent:
            raise RuntimeError(f"event for agent {event.agent} applied to agent {self.agent}")
        current = self.calls.get(event.call_id)
        target = _target(event, current, absolute)
        if target is None:
            return None
        if target == S.CLEARED:
            if current is None:
                return None
            del self.calls[event.call_id]
            return replace(current, state=S.CLEARED, state_since=now, reason=event.reason)
        if current is None:
            call = Call(
                call_id=event.call_id,
                agent=event.agent,
                direction=event.direction,
                state=target,
                ani=event.ani,
                dnis=event.dnis,
                ivr=event.ivr,
                digits=event.digits,
                call_data=event.call_data,
                queue=event.queue,
                global_call_id=event.global_call_id,
                consult_of=event.consult_of,
                parties=event.parties,
                reason=event.reason,
                started_at=now,
                state_since=now,
                answered_at=now if target in (S.ACTIVE, S.CONFERENCE) else None,
                placed=target == S.DIALING,
                device=event.device,
                pbx_call_id=event.pbx_call_id,
            )
        else:
            parties = event.parties or current.parties
            if target == current.state and parties == current.parties:
                return None
            answered = current.answered_at
            if answered is None and target in (S.ACTIVE, S.CONFERENCE):
                answered = now
            call = replace(
                current,
                state=target,
                parties=parties,
                reason=event.reason,
                answered_at=answered,
                state_since=now if target != current.state else current.state_since,
            )
        self.calls[event.call_id] = call
        return call

    def check(self, op: CallOp, call_id: str, *, digits: str = "") -> Call:
        """The call `op` may act on, else `CommandRefused` with a reason an agent can read."""
        if op not in _ALLOWED:
            raise CommandRefused("unknown_command", f"Unknown command {op!r}")
        call = self.calls.get(call_id)
        if call is None:
            raise CommandRefused("no_such_call", "That call is not one of your calls")
        if call.state not in _ALLOWED[op]:
            advice = _ADVICE.get((op, call.state))
            verb = op.replace("_", " ")
            raise CommandRefused(
                "not_allowed", advice or f"Cannot {verb} a call that is {call.state.value}"
            )
        if op in ("complete_transfer", "conference"):
            consult = self.consultation_of(call_id)
            if consult is None:
                raise CommandRefused("no_consultation", "There is no consultation call")
            if op == "conference":
                parties = {p.number for p in (*call.parties, *consult.parties)}
                if len(parties) + 1 > MAX_CONFERENCE_PARTIES:
                    raise CommandRefused(
                        "conference_full",
                        f"A conference holds at most {MAX_CONFERENCE_PARTIES} parties",
                    )
        if op == "consult" and any(c.consult_of for c in self.calls.values()):
            raise CommandRefused("not_allowed", "Complete or cancel the consultation first")
        if op == "dtmf" and not _DTMF.match(digits):
            raise CommandRefused("bad_digits", "Tones are the digits 0-9, * and #")
        return call

    def check_dial(self) -> None:
        """A new call may be dialled only while no other call occupies the agent."""
        if any(c.state in _BUSY for c in self.calls.values()):
            raise CommandRefused("not_allowed", "Hold or end the current call before dialing")

    def consultation_of(self, call_id: str) -> Call | None:
        return next((c for c in self.calls.values() if c.consult_of == call_id), None)

    def set_pop(self, call_id: str, pop: Pop) -> Call | None:
        """Record the pop decided for a call still in progress; None if it has ended meanwhile."""
        call = self.calls.get(call_id)
        if call is None:
            return None
        call = replace(call, pop=pop)
        self.calls[call_id] = call
        return call

    def restore(
        self,
        call_id: str,
        *,
        started_at: float,
        answered_at: float | None,
        pop: Pop | None,
        pop_delivered: bool,
    ) -> Call | None:
        """What pages were shown of a call before another node rebuilt it from the PBX's
        snapshot: its timers, its pop and whether a page opened it (the snapshot says none)."""
        call = self.calls.get(call_id)
        if call is None:
            return None
        call = replace(
            call,
            started_at=started_at or call.started_at,
            answered_at=answered_at if answered_at is not None else call.answered_at,
            pop=pop if pop is not None else call.pop,
            pop_delivered=pop_delivered or call.pop_delivered,
        )
        self.calls[call_id] = call
        return call

    def mark_popped(self, call_id: str) -> Call | None:
        """Note that a page has opened the call's pop, so no other tab or reload opens it again."""
        call = self.calls.get(call_id)
        if call is None or call.pop is None or call.pop_delivered:
            return None
        call = replace(call, pop_delivered=True)
        self.calls[call_id] = call
        return call

    def forget_missing(self, present: set[str], now: float) -> list[Call]:
        """After a resync: clear the calls the PBX no longer has, and return them cleared."""
        gone = [c for cid, c in self.calls.items() if cid not in present]
        for call in gone:
            del self.calls[call.call_id]
        return [replace(c, state=S.CLEARED, state_since=now, reason="gone") for c in gone]
