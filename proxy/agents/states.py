"""Every agent's calls and status as the PBX last reported them, and what else is known of them.

The one place this state lives: the switchboard moves it on link events, commands check
against it, and the views read it. It publishes nothing itself.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from softphone.agents import AgentKind, AgentStatus
from softphone.calls import CallStateMachine
from softphone.events import AgentState, CallState


@dataclass(frozen=True)
class AgentProfile:
    """What the switchboard knows of a signed-in agent beyond the PBX's view."""

    kind: AgentKind = "acd"
    salesforce_user_id: str = ""


class AgentStates:
    def __init__(self) -> None:
        self.profiles: dict[str, AgentProfile] = {}
        self.machines: dict[str, CallStateMachine] = {}
        self.statuses: dict[str, AgentStatus] = {}
        # Agents whose machine was handed out since the last count: every call is added right
        # after `machine()`, so any agent with a call is here. Counting walks these, not
        # everyone (at 10,000 agents a full walk per /metrics scrape held every ring ~8 ms).
        self._touched: set[str] = set()

    def machine(self, agent: str) -> CallStateMachine:
        machine = self.machines.get(agent)
        if machine is None:
            machine = self.machines[agent] = CallStateMachine(agent)
        self._touched.add(agent)
        return machine

    def with_calls(self) -> list[CallStateMachine]:
        """The machines holding a call; the others are dropped from the next count's walk."""
        active: list[CallStateMachine] = []
        idle: list[str] = []
        for agent in self._touched:
            machine = self.machines[agent]
            if machine.calls:
                active.append(machine)
            else:
                idle.append(agent)
        self._touched.difference_update(idle)
        return active

    def register(self, agent: str, profile: AgentProfile) -> None:
        self.profiles[agent] = profile

    def profile(self, agent: str) -> AgentProfile:
        return self.profiles.get(agent, AgentProfile())

    def status(self, agent: str) -> AgentStatus:
        return self.statuses.get(agent, AgentStatus())

    def in_work(self, agent: str) -> bool:
        return self.status(agent).state == AgentState.WORK

    def busy(self) -> bool:
        """Whether any call is ringing or in progress, for any agent."""
        return bool(self.with_calls())

    def call_counts(self) -> Counter[CallState]:
        """Calls in progress by state, across every agent."""
        return Counter(c.state for m in self.with_calls() for c in m.calls.values())
