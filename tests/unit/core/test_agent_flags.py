"""The one rule that turns a PBX's agent switches into the state a page shows."""

from __future__ import annotations

import pytest

from softphone.agents import AgentFlags, agent_event
from softphone.events import AgentState

L, D, R, W, B = (
    AgentState.LOGGED_OUT,
    AgentState.DND,
    AgentState.READY,
    AgentState.WORK,
    AgentState.BUSY,
)
TABLE: list[tuple[AgentFlags, AgentState, str]] = [
    (AgentFlags(), R, ""),
    (AgentFlags(busy=True, reason="Lunch"), B, "Lunch"),
    (AgentFlags(work=True), W, ""),
    (AgentFlags(work=True, busy=True, reason="Lunch"), W, ""),
    (AgentFlags(dnd=True), D, ""),
    (AgentFlags(dnd=True, busy=True, reason="Lunch"), D, ""),
    (AgentFlags(dnd=True, work=True), D, ""),
    (AgentFlags(logged_in=False), L, ""),
    (AgentFlags(logged_in=False, dnd=True), L, ""),
    (AgentFlags(logged_in=False, busy=True, reason="Lunch"), L, ""),
    (AgentFlags(logged_in=None), L, ""),
    (AgentFlags(logged_in=None, dnd=True), D, ""),
    (AgentFlags(busy=True, reason="x" * 40), B, "x" * 32),
]


@pytest.mark.parametrize(("flags", "state", "reason"), TABLE)
def test_flags_become_one_state(flags: AgentFlags, state: AgentState, reason: str) -> None:
    """Logged out, then DND, then an unknown login, wrap-up, make busy, ready; the reason only
    with make busy, cut to the 32 characters an agent event holds."""
    event = agent_event("1001", flags)
    assert (event.agent, event.state, event.reason) == ("1001", state, reason)


def test_groups_travel_as_given() -> None:
    """The ACD groups are reported whatever the state, in the order the link gives them."""
    event = agent_event("1001", AgentFlags(logged_in=False, groups=("Sales", "Support")))
    assert event.groups == ("Sales", "Support")
