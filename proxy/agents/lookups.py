"""The record lookup for each ringing call, and the agent's own search, against Salesforce.

A ringing call an agent holds gets one lookup however many updates ring; it starts once the
ring is out (so the pop is numbered after it) and never waits for the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from proxy.agents.desk import AgentDesk
from proxy.agents.states import AgentStates
from proxy.agents.views import AgentViews
from proxy.errors import SalesforceError
from proxy.salesforce.lookup import RecordMatcher
from proxy.seams import Resource
from softphone.calls import Call
from softphone.events import CallState
from softphone.identities import DEVICE_PREFIX
from softphone.matching import MatchSettings
from softphone.pops import NO_POP, Pop, RecordRef

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RecentPop:
    at: float
    call_id: str
    agent: str
    pop: Pop
    seconds: float


class Lookups(Resource):
    def __init__(
        self,
        matcher: RecordMatcher,
        match_settings: MatchSettings,
        states: AgentStates,
        views: AgentViews,
        desk: AgentDesk,
        *,
        pop_decided: Callable[[float], None] = lambda seconds: None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.matcher = matcher
        self.match_settings = match_settings
        self.states = states
        self.views = views
        self.desk = desk
        # Seconds from ringing to a decided pop, for the metrics.
        self.pop_decided = pop_decided
        self.clock = clock
        # The last pops decided, for the admin page.
        self.recent_pops: deque[RecentPop] = deque(maxlen=50)
        self._tasks: set[asyncio.Task[None]] = set()
        self._looking: set[tuple[str, str]] = set()

    async def aclose(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def look_up(self, call: Call) -> Callable[[], None] | None:
        """What starts the call's record lookup, when it needs one now: only for a ringing call
        an agent holds (one lookup per call, however many updates ring)."""
        key = (call.agent, call.call_id)
        if (
            call.state != CallState.RINGING
            or call.pop is not None
            or call.placed
            or call.agent.startswith(DEVICE_PREFIX)
            or key in self._looking
        ):
            return None
        self._looking.add(key)

        def look_up() -> None:
            # Started once the ring is out (so the pop is numbered after it) and before
            # the ring's log is written (so the pop never waits for the database).
            task = asyncio.create_task(self._lookup(call), name=f"lookup {call.call_id}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            task.add_done_callback(lambda _: self._looking.discard(key))

        return look_up

    async def _lookup(self, call: Call) -> None:
        try:
            owner = self.states.profile(call.agent).salesforce_user_id
            settings = await self.desk.match_settings(call.agent, self.match_settings)
            pop = await self.matcher.match(call, settings, owner)
        except SalesforceError as exc:
            log.error("lookup failed, no pop [call_id=%s]: %s", call.call_id, exc)
            pop = NO_POP
        updated = self.states.machine(call.agent).set_pop(call.call_id, pop)
        if updated is not None:
            latency = self.clock() - call.started_at
            self.pop_decided(latency)
            self.recent_pops.append(RecentPop(self.clock(), call.call_id, call.agent, pop, latency))
            self.views.lanes.submit(call.agent, lambda: self.views.publish_call(updated))

    async def search_people(self, query: str) -> tuple[list[RecordRef], dict[str, str]]:
        """The agent's own search by name or number (one API call; see `RecordMatcher`)."""
        return await self.matcher.search_people(query, self.match_settings)
