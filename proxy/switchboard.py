"""The switchboard: link events through the core to the bus, commands through the core to the link.

It owns each agent's `CallStateMachine`, agent status and sequence counter, so every agent
event is numbered by exactly one writer; it runs the record lookups for ringing calls, and it
rebuilds from the PBX's snapshot after every (re)connect without repeating what pages saw.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, replace

from proxy.desk import AgentDesk
from proxy.errors import SalesforceError
from proxy.feed import AgentFeed
from proxy.journal import CallJournal
from proxy.links import CtiLink, LinkCommand
from proxy.resource import Resource
from proxy.salesforce.lookup import RecordMatcher
from proxy.seating import Seating
from proxy.store import Store
from softphone.agents import AgentKind, AgentStatus, check_agent_command
from softphone.calls import Call, CallStateMachine
from softphone.dialing import DialingOptions, dial_string
from softphone.events import AgentEvent, AgentState, CallEvent, CallState, LinkEvent, Snapshot
from softphone.identities import DEVICE_PREFIX, Identities
from softphone.matching import MatchSettings
from softphone.messages import (
    AcdGroup,
    AgentUpdate,
    CallCommand,
    CallUpdate,
    CallView,
    CancelWork,
    Dial,
    Dtmf,
    NumberCommand,
    Presence,
    SetState,
    StatusView,
)
from softphone.phone import mask
from softphone.pops import NO_POP, Pop

log = logging.getLogger(__name__)
AgentCommand = (
    CallCommand | NumberCommand | Dial | Dtmf | SetState | AcdGroup | CancelWork | Presence
)


@dataclass(frozen=True)
class RecentPop:
    at: float
    call_id: str
    agent: str
    pop: Pop
    seconds: float


@dataclass(frozen=True)
class AgentProfile:
    """What the switchboard knows of a signed-in agent beyond the PBX's view."""

    kind: AgentKind = "acd"
    salesforce_user_id: str = ""


