"""The simulated PBX's agent side: agent states, ACD groups, queue dispatch, after-call work."""

from __future__ import annotations

import time

from proxy.simulator.model import SimAgent, SimError
from proxy.simulator.pbx_base import PbxBase
from softphone.events import AgentState


class AgentStates(PbxBase):
    def set_state(self, address: str, state: str, reason: str = "") -> SimAgent:
        agent = self._agent(address)
        agent.state = {"ready": AgentState.READY, "busy": AgentState.BUSY, "dnd": AgentState.DND}[
            state
        ]
        agent.reason = reason if state == "busy" else ""
        self._cancel(f"work:{address}")
        self._emit_agent(agent)
        self._dispatch()
        return agent

    def acd_login(self, address: str, group: str) -> SimAgent:
        agent = self._agent(address)
        agent.groups.add(group)
        if agent.state == AgentState.LOGGED_OUT:
            agent.state = AgentState.READY
        self._emit_agent(agent)
        self._dispatch()
        return agent

    def acd_logout(self, address: str, group: str) -> SimAgent:
        agent = self._agent(address)
        agent.groups.discard(group)
        self._emit_agent(agent)
        return agent

    def logout(self, address: str) -> SimAgent:
        """The agent logs out of their phone: no calls ring there until they log in."""
        agent = self._agent(address)
        agent.state, agent.reason = AgentState.LOGGED_OUT, ""
        self._emit_agent(agent)
        return agent

    def login(self, address: str) -> SimAgent:
        """A phone logs in; a hot-desk phone the PBX has not rung yet is one it has now."""
        self.add_agent(address)
        agent = self._agent(address)
        if agent.state == AgentState.LOGGED_OUT:
            agent.state = AgentState.READY
        self._emit_agent(agent)
        self._dispatch()
        return agent

    def cancel_work(self, address: str) -> SimAgent:
        agent = self._agent(address)
        if agent.state != AgentState.WORK:
            raise SimError("no_work_timer", "no work timer running")
        self._end_work(agent)
        return agent

    def _dispatch(self) -> None:
        """Hand queued ACD calls to ready agents of their group who are not on a call."""
        for leg in list(self.queued):
            busy = {other.agent for other in self.legs.values()}
            free = [
                a
                for a in self.agents.values()
                if a.state == AgentState.READY and leg.queue in a.groups and a.address not in busy
            ]
            if free:
                self.queued.remove(leg)
                leg.agent = free[0].address
                self._ring(leg)

    def _start_work(self, address: str) -> None:
        """After an ACD call the agent who took it is in after-call work for a while."""
        agent = self.agents.get(address)
        if self.work_seconds > 0 and agent is not None and agent.state == AgentState.READY:
            agent.state, agent.work_until = AgentState.WORK, time.monotonic() + self.work_seconds
            self._emit_agent(agent)
            self._later(f"work:{agent.address}", self.work_seconds, lambda: self._end_work(agent))

    def _end_work(self, agent: SimAgent) -> None:
        self._cancel(f"work:{agent.address}")
        if agent.state == AgentState.WORK:
            agent.state, agent.work_until = AgentState.READY, 0.0
            self._emit_agent(agent)
            self._dispatch()
