"""The call journal: every call an agent has, from its first event to a queued Task.

It keeps a `CallLog` per agent call, saved to the store when the call starts, is answered and
ends, so a proxy killed at any moment finds its unfinished logs again at start. A call that
ends enters wrap-up; wrap-up ends with the agent's wrap-up action, when the PBX's work timer
ends, or when the wrap-up time runs out (never while the agent is still in work). Then the log
and its Task rows are committed in one transaction and the Task writer is woken.

Saving never holds up the rings: a ring's log is saved with the next group commit (nobody
waits), an answer's and an end's before the page is told, and each agent's journal has its own
lock, so one agent's wait for the database is no other agent's.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace

from proxy.agents.commits import GroupCommit
from proxy.agents.desk import AgentDesk
from proxy.agents.feed import AgentFeed
from proxy.seams import BackgroundLoop, Resource
from proxy.store import Store
from softphone.agentdata import HistoryEntry
from softphone.calllog import (
    CallLog,
    WrapUpRules,
    check_codes,
    check_wrap_up,
    follow_up_fields,
    outcome,
    pick,
    should_log,
    task_fields,
    with_codes,
    with_notes,
)
from softphone.calls import Call
from softphone.errors import CommandRefused
from softphone.events import CallState
from softphone.messages.to_page import LogUpdate, LogView
from softphone.pops import RecordRef

log = logging.getLogger(__name__)
TICK_SECONDS = 1.0
# However long the agent stays in work, a call is logged at most this long after it ended.
WRAP_UP_CAP_SECONDS = 3600.0
Key = tuple[str, str]


class CallJournal(Resource):
    def __init__(
        self,
        store: Store,
        feed: AgentFeed,
        desk: AgentDesk,
        *,
        rules: WrapUpRules,
        wrap_up_seconds: float,
        region: str,
        in_work: Callable[[str], bool] = lambda agent: False,
        queued: Callable[[], None] = lambda: None,
        clock: Callable[[], float] = time.time,
        voice_call: Callable[[str], Awaitable[bool]] | None = None,
    ) -> None:
        self.store = store
        self.feed = feed
        self.desk = desk
        self.rules = rules
        self.wrap_up_seconds = wrap_up_seconds
        self.region = region
        self.in_work = in_work
        self.queued = queued
        self.clock = clock
        # Salesforce Voice records a VoiceCall's call itself: it gets no Task (see agents/voice).
        self.voice_call = voice_call
        self.logs: dict[Key, CallLog] = {}
        self.commits = GroupCommit(store, clock=clock)
        self._locks: dict[str, asyncio.Lock] = {}
        self._ticker = BackgroundLoop(
            "journal wrap-up timer", self._tick, log=log, first_backoff=TICK_SECONDS
        )

    async def start(self) -> None:
        for unfinished in await self.store.unfinished_call_logs():
            self.logs[(unfinished.agent, unfinished.call_id)] = unfinished
        if self.logs:
            log.info("%d call logs unfinished at the last stop, resumed", len(self.logs))
        await self._ticker.start()

    async def aclose(self) -> None:
        await self._ticker.aclose()
        await self.commits.aclose()

    def _lock(self, agent: str) -> asyncio.Lock:
        lock = self._locks.get(agent)
        if lock is None:
            lock = self._locks[agent] = asyncio.Lock()
        return lock

    def views(self, agent: str) -> tuple[LogView, ...]:
        return tuple(
            LogView.of(entry, self.region) for (a, _), entry in self.logs.items() if a == agent
        )

    # --- calls as the switchboard sees them ----------------------------------------------
    async def observe(self, call: Call) -> None:
        """Follow one change of a call; saved before the pages hear of it when it matters."""
        async with self._lock(call.agent):
            key = (call.agent, call.call_id)
            current = self.logs.get(key)
            if current is None:
                if call.state == CallState.CLEARED or call.consult_of:
                    return  # a consultation is part of the call it consults for
                current = CallLog(
                    call_id=call.call_id,
                    agent=call.agent,
                    direction=call.direction,
                    placed=call.placed,
                    number=_other_number(call),
                    started_at=call.started_at,
                    answered_at=call.answered_at,
                    queue=call.queue,
                    call_data=call.call_data,
                    device=call.device,
                    pbx_call_id=call.pbx_call_id,
                )
                self.logs[key] = current
                self.commits.save_soon(current)
                await self._publish(current)  # the pages can take notes from the first ring
            if current.state != "open":
                return
            updated = current
            if call.pop is not None and call.pop.matches and not current.matches:
                updated = replace(updated, matches=call.pop.matches)
            if call.answered_at is not None and current.answered_at is None:
                updated = replace(updated, answered_at=call.answered_at)
                await self.commits.save(updated)
            if call.state == CallState.CLEARED:
                await self._end(updated, call.reason)
            elif updated != current:
                self.logs[key] = updated

    async def close_missing(self, present: dict[str, set[str]]) -> None:
        """After a resync: calls the journal still has open but the PBX has not, ended."""
        gone = [
            entry
            for (agent, call_id), entry in self.logs.items()
            if entry.state == "open" and call_id not in present.get(agent, set())
        ]
        for entry in gone:
            async with self._lock(entry.agent):
                current = self.logs.get((entry.agent, entry.call_id))
                if current is None or current.state != "open":
                    continue
                log.info("call ended while we were away [call_id=%s]", entry.call_id)
                await self._end(current, "gone")

    async def _end(self, entry: CallLog, reason: str) -> None:
        now = self.clock()
        policy = await self.desk.log_policy(entry.agent)
        ended = replace(entry, ended_at=now, end_reason=reason)
        logged = should_log(ended, policy)
        wrap_up = self.wrap_up_seconds if logged else 0.0
        ended = replace(
            ended,
            state="wrapping" if logged else "skipped",
            wrap_up_until=now + wrap_up if logged else None,
        )
        entry_history = _history(ended, now)
        await self.commits.save(ended, entry_history)
        key = (entry.agent, entry.call_id)
        if logged:
            self.logs[key] = ended
        else:
            self.logs.pop(key, None)
        await self._publish(ended)
        await self.desk.call_ended(entry.agent, entry_history)
        if logged and wrap_up <= 0:
            await self._queue(ended, "auto")

    # --- what the agent does --------------------------------------------------------------
    def _mine(self, agent: str, call_id: str) -> CallLog:
        entry = self.logs.get((agent, call_id))
        if entry is None:
            raise CommandRefused("no_such_call", "That call is not one of your calls to log")
        return entry

    async def save_notes(
        self, agent: str, call_id: str, notes: str, quick_notes: tuple[str, ...]
    ) -> None:
        async with self._lock(agent):
            entry = with_notes(self._mine(agent, call_id), notes, quick_notes)
            await self._keep(entry)

    async def pick(self, agent: str, call_id: str, record: RecordRef | None) -> None:
        async with self._lock(agent):
            entry = pick(self._mine(agent, call_id), record)
            await self._keep(entry)

    async def set_codes(
        self, agent: str, call_id: str, classification: str, account_code: str
    ) -> None:
        check_codes(self.rules, classification, account_code)
        async with self._lock(agent):
            entry = with_codes(self._mine(agent, call_id), classification, account_code)
            await self._keep(entry)

    async def wrap_up(
        self, agent: str, call_id: str, action: str, classification: str, account_code: str
    ) -> str:
        """Finish wrap-up now; what the page should do next ("new_task" or "")."""
        async with self._lock(agent):
            entry = self._mine(agent, call_id)
            if entry.state == "open":
                raise CommandRefused("call_in_progress", "End the call before saving it")
            chosen = check_wrap_up(entry, self.rules, action, classification, account_code)
            entry = replace(
                entry,
                action=chosen.id,
                action_label=chosen.label,
                classification=classification,
                account_code=account_code,
            )
            then = "new_task" if chosen.new_task else ""
            await self._queue(entry, chosen.id, follow_up_days=chosen.follow_up_days, then=then)
            return then

    def check_cancel_work(self, agent: str) -> None:
        """A required classification code blocks cancelling the work timer until chosen."""
        if not self.rules.classification_required:
            return
        for (owner, _), entry in self.logs.items():
            if owner == agent and entry.state == "wrapping" and not entry.classification:
                raise CommandRefused(
                    "classification_required", "Choose a classification code first"
                )

    async def work_ended(self, agent: str) -> None:
        """The PBX's work timer ended: the agent's calls in wrap-up are logged as they are."""
        async with self._lock(agent):
            for (owner, _), entry in list(self.logs.items()):
                if owner == agent and entry.state == "wrapping":
                    await self._queue(entry, entry.action or "auto")

    async def _keep(self, entry: CallLog) -> None:
        self.logs[(entry.agent, entry.call_id)] = entry
        await self.commits.save(entry)
        await self._publish(entry)

    async def _queue(
        self, entry: CallLog, action: str, *, follow_up_days: int | None = None, then: str = ""
    ) -> None:
        agent = await self.store.get_agent(entry.agent)
        owner = agent.salesforce_user_id if agent is not None else ""
        policy = await self.desk.log_policy(entry.agent)
        task = task_fields(entry, policy, self.region, owner)
        tasks = [task]
        if follow_up_days is not None:
            tasks.append(follow_up_fields(entry, task, follow_up_days, owner))
        if self.voice_call is not None and await self.voice_call(entry.call_id):
            tasks = []
        queued = replace(entry, state="queued", action=action)
        await self.commits.queue(queued, tasks)
        self.logs.pop((entry.agent, entry.call_id), None)
        log.info("call log queued [call_id=%s agent=%s]", entry.call_id, entry.agent)
        await self._publish(queued, then)
        self.queued()

    async def _publish(self, entry: CallLog, then: str = "") -> None:
        view = LogView.of(entry, self.region)
        await self.feed.publish(entry.agent, lambda seq: LogUpdate(seq=seq, log=view, then=then))

    async def _tick(self) -> None:
        await asyncio.sleep(TICK_SECONDS)
        await self.finish_due()

    async def finish_due(self) -> None:
        """Log the calls whose wrap-up time is over (unless the agent is still in work)."""
        now = self.clock()
        for key, entry in list(self.logs.items()):
            if not self._due(entry, now):
                continue
            async with self._lock(entry.agent):
                current = self.logs.get(key)  # the agent may have wrapped it up meanwhile
                if current is not None and self._due(current, now):
                    await self._queue(current, current.action or "auto")

    def _due(self, entry: CallLog, now: float) -> bool:
        until = entry.wrap_up_until
        if entry.state != "wrapping" or until is None or now < until:
            return False
        return not (self.in_work(entry.agent) and now < until + WRAP_UP_CAP_SECONDS)


def _other_number(call: Call) -> str:
    if call.placed:
        return call.dnis or (call.parties[0].number if call.parties else "")
    return call.ani or (call.parties[0].number if call.parties else "")


def _history(entry: CallLog, now: float) -> HistoryEntry:
    record = entry.record or (entry.matches[0] if entry.matches else None)
    answered = entry.answered_at
    return HistoryEntry(
        call_id=entry.call_id,
        direction=entry.direction.value,
        outcome=outcome(entry),
        placed=entry.placed,
        number=entry.number,
        name=record.name if record else "",
        object=record.object if record else "",
        record_id=record.id if record else "",
        started_at=entry.started_at,
        duration=0.0 if answered is None else max(0.0, now - answered),
    )
