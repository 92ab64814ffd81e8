"""CSTA agent events (ACD login, ready, not ready, wrap-up, do not disturb) as `AgentEvent`s.

CSTA reports each change on its own (a login to one group, DND on); the proxy wants an
agent's whole state each time, so the state is kept per monitored device and reported whole.
"""

from __future__ import annotations

from dataclasses import dataclass

from proxy.links.csta.codec import Element, descendant, device, local, text
from softphone.events import AgentEvent, AgentState

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
    state: AgentState = AgentState.LOGGED_OUT
    reason: str = ""
    groups: tuple[str, ...] = ()
    dnd: bool = False


class CstaAgents(dict[str, AgentRecord]):
    """Agent state per monitored device, moved by the agent events in `AGENT_EVENTS`."""

    def apply(self, root: Element, at: str) -> AgentEvent:
        name = local(root)
        agent = self.setdefault(at, AgentRecord())
        group = device(root, "agentGroup") or text(root, "agentGroup")
        if name == "AgentLoggedOnEvent":
            if group and group not in agent.groups:
                agent.groups = (*agent.groups, group)[:32]
            if agent.state == AgentState.LOGGED_OUT:
                agent.state, agent.reason = AgentState.READY, ""
        elif name == "AgentLoggedOffEvent":
            # Logged off one group stays logged on to the others; off all, or no group named: out.
            agent.groups = tuple(g for g in agent.groups if g != group) if group else ()
            if not agent.groups:
                agent.state, agent.reason = AgentState.LOGGED_OUT, ""
        elif name == "AgentReadyEvent":
            agent.state, agent.reason = AgentState.READY, ""
        elif name == "AgentNotReadyEvent":
            agent.state, agent.reason = AgentState.BUSY, _reason_code(root)
        elif name == "AgentWorkingAfterCallEvent":
            agent.state, agent.reason = AgentState.WORK, ""
        elif name == "DoNotDisturbEvent":
            agent.dnd = text(root, "doNotDisturbOn").lower() in ("true", "1")
        return self.event(at)

    def event(self, at: str) -> AgentEvent:
        agent = self.setdefault(at, AgentRecord())
        state = AgentState.DND if agent.dnd else agent.state  # DND wins over make busy
        return AgentEvent(agent=at, state=state, reason=agent.reason[:32], groups=agent.groups)


def _reason_code(root: Element) -> str:
    """A not-ready reason: ed4's agentStateReason, or a reasonCode in the private data."""
    found = descendant(root, "reasonCode")
    if found is None:  # not `or`: an lxml element without children is falsy
        found = descendant(root, "agentStateReason")
    return (found.text or "").strip() if found is not None else ""
