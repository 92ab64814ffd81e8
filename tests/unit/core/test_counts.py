"""The counts an admin reads in /metrics and /admin (pages open, calls by state), kept without
walking every agent, stay right as pages and calls come and go."""

from __future__ import annotations

from proxy.agents.pages import Pages
from proxy.agents.states import AgentStates
from softphone.events import CallEvent, CallState


def test_pages_open_are_counted_as_they_open_move_and_close() -> None:
    pages = Pages()
    pages.active("1001", "a")
    pages.active("1001", "b")
    pages.active("1001", "a")  # used again: still two pages, and it pops
    pages.present("1002", "c")
    pages.present("1002", "c")  # told twice (a new link holder): one page
    assert pages.totals() == (2, 3)
    assert pages.pop_owner("1001") == "a"
    pages.closed("1001", "a")
    pages.closed("1001", "a")  # closed twice: counted once
    assert pages.totals() == (2, 2)
    pages.closed("1001", "b")
    pages.closed("1002", "c")
    assert pages.totals() == (0, 0)
    assert pages.pop_owner("1001") == ""


def _ring(states: AgentStates, agent: str, call_id: str, kind: str = "delivered") -> None:
    event = CallEvent(kind=kind, call_id=call_id, agent=agent)  # type: ignore[arg-type]
    states.machine(agent).apply(event, 0.0)


def test_calls_are_counted_by_state_among_many_idle_agents() -> None:
    states = AgentStates()
    for n in range(1000):  # every agent's welcome reads its machine
        states.machine(str(n))
    assert not states.busy() and states.call_counts() == {}
    _ring(states, "7", "c1")
    _ring(states, "8", "c2")
    assert states.busy()
    assert states.call_counts() == {CallState.RINGING: 2}
    _ring(states, "7", "c1", "established")
    assert states.call_counts() == {CallState.RINGING: 1, CallState.ACTIVE: 1}
    _ring(states, "8", "c2", "cleared")
    _ring(states, "7", "c1", "cleared")
    assert not states.busy() and states.call_counts() == {}
    _ring(states, "999", "c3")  # an agent counted idle before rings later: still counted
    assert states.call_counts() == {CallState.RINGING: 1}
