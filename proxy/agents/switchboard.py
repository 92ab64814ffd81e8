"""The switchboard: link events through the core to the pages, and a rebuild after each connect.

Every link event comes in here, is translated to agents' keys and the proxy's call ids, and
moves the one copy of each agent's calls and status (`AgentStates`); the views publish each
change, numbered, and a ringing call starts its lookup. After every (re)connect it rebuilds from
the PBX's snapshot without repeating what pages saw. Commands go the other way, in `commands`.

An event changes the state at once, in the link's order; publishing it (and saving the call's
log, which waits on the database) runs in the agent's lane (`AgentLanes`): in order for that
agent, and never in the way of another agent's ring.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from functools import partial

from proxy.agents.journal import CallJournal
from proxy.agents.lookups import Lookups
from proxy.agents.recall import Facts, ended, restore
from proxy.agents.seating import Seating
from proxy.agents.states import AgentStates
from proxy.agents.views import AgentViews
from proxy.links import CtiLink
from proxy.seams import BackgroundLoop, Resource
from softphone.agents import AgentStatus
from softphone.events import AgentEvent, AgentState, CallEvent, LinkEvent, Snapshot
from softphone.identities import Identities
from softphone.phone import mask

log = logging.getLogger(__name__)


class Switchboard(Resource):
    def __init__(
        self,
        link: CtiLink,
        identities: Identities,
        states: AgentStates,
        views: AgentViews,
        lookups: Lookups,
        journal: CallJournal,
        seating: Seating,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.link = link
        # Agents <-> devices and the proxy's call ids <-> the PBX's: crossed only in `_handle`
        # (every link event) and `Commands.send` (every command).
        self.identities = identities
        self.states = states
        self.views = views
        self.lookups = lookups
        self.journal = journal
        self.seating = seating
        self.clock = clock
        self.lanes = views.lanes
        self._resynced = asyncio.Event()  # the PBX's first snapshot is applied
        self._consumer = BackgroundLoop("switchboard", self._consume, log=log)

    async def start(self) -> None:
        await self.seating.start()
        await self._consumer.start()

    async def aclose(self) -> None:
        await self._consumer.aclose()
        await self.lanes.aclose()
        await self.seating.aclose()

    async def settled(self, within: float) -> bool:
        """Whether the PBX's first snapshot was applied, waiting up to `within` seconds."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._resynced.wait(), within)
        return self._resynced.is_set()

    async def _consume(self) -> None:
        async for event in self.link.events():
            try:
                await self._handle(event)
            except asyncio.CancelledError:
                raise
            except Exception:
                # One bad event must never stop the other agents' events.
                call_id = getattr(event, "call_id", "-")
                log.exception("event not applied [call_id=%s]", call_id)
        raise StopAsyncIteration  # the link is closed: the loop ends, no second read

    async def _handle(self, event: LinkEvent) -> None:
        # The one way in: from here on, agents' keys and the proxy's call ids only.
        event = self.identities.inbound(event)
        if isinstance(event, CallEvent):
            self._apply(event)
        elif isinstance(event, AgentEvent):
            self._agent(event)
        else:
            await self._resync(event)

    def _agent(self, event: AgentEvent) -> None:
        status = AgentStatus.of(event)
        before = self.states.statuses.get(event.agent)
        if before != status:
            self.states.statuses[event.agent] = status
            left_work = before is not None and before.state == AgentState.WORK
            work_ended = left_work and status.state != AgentState.WORK
            self.lanes.submit(event.agent, lambda: self._status_changed(event.agent, work_ended))

    async def _status_changed(self, agent: str, work_ended: bool) -> None:
        await self.views.publish_status(agent)
        if work_ended:
            await self.journal.work_ended(agent)

    async def _resync(self, snapshot: Snapshot) -> None:
        """Rebuild from the PBX's own account: changed calls published, vanished ones cleared."""
        # What pages were owed before the link dropped goes out first, so the journal's
        # account of open calls is complete before vanished ones are closed.
        await self.lanes.drain()
        # Calls new to this process (it just took the link over, or restarted): what pages
        # were shown of them before, as the previous holder remembered it.
        unknown = [e.call_id for e in snapshot.calls if not self._known(e.agent, e.call_id)]
        recalled = await self.views.memory.recall(unknown)
        present: dict[str, set[str]] = {}
        for n, event in enumerate(snapshot.calls, 1):
            present.setdefault(event.agent, set()).add(event.call_id)
            self._apply(event, absolute=True, facts=recalled.get(event.call_id))
            await _breathe(n)
        for agent, machine in self.states.machines.items():
            for call in machine.forget_missing(present.get(agent, set()), self.clock()):
                log.info("call gone after resync [call_id=%s agent=%s]", call.call_id, agent)
                self.lanes.submit(agent, partial(self.views.publish_call, call))
        await self._clear_forgotten(present)
        await self.lanes.drain()
        await self.views.resynced(present)
        for n, agent_event in enumerate(snapshot.agents, 1):
            self._agent(agent_event)
            await _breathe(n)
        self.seating.resynced()
        self._resynced.set()
        log.info("resynchronised: %d calls, %d agents", len(snapshot.calls), len(snapshot.agents))

    async def _clear_forgotten(self, present: dict[str, set[str]]) -> None:
        """Calls pages may still show (the previous holder remembered them) that ended while no
        node held the link: neither the PBX nor this process has them, so they are cleared."""
        for call_id, facts in (await self.views.memory.everything()).items():
            agent = str(facts.get("agent", ""))
            if call_id in present.get(agent, ()) or self._known(agent, call_id):
                continue
            call = ended(call_id, facts, self.clock())
            if call is not None:
                log.info("call ended while no node held the link [call_id=%s]", call_id)
                self.lanes.submit(agent, partial(self.views.publish_ended, call))

    def _known(self, agent: str, call_id: str) -> bool:
        machine = self.states.machines.get(agent)
        return machine is not None and call_id in machine.calls

    def _apply(
        self, event: CallEvent, *, absolute: bool = False, facts: Facts | None = None
    ) -> None:
        machine = self.states.machine(event.agent)
        call = machine.apply(event, self.clock(), absolute=absolute)
        if call is not None and facts is not None:
            call = restore(machine, call.call_id, facts) or call
        if call is None:
            return
        log.info(
            "call %s [call_id=%s pbx_call_id=%s device=%s agent=%s ani=%s]",
            call.state.value,
            call.call_id,
            call.pbx_call_id,
            call.device,
            call.agent,
            mask(call.ani),
        )
        then = self.lookups.look_up(call)
        self.lanes.submit(call.agent, lambda: self.views.publish_call(call, then=then))


async def _breathe(done: int, every: int = 200) -> None:
    """Let the loop run between chunks of a large snapshot (10,000 agents took 2.4 s in one
    go, past the link's liveness deadline, and every page waited)."""
    if done % every == 0:
        await asyncio.sleep(0)
