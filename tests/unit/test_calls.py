"""The per-agent call state machine: events move calls, commands are checked against them."""

from __future__ import annotations

import pytest

from softphone.calls import CallStateMachine
from softphone.errors import CommandRefused
from softphone.events import CallEvent, CallState
from softphone.pops import NO_POP


def ev(kind: str, call_id: str = "c1", agent: str = "1001") -> CallEvent:
    return CallEvent.model_validate({"kind": kind, "call_id": call_id, "agent": agent})


def test_ringing_active_cleared() -> None:
    """Delivered rings, established makes it active, cleared ends and forgets it."""
    m = CallStateMachine("1001")
    ring = m.apply(ev("delivered"), now=1.0)
    assert ring is not None and ring.state == CallState.RINGING and ring.started_at == 1.0
    active = m.apply(ev("established"), now=3.0)
    assert active is not None and active.state == CallState.ACTIVE and active.state_since == 3.0
    cleared = m.apply(ev("cleared"), now=9.0)
    assert cleared is not None and cleared.state == CallState.CLEARED
    assert m.calls == {}


def test_repeated_and_late_events_change_nothing() -> None:
    """A resent delivered or established is a no-op; a late delivered never un-answers a call."""
    m = CallStateMachine("1001")
    m.apply(ev("delivered"), now=1.0)
    assert m.apply(ev("delivered"), now=2.0) is None
    m.apply(ev("established"), now=3.0)
    assert m.apply(ev("established"), now=4.0) is None
    assert m.apply(ev("delivered"), now=5.0) is None
    assert m.calls["c1"].state == CallState.ACTIVE
    assert m.apply(ev("cleared", "unknown"), now=6.0) is None


def test_event_for_another_agent_is_a_programming_error() -> None:
    """Feeding one agent's machine another agent's event fails loudly."""
    with pytest.raises(RuntimeError, match="event for agent 1002 applied to agent 1001"):
        CallStateMachine("1001").apply(ev("delivered", agent="1002"), now=0)


def test_commands_checked_against_state() -> None:
    """Answer only while ringing, hang up while ringing or active, never someone else's call."""
    m = CallStateMachine("1001")
    m.apply(ev("delivered"), now=0)
    assert m.check("answer", "c1").call_id == "c1"
    assert m.check("hangup", "c1").call_id == "c1"
    m.apply(ev("established"), now=1)
    with pytest.raises(CommandRefused) as refused:
        m.check("answer", "c1")
    assert refused.value.code == "not_allowed"
    assert refused.value.message == "Cannot answer a call that is active"
    with pytest.raises(CommandRefused) as refused:
        m.check("hangup", "someone-elses")
    assert refused.value.code == "no_such_call"
    with pytest.raises(CommandRefused) as refused:
        m.check("teleport", "c1")
    assert refused.value.code == "unknown_command"


def test_pop_is_recorded_and_delivered_once() -> None:
    """The pop is kept on the call; the first 'popped' marks it, later ones change nothing."""
    m = CallStateMachine("1001")
    m.apply(ev("delivered"), now=0)
    assert m.mark_popped("c1") is None  # nothing to deliver yet
    with_pop = m.set_pop("c1", NO_POP)
    assert with_pop is not None and with_pop.pop == NO_POP
    first = m.mark_popped("c1")
    assert first is not None and first.pop_delivered
    assert m.mark_popped("c1") is None
    m.apply(ev("cleared"), now=1)
    assert m.set_pop("c1", NO_POP) is None
