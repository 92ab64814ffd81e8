"""The switchboard: link events through the core to the bus, commands through the core to the link.

It owns each agent's `CallStateMachine` and sequence counter, so every agent event is numbered
by exactly one writer, and it runs the record lookups for ringing calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Literal

from proxy.bus import EventBus
from proxy.errors import SalesforceError
from proxy.links import CtiLink, LinkCommand
from proxy.resource import Resource
from proxy.salesforce.lookup import RecordMatcher
from softphone.calls import Call, CallStateMachine
from softphone.events import CallEvent, CallState
from softphone.matching import MatchSettings
from softphone.messages import CallUpdate, CallView
from softphone.phone import mask
from softphone.pops import NO_POP

log = logging.getLogger(__name__)


class Switchboard(Resource):
    def __init__(
        self,
        link: CtiLink,
        bus: EventBus,
        matcher: RecordMatcher,
        match_settings: MatchSettings,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.link = link
        self.bus = bus
        self.matcher = matcher
        self.match_settings = match_settings
        self.region = match_settings.region
        self.clock = clock
        # Agent -> Salesforce user id, learned as agents sign in, for ranking shared numbers.
        self.salesforce_users: dict[str, str] = {}
        self._machines: dict[str, CallStateMachine] = {}
        self._seq: dict[str, int] = {}
        self._lookups: set[asyncio.Task[None]] = set()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._consume(), name="switchboard")

    async def aclose(self) -> None:
        tasks = [t for t in (self._task, *self._lookups) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def machine(self, agent: str) -> CallStateMachine:
        machine = self._machines.get(agent)
        if machine is None:
            machine = self._machines[agent] = CallStateMachine(agent)
        return machine

    def snapshot(self, agent: str) -> tuple[int, tuple[CallView, ...]]:
        """The agent's calls now, and the sequence number they reflect."""
        calls = self.machine(agent).calls.values()
        return self._seq.get(agent, 0), tuple(CallView.of(c, self.region) for c in calls)

    async def command(self, agent: str, op: Literal["answer", "hangup"], call_id: str) -> None:
        """Check `op` against the agent's own call, then ask the PBX; errors say why not."""
        self.machine(agent).check(op, call_id)
        await self.link.send(LinkCommand(op=op, call_id=call_id, agent=agent))

    async def popped(self, agent: str, call_id: str) -> None:
        call = self.machine(agent).mark_popped(call_id)
        if call is not None:
            await self._publish(call)

    async def _publish(self, call: Call) -> None:
        seq = self._seq[call.agent] = self._seq.get(call.agent, 0) + 1
        update = CallUpdate(seq=seq, call=CallView.of(call, self.region))
        await self.bus.publish(call.agent, update.model_dump(mode="json"))

    async def _consume(self) -> None:
        async for event in self.link.events():
            try:
                await self._apply(event)
            except asyncio.CancelledError:
                raise
            except Exception:
                # One bad event must never stop the other agents' events.
                log.exception("event not applied [call_id=%s agent=%s]", event.call_id, event.agent)

    async def _apply(self, event: CallEvent) -> None:
        call = self.machine(event.agent).apply(event, self.clock())
        if call is None:
            return
        log.info(
            "call %s [call_id=%s agent=%s ani=%s]",
            call.state.value,
            call.call_id,
            call.agent,
            mask(call.ani),
        )
        await self._publish(call)
        if call.state == CallState.RINGING and call.pop is None:
            task = asyncio.create_task(self._lookup(call), name=f"lookup {call.call_id}")
            self._lookups.add(task)
            task.add_done_callback(self._lookups.discard)

    async def _lookup(self, call: Call) -> None:
        try:
            owner = self.salesforce_users.get(call.agent, "")
            pop = await self.matcher.match(call, self.match_settings, owner)
        except SalesforceError as exc:
            log.error("lookup failed, no pop [call_id=%s]: %s", call.call_id, exc)
            pop = NO_POP
        updated = self.machine(call.agent).set_pop(call.call_id, pop)
        if updated is not None:
            await self._publish(updated)
