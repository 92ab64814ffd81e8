"""Salesforce Voice agents, and the VoiceCall writes their calls make.

An agent is a Voice agent while the Voice connector (static/voice/connector.html) is open for
them: Salesforce then shows their calls as VoiceCalls, which our server creates. No roster flag:
a contact centre moves agents over group by group, and an agent with only the Open CTI
softphone open goes on as before.

Every write is queued in the store's outbox in the commit that decides it, keyed by the call
and the write (`softphone.voicecalls.write_key`), so each is made once whatever crashes: the
create when a call first rings (or dials), the end (and routing cleared, when missed) when it
ends. A restarted proxy reads back the VoiceCalls it created and has not ended, and ends those
the PBX no longer has, as the call journal does with logs.

A Voice agent's calls are not also logged as Tasks: Salesforce Voice keeps the VoiceCall itself
as the record of the call, with the agent's notes and disposition on it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from proxy.seams import Resource
from proxy.store import OutboxWrite, Store
from softphone.calls import Call
from softphone.events import CallState
from softphone.voicecalls import (
    Holds,
    caller,
    create_body,
    end_body,
    handed_on,
    missed,
    voice_call,
    write_key,
)

log = logging.getLogger(__name__)
# A call rings on at another Voice agent within this long of leaving one: a transfer.
TRANSFER_SECONDS = 60.0
# No call lasts longer: VoiceCalls created before this are not looked for at start.
LONGEST_CALL_SECONDS = 2 * 86400.0
# A ringing call's VoiceCall waits at most this long for our caller matching, so the records
# it finds travel in callAttributes; a lookup that takes longer is not waited for.
LOOKUP_GRACE_SECONDS = 1.5


class VoiceSeats:
    """Which agents have the Voice connector open (counted: one per open connector)."""

    def __init__(self) -> None:
        self._open: Counter[str] = Counter()

    def opened(self, agent: str) -> None:
        self._open[agent] += 1

    def closed(self, agent: str) -> None:
        self._open[agent] -= 1
        if self._open[agent] <= 0:
            del self._open[agent]

    def is_voice(self, agent: str) -> bool:
        return self._open[agent] > 0 if agent in self._open else False

    def agents(self) -> list[str]:
        return sorted(self._open)


@dataclass
class _OpenVoiceCall:
    agent: str
    started_at: float
    answered_at: float | None = None
    queue: str = ""
    holds: Holds = field(default_factory=Holds)
    # Who the customer is, to know the call again when it is transferred to another agent.
    number: str = ""
    global_call_id: str = ""
    handed_to: str = ""  # the child VoiceCall, once the call went on to another Voice agent
    parent: str = ""
    # The create waits for the ring's lookup (LOOKUP_GRACE_SECONDS at most).
    awaiting_pop: bool = False


@dataclass(frozen=True)
class _Ended:
    """A Voice call that just went on elsewhere: a new ring of the same caller is its child."""

    call_id: str
    global_call_id: str
    number: str
    ended_at: float


class VoiceJournal(Resource):
    def __init__(
        self,
        store: Store,
        seats: VoiceSeats,
        *,
        call_center: str,
        queued: Callable[[], None] = lambda: None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.seats = seats
        self.call_center = call_center
        self.queued = queued
        self.clock = clock
        self.calls: dict[str, _OpenVoiceCall] = {}
        self._handed_on: list[_Ended] = []
        # Per agent, as the call journal's: one Voice agent's commit never holds up another's
        # ring, and the agents without the connector never wait at all.
        self._locks: dict[str, asyncio.Lock] = {}

    async def start(self) -> None:
        since = self.clock() - LONGEST_CALL_SECONDS
        ended = {row.call_object for row in await self.store.outbox_of_kind("voice_end", since)}
        for row in await self.store.outbox_of_kind("voice_create", since):
            call_id = row.call_object.removeprefix("voice_create:")
            if write_key("voice_end", call_id) not in ended:
                started = float(row.fields.get("_started_at", row.created_at))
                self.calls[call_id] = _OpenVoiceCall(row.agent, started)
        if self.calls:
            log.info("%d VoiceCalls open at the last stop, resumed", len(self.calls))

    async def aclose(self) -> None:
        return None

    async def is_voice_call(self, call_id: str) -> bool:
        """Whether the call became a VoiceCall (then it is not logged as a Task too)."""
        if call_id in self.calls:
            return True
        return await self.store.outbox_row(write_key("voice_create", call_id)) is not None

    def _lock(self, agent: str) -> asyncio.Lock:
        lock = self._locks.get(agent)
        if lock is None:
            lock = self._locks[agent] = asyncio.Lock()
        return lock

    def _concerns(self, call: Call) -> bool:
        """Whether the call is (or becomes) a VoiceCall: decided without waiting on anything."""
        if call.call_id in self.calls:
            return True
        if call.state == CallState.CLEARED or not self.seats.is_voice(call.agent):
            return False
        # An internal call is a VoiceCall only when it carries a Voice call's customer on (a
        # consultation the other agent completed as a transfer).
        return voice_call(call) or bool(self._parent(call, take=False)[0])

    async def observe(self, call: Call) -> None:
        """Follow one change of one agent's call."""
        if not self._concerns(call):
            return
        async with self._lock(call.agent):
            entry = self.calls.get(call.call_id)
            if entry is None:
                if call.state == CallState.CLEARED:
                    return
                entry = await self._create(call)
            if entry.awaiting_pop and (call.pop is not None or call.state != CallState.RINGING):
                await self._release(call, entry)
            now = self.clock()
            entry.holds = entry.holds.follow(call.state, now)
            if call.answered_at is not None:
                entry.answered_at = call.answered_at
            if call.state == CallState.CLEARED:
                await self._end(call.call_id, entry, now, clear_routing=missed(call))
                if handed_on(call) and not entry.handed_to:
                    ended = _Ended(call.call_id, entry.global_call_id, entry.number, now)
                    self._handed_on.append(ended)

    async def close_missing(self, present: dict[str, set[str]]) -> None:
        """After a resync: VoiceCalls still open here that the PBX no longer has, ended."""
        gone = [
            (call_id, entry.agent)
            for call_id, entry in self.calls.items()
            if call_id not in present.get(entry.agent, set())
        ]
        for call_id, agent in gone:
            async with self._lock(agent):
                entry = self.calls.get(call_id)
                if entry is None:
                    continue
                log.info("VoiceCall ended while we were away [call_id=%s]", call_id)
                await self._end(call_id, entry, self.clock(), clear_routing=False)

    async def _create(self, call: Call) -> _OpenVoiceCall:
        parent, customer = self._parent(call, take=True)
        entry = _OpenVoiceCall(
            call.agent,
            call.started_at,
            queue=call.queue,
            number=customer or caller(call),
            global_call_id=call.global_call_id,
            parent=parent,
            # A ring is looked up (Lookups.look_up): what it finds is worth a moment's wait.
            awaiting_pop=call.state == CallState.RINGING and call.pop is None and not call.placed,
        )
        now = self.clock()
        due = now + LOOKUP_GRACE_SECONDS if entry.awaiting_pop else None
        key = write_key("voice_create", call.call_id)
        write = OutboxWrite(key, "voice_create", self._create_fields(call, entry), due)
        await self.store.enqueue(call.agent, [write], now)
        self.calls[call.call_id] = entry
        log.info(
            "VoiceCall queued [call_id=%s agent=%s parent=%s]", call.call_id, call.agent, parent
        )
        if due is None:
            self.queued()
        else:
            asyncio.get_running_loop().call_later(LOOKUP_GRACE_SECONDS, self.queued)
        return entry

    def _create_fields(self, call: Call, entry: _OpenVoiceCall) -> dict[str, Any]:
        body = create_body(
            call,
            call_center=self.call_center,
            agent_number=call.device,
            parent_key=entry.parent,
            customer=entry.number if entry.parent else "",
        )
        # Kept with the row (and never sent) so that a restarted proxy ends it with its start.
        return {**body, "_started_at": call.started_at}

    async def _release(self, call: Call, entry: _OpenVoiceCall) -> None:
        """The lookup is done (or the ring is over): the create goes now, with the matches."""
        entry.awaiting_pop = False
        key = write_key("voice_create", call.call_id)
        if await self.store.release(key, self._create_fields(call, entry), self.clock()):
            self.queued()

    async def _end(
        self, call_id: str, entry: _OpenVoiceCall, now: float, *, clear_routing: bool
    ) -> None:
        body = end_body(
            started_at=entry.started_at,
            ended_at=now,
            answered_at=entry.answered_at,
            queue=entry.queue,
            holds=entry.holds,
        )
        writes = [OutboxWrite(write_key("voice_end", call_id), "voice_end", body)]
        if clear_routing:
            writes.append(OutboxWrite(write_key("voice_clear", call_id), "voice_clear", {}))
        await self.store.enqueue(entry.agent, writes, now)
        del self.calls[call_id]
        log.info("VoiceCall end queued [call_id=%s missed=%s]", call_id, clear_routing)
        self.queued()

    def _parent(self, call: Call, *, take: bool) -> tuple[str, str]:
        """The VoiceCall this call continues (a transfer to this agent) and its customer's
        number, or ("", ""); `take`: a parent has one child, so it is not found again.

        The agents' updates run side by side, so the first agent's end may come before or
        after this ring: a Voice call that just went on elsewhere is a parent, and so is one
        still open at another agent with the same customer (or the PBX's global call id)."""
        if call.placed:
            return "", ""
        now = self.clock()
        self._handed_on = [e for e in self._handed_on if now - e.ended_at < TRANSFER_SECONDS]
        numbers = {n for n in (caller(call), *(p.number for p in call.parties)) if n}
        same = call.global_call_id

        def matches(number: str, global_call_id: str) -> bool:
            return (bool(same) and global_call_id == same) or number in numbers

        for ended in reversed(self._handed_on):
            if matches(ended.number, ended.global_call_id):
                if take:
                    self._handed_on.remove(ended)
                return ended.call_id, ended.number
        for call_id, entry in self.calls.items():
            if entry.agent == call.agent or entry.handed_to or entry.answered_at is None:
                continue
            if matches(entry.number, entry.global_call_id):
                if take:
                    entry.handed_to = call.call_id
                return call_id, entry.number
        return "", ""

    async def status(self, agent: str, call_id: str) -> tuple[str, str]:
        """Where the agent's call stands as a VoiceCall: ("none" | "pending" | "written" |
        "dead", its Salesforce id once written). Another agent's call is "none"."""
        row = await self.store.outbox_row(write_key("voice_create", call_id))
        if row is None or row.agent != agent:
            return "none", ""
        return row.state, row.task_id
