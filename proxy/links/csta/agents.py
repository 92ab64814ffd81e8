"""CSTA agent events (ACD login, ready, not ready, wrap-up, do not disturb) as `AgentEvent`s.

CSTA reports each change on its own (a login to one group, DND on); the proxy wants an
agent's whole state each time, so the state is kept per monitored device and reported whole.
"""

from __future__ import annotations

from dataclasses import dataclass

from proxy.links.csta.codec import Element, descendant, device, local, text
from softphone.agents import AgentFlags, agent_event
from softphone.events import AgentEvent

AGENT_EVENTS = frozenset(
    {
        "AgentLoggedOnEvent",
        "AgentLoggedOffEvent",
        "AgentReadyEvent",
        "AgentNotReadyEvent",
        "AgentWorkingAfterCallEvent",
        "DoNotDisturbEvent",
    }
)


@dataclass
class AgentRecord:
    # None until the switch reports a login or an agent state: a device never logged on to ACD.
    logged_in: bool | None = None
    busy: bool = False
    work: bool = False
    reason: str = ""
    groups: tuple[str, ...] = ()
    dnd: bool = False

    def now(self, *, busy: bool = False, work: bool = False, reason: str = "") -> None:
        """An agent-state event: the switch says the agent is logged on, in this one state."""
        self.logged_in, self.busy, self.work, self.reason = True, busy, work, reason


class CstaAgents(dict[str, AgentRecord]):
    """Agent state per monitored device, moved by the agent events in `AGENT_EVENTS`."""

    def apply(self, root: Element, at: str) -> AgentEvent:
        name = local(root)
        agent = self.setdefault(at, AgentRecord())
        group = device(root, "agentGroup") or text(root, "agentGroup")
        if name == "AgentLoggedOnEvent":
            if group and group not in agent.groups:
                agent.groups = (*agent.groups, group)[:32]
            if not agent.logged_in:
                agent.now()
        elif name == "AgentLoggedOffEvent":
            # Logged off one group stays logged on to the others; off all, or no group named: out.
            agent.groups = tuple(g for g in agent.groups if g != group) if group else ()
            if not agent.groups:
                agent.now()
                agent.logged_in = False
        elif name == "AgentReadyEvent":
            agent.now()
        elif name == "AgentNotReadyEvent":
            agent.now(busy=True, reason=_reason_code(root))
        elif name == "AgentWorkingAfterCallEvent":
            agent.now(work=True)
        elif name == "DoNotDisturbEvent":
            agent.dnd = text(root, "doNotDisturbOn").lower() in ("true", "1")
        return self.event(at)

    def event(self, at: str) -> AgentEvent:
        agent = self.setdefault(at, AgentRecord())
        flags = AgentFlags(
            agent.logged_in, agent.dnd, agent.work, agent.busy, agent.reason, agent.groups
        )
        return agent_event(at, flags)


def _reason_code(root: Element) -> str:
    """A not-ready reason: ed4's agentStateReason, or a reasonCode in the private data."""
    found = descendant(root, "reasonCode")
    if found is None:  # not `or`: an lxml element without children is falsy
        found = descendant(root, "agentStateReason")
    return (found.text or "").strip() if found is not None else ""
