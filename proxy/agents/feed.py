"""Each agent's numbered stream of updates: the one writer of sequence numbers.

The switchboard (calls, agent state), the journal (call logs) and the desk (agent data) all
publish through one `AgentFeed`, so every message an agent's pages receive has the next
sequence number, and a page that sees a gap knows it missed something.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from proxy.bus import EventBus, Numbered


class AgentFeed:
    def __init__(self, bus: EventBus) -> None:
        self.bus = bus
        self._seq: dict[str, int] = {}
        self._loading: dict[str, asyncio.Future[int]] = {}

    def seq(self, agent: str) -> int:
        """The sequence number of the agent's last published message."""
        return self._seq.get(agent, 0)

    async def ready(self, agent: str) -> None:
        """Know where the agent's numbering stands (a new link holder reads the bus's last), so
        `seq` is true for a welcome made before this process published anything for them."""
        if agent not in self._seq:
            await self._continue_numbering(agent)

    async def publish(self, agent: str, make: Callable[[int], Numbered]) -> None:
        """Number the message `make(seq)` builds and hand it to the bus (which encodes it once
        for every socket, on every node)."""
        if agent not in self._seq:
            await self._continue_numbering(agent)
        seq = self._seq[agent] = self._seq[agent] + 1
        await self.bus.publish(agent, make(seq))

    async def _continue_numbering(self, agent: str) -> None:
        # A shared bus (redis://) outlives this process and refuses numbers it has seen: the
        # agent's numbering goes on from the bus's last. Publishes waiting here wake in the
        # order they came (one read per agent), so they are numbered in that order.
        loading = self._loading.get(agent)
        if loading is None:
            loading = self._loading[agent] = asyncio.ensure_future(self.bus.last_seq(agent))
            loading.add_done_callback(lambda _: self._loading.pop(agent, None))
        last = await asyncio.shield(loading)
        self._seq.setdefault(agent, last)
