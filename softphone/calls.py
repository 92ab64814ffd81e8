"""Per-agent call state: which calls an agent has and what may be done with each.

A `CallStateMachine` belongs to one agent. Link events move its calls between states; browser
commands are checked against those states before anything reaches the PBX.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from softphone.errors import CommandRefused
from softphone.events import CallEvent, CallState, Direction
from softphone.pops import Pop

# Commands the page may send, and the states each is valid in.
_ALLOWED: dict[str, frozenset[CallState]] = {
    "answer": frozenset({CallState.RINGING}),
    "hangup": frozenset({CallState.RINGING, CallState.ACTIVE}),
}


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
    queue: str = ""
    started_at: float = 0.0
    state_since: float = 0.0
    pop: Pop | None = None
    pop_delivered: bool = False


@dataclass
class CallStateMachine:
    """The calls of one agent, moved only by link events and checked before every command."""

    agent: str
    calls: dict[str, Call] = field(default_factory=dict)

    def apply(self, event: CallEvent, now: float) -> Call | None:
        """Apply a link event; return the call as it now is, or None when nothing changed.

        Links resend events after reconnects, so a repeated event is a no-op, not an error.
        """
        if event.agent != self.agent:
            raise RuntimeError(f"event for agent {event.agent} applied to agent {self.agent}")
        current = self.calls.get(event.call_id)
        if event.kind == "cleared":
            if current is None:
                return None
            del self.calls[event.call_id]
            return replace(current, state=CallState.CLEARED, state_since=now)
        target = CallState.RINGING if event.kind == "delivered" else CallState.ACTIVE
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
                queue=event.queue,
                started_at=now,
                state_since=now,
            )
        elif current.state == target or (
            current.state == CallState.ACTIVE and target == CallState.RINGING
        ):
            # A late or repeated "delivered" must not turn an answered call back into ringing.
            return None
        else:
            call = replace(current, state=target, state_since=now)
        self.calls[event.call_id] = call
        return call

    def check(self, command: str, call_id: str) -> Call:
        """The call `command` may act on, else `CommandRefused` with a reason an agent can read."""
        if command not in _ALLOWED:
            raise CommandRefused("unknown_command", f"Unknown command {command!r}")
        call = self.calls.get(call_id)
        if call is None:
            raise CommandRefused("no_such_call", "That call is not one of your calls")
        if call.state not in _ALLOWED[command]:
            raise CommandRefused(
                "not_allowed", f"Cannot {command} a call that is {call.state.value}"
            )
        return call

    def set_pop(self, call_id: str, pop: Pop) -> Call | None:
        """Record the pop decided for a call still in progress; None if it has ended meanwhile."""
        call = self.calls.get(call_id)
        if call is None:
            return None
        call = replace(call, pop=pop)
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