class Switchboard(Seating, Resource):
    def __init__(
        self,
        link: CtiLink,
        feed: AgentFeed,
        matcher: RecordMatcher,
        match_settings: MatchSettings,
        *,
        dialing: DialingOptions | None = None,
        reason_codes: tuple[str, ...] = (),
        acd_groups: tuple[str, ...] = (),
        desk: AgentDesk | None = None,
        store: Store | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.link = link
        # The roster comes from here at start; without it, only devices' own keys exist.
        self.store = store
        # Agents <-> devices and the proxy's call ids <-> the PBX's: crossed only in `_handle`
        # (every link event) and `_send` (every command).
        self.identities = Identities()
        self.feed = feed
        self.desk = desk
        # Set once the journal exists (it asks the switchboard who is in work).
        self.journal: CallJournal | None = None
        # The last pops decided, for the admin page.
        self.recent_pops: deque[RecentPop] = deque(maxlen=50)
        # Seconds from ringing to a decided pop, for the metrics.
        self.pop_decided: Callable[[float], None] = lambda seconds: None
        self.matcher = matcher
        self.match_settings = match_settings
        self.region = match_settings.region
        self.dialing = dialing or DialingOptions(region=match_settings.region)
        self.reason_codes = reason_codes
        self.acd_groups = acd_groups
        self.clock = clock
        self.profiles: dict[str, AgentProfile] = {}
        # Each agent's open pages, the one used last at the end: it opens owed pops at once,
        # the others only if it has not within a few seconds (it may have just closed).
        self.pages: dict[str, list[str]] = {}
        self._machines: dict[str, CallStateMachine] = {}
        self._statuses: dict[str, AgentStatus] = {}
        self._lookups: set[asyncio.Task[None]] = set()
        self._looking: set[tuple[str, str]] = set()
        self._relogin: dict[str, str] = {}
        self._task: asyncio.Task[None] | None = None
        self._seats_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.load_identities()
        self._task = asyncio.create_task(self._consume(), name="switchboard")
        self._seats_task = asyncio.create_task(self._free_seats_every(), name="seats")

    async def aclose(self) -> None:
        tasks = [t for t in (self._task, self._seats_task, *self._lookups) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # --- what pages see --------------------------------------------------------------------
    def machine(self, agent: str) -> CallStateMachine:
        machine = self._machines.get(agent)
        if machine is None:
            machine = self._machines[agent] = CallStateMachine(agent)
        return machine

    def status_view(self, agent: str) -> StatusView:
        status = self._statuses.get(agent, AgentStatus())
        return StatusView(
            kind=self.profiles.get(agent, AgentProfile()).kind,
            state=status.state,
            reason=status.reason,
            groups=status.groups,
            work_seconds=status.work_seconds,
            reason_codes=self.reason_codes,
            acd_groups=self.acd_groups,
            capabilities=self.link.capabilities,
        )

    def snapshot(self, agent: str) -> tuple[int, tuple[CallView, ...]]:
        """The agent's calls now, and the sequence number they reflect."""
        calls = self.machine(agent).calls.values()
        owner = self.pop_owner(agent)
        return self.feed.seq(agent), tuple(CallView.of(c, self.region, owner) for c in calls)

    def register(self, agent: str, profile: AgentProfile) -> None:
        self.profiles[agent] = profile

    @property
    def online(self) -> Counter[str]:
        """Open pages per agent."""
        return Counter({agent: len(pages) for agent, pages in self.pages.items() if pages})

    def page_active(self, agent: str, page: str) -> None:
        """A page opened, or the agent used it: it becomes the one that pops."""
        pages = self.pages.setdefault(agent, [])
        if page in pages:
            pages.remove(page)
        pages.append(page)

    def page_closed(self, agent: str, page: str) -> None:
        pages = self.pages.get(agent, [])
        if page in pages:
            pages.remove(page)

    def pop_owner(self, agent: str) -> str:
        pages = self.pages.get(agent)
        return pages[-1] if pages else ""

    def call_counts(self) -> Counter[CallState]:
        """Calls in progress by state, across every agent."""
        return Counter(c.state for m in self._machines.values() for c in m.calls.values())

    def in_work(self, agent: str) -> bool:
        return self._statuses.get(agent, AgentStatus()).state == AgentState.WORK

    async def _publish_call(self, call: Call, then: Callable[[], None] | None = None) -> None:
        """Publish the call (saving its log first, except for a ring); `then` runs as soon as
        the pages have it, before the log is written (the ring's lookup starts there)."""
        view = CallView.of(call, self.region, self.pop_owner(call.agent))
        # A ring reaches the pages before its log is saved: the pop is the hurry, and a call
        # that only rang is not logged unless missed calls are (and then the PBX's snapshot
        # after a restart brings it back). Anything later is saved first, so no answered or
        # ended call is ever shown that the log does not have.
        first_ring = call.state in (CallState.RINGING, CallState.DIALING)
        # A device nobody holds keeps its calls, but they are nobody's to log.
        logged = self.journal is not None and not call.agent.startswith(DEVICE_PREFIX)
        if self.journal is not None and logged and not first_ring:
            await self.journal.observe(call)
        await self.feed.publish(call.agent, lambda seq: CallUpdate(seq=seq, call=view))
        if then is not None:
            then()
        if self.journal is not None and logged and first_ring:
            await self.journal.observe(call)

    async def _publish_status(self, agent: str) -> None:
        view = self.status_view(agent)
        await self.feed.publish(agent, lambda seq: AgentUpdate(seq=seq, status=view))

    # --- commands from pages ---------------------------------------------------------------
    async def command(self, agent: str, message: AgentCommand) -> str:
        """Check `message` against the agent's own calls and state, then ask the PBX.

        Returns the new call's id for dial and consult. Raises `CommandRefused` (the core's
        reason) or `LinkError` (the PBX's).
        """
        # What the link cannot do is refused first, whatever the call's or agent's state.
        self.link.capabilities.require(message.type, getattr(message, "state", ""))
        machine = self.machine(agent)
        if isinstance(message, CallCommand):
            machine.check(message.type, message.call_id)
            command = LinkCommand(op=message.type, agent=agent, call_id=message.call_id)
        elif isinstance(message, NumberCommand):
            machine.check(message.type, message.call_id)
            number = dial_string(message.number, self.dialing)
            command = LinkCommand(
                op=message.type, agent=agent, call_id=message.call_id, number=number
            )
        elif isinstance(message, Dtmf):
            machine.check("dtmf", message.call_id, digits=message.digits)
            command = LinkCommand(
                op="dtmf", agent=agent, call_id=message.call_id, digits=message.digits
            )
        elif isinstance(message, Dial):
            machine.check_dial()
            number = dial_string(message.number, self.dialing)
            command = LinkCommand(op="dial", agent=agent, number=number)
        else:
            command = self._agent_command(agent, message)
        return await self._send(command)

    async def _send(self, command: LinkCommand) -> str:
        """The one way out: the agent's device and the PBX's call id, and the new call's proxy
        id back for dial and consult (made now, so the call's first event finds it)."""
        device, pbx_id = self.identities.outbound(command.agent, command.call_id)
        new_call = await self.link.send(replace(command, agent=device, call_id=pbx_id))
        return self.identities.call_id(device, new_call) if new_call else ""

    def _agent_command(
        self, agent: str, message: SetState | AcdGroup | CancelWork | Presence
    ) -> LinkCommand:
        kind = self.profiles.get(agent, AgentProfile()).kind
        status = self._statuses.get(agent, AgentStatus())
        if isinstance(message, SetState):
            check_agent_command(
                kind,
                status,
                "set_state",
                state=message.state,
                reason=message.reason,
                reason_codes=self.reason_codes,
            )
            return LinkCommand(
                op="set_state", agent=agent, state=message.state, reason=message.reason
            )
        if isinstance(message, AcdGroup):
            check_agent_command(kind, status, message.type, group=message.group)
            return LinkCommand(op=message.type, agent=agent, group=message.group)
        if isinstance(message, Presence):
            check_agent_command(kind, status, message.type)
            return LinkCommand(op=message.type, agent=agent, number=message.extension)
        check_agent_command(kind, status, "cancel_work")
        if self.journal is not None:
            self.journal.check_cancel_work(agent)
        return LinkCommand(op="cancel_work", agent=agent)

    async def popped(self, agent: str, call_id: str) -> None:
        call = self.machine(agent).mark_popped(call_id)
        if call is not None:
            await self._publish_call(call)

    # --- events from the PBX ---------------------------------------------------------------
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

    async def _handle(self, event: LinkEvent) -> None:
        # The one way in: from here on, agents' keys and the proxy's call ids only.
        event = self.identities.inbound(event)
        if isinstance(event, CallEvent):
            await self._apply(event)
        elif isinstance(event, AgentEvent):
            await self._agent(event)
        else:
            await self._resync(event)

    async def _agent(self, event: AgentEvent) -> None:
        status = AgentStatus.of(event)
        before = self._statuses.get(event.agent)
        if before != status:
            self._statuses[event.agent] = status
            await self._publish_status(event.agent)
            left_work = before is not None and before.state == AgentState.WORK
            if left_work and status.state != AgentState.WORK and self.journal is not None:
                await self.journal.work_ended(event.agent)

    async def _resync(self, snapshot: Snapshot) -> None:
        """Rebuild from the PBX's own account: changed calls published, vanished ones cleared."""
        present: dict[str, set[str]] = {}
        for event in snapshot.calls:
            present.setdefault(event.agent, set()).add(event.call_id)
            await self._apply(event, absolute=True)
        for agent, machine in self._machines.items():
            for call in machine.forget_missing(present.get(agent, set()), self.clock()):
                log.info("call gone after resync [call_id=%s agent=%s]", call.call_id, agent)
                await self._publish_call(call)
        if self.journal is not None:
            await self.journal.close_missing(present)
        for agent_event in snapshot.agents:
            await self._agent(agent_event)
        self.resynced()
        log.info("resynchronised: %d calls, %d agents", len(snapshot.calls), len(snapshot.agents))

    async def _apply(self, event: CallEvent, *, absolute: bool = False) -> None:
        call = self.machine(event.agent).apply(event, self.clock(), absolute=absolute)
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
        await self._publish_call(call, then=self._look_up(call))

    def _look_up(self, call: Call) -> Callable[[], None] | None:
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
            self._lookups.add(task)
            task.add_done_callback(self._lookups.discard)
            task.add_done_callback(lambda _: self._looking.discard(key))

        return look_up

    async def _lookup(self, call: Call) -> None:
        try:
            owner = self.profiles.get(call.agent, AgentProfile()).salesforce_user_id
            settings = self.match_settings
            if self.desk is not None:
                settings = await self.desk.match_settings(call.agent, settings)
            pop = await self.matcher.match(call, settings, owner)
        except SalesforceError as exc:
            log.error("lookup failed, no pop [call_id=%s]: %s", call.call_id, exc)
            pop = NO_POP
        updated = self.machine(call.agent).set_pop(call.call_id, pop)
        if updated is not None:
            latency = self.clock() - call.started_at
            self.pop_decided(latency)
            self.recent_pops.append(RecentPop(self.clock(), call.call_id, call.agent, pop, latency))
            await self._publish_call(updated)
