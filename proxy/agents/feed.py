"""Each agent's numbered stream of updates: the one writer of sequence numbers.

The switchboard (calls, agent state), the journal (call logs) and the desk (agent data) all
publish through one `AgentFeed`, so every message an agent's pages receive has the next
sequence number, and a page that sees a gap knows it missed something.
"""

from __future__ import annotations

from collections.abc import Callable

from proxy.bus import EventBus, Numbered


class AgentFeed:
    def __init__(self, bus: EventBus) -> None:
        self.bus = bus
        self._seq: dict[str, int] = {}

    def seq(self, agent: str) -> int:
        """The sequence number of the agent's last published message."""
        return self._seq.get(agent, 0)

    async def publish(self, agent: str, make: Callable[[int], Numbered]) -> None:
        """Number the message `make(seq)` builds and hand it to the bus (which encodes it once
        for every socket, on every node)."""
        seq = self._seq[agent] = self._seq.get(agent, 0) + 1
        await self.bus.publish(agent, make(seq))
