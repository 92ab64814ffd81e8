"""What pages see of calls and agent state, and the publishing of it in sequence.

A call's log is saved before its update is published (except a first ring, whose pop is the
hurry), so no page is ever shown an answered or ended call that the log does not have.
"""

from __future__ import annotations

from collections.abc import Callable

from proxy.agents.feed import AgentFeed
from proxy.agents.journal import CallJournal
from proxy.agents.lanes import AgentLanes
from proxy.agents.pages import Pages
from proxy.agents.recall import CallMemory, Facts, NoMemory, facts_of
from proxy.agents.states import AgentStates
from proxy.agents.voice import VoiceJournal
from proxy.links import CtiLink
from softphone.calls import Call
from softphone.events import CallState
from softphone.identities import DEVICE_PREFIX
from softphone.messages.to_page import AgentUpdate, CallUpdate, CallView, StatusView


class AgentViews:
    def __init__(
        self,
        states: AgentStates,
        pages: Pages,
        feed: AgentFeed,
        journal: CallJournal,
        link: CtiLink,
        *,
        region: str,
        reason_codes: tuple[str, ...] = (),
        acd_groups: tuple[str, ...] = (),
        voice: VoiceJournal | None = None,
        memory: CallMemory | None = None,
    ) -> None:
        self.states = states
        self.pages = pages
        self.feed = feed
        self.journal = journal
        self.link = link  # what it can do, shown with each agent's status
        self.region = region
        self.reason_codes = reason_codes
        self.acd_groups = acd_groups
        self.voice = voice
        # What pages were shown of each call, for the next link holder (proxy/agents/recall.py).
        self.memory: CallMemory = memory or NoMemory()
        self._remembered: dict[str, Facts] = {}
        # Each agent's updates in order; switchboard and lookups submit here, never publish
        # around it, so a pop can never overtake the ring or the answer before it.
        self.lanes = AgentLanes()

    def status_view(self, agent: str) -> StatusView:
        status = self.states.status(agent)
        return StatusView(
            kind=self.states.profile(agent).kind,
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
        calls = self.states.machine(agent).calls.values()
        owner = self.pages.pop_owner(agent)
        return self.feed.seq(agent), tuple(CallView.of(c, self.region, owner) for c in calls)

    async def publish_call(self, call: Call, then: Callable[[], None] | None = None) -> None:
        """Publish the call (saving its log first, except for a ring); `then` runs as soon as
        the pages have it, before the log is written (the ring's lookup starts there)."""
        view = CallView.of(call, self.region, self.pages.pop_owner(call.agent))
        # A ring reaches the pages before its log is saved: the pop is the hurry, and a call
        # that only rang is not logged unless missed calls are (and then the PBX's snapshot
        # after a restart brings it back). Anything later is saved first, so no answered or
        # ended call is ever shown that the log does not have.
        first_ring = call.state in (CallState.RINGING, CallState.DIALING)
        # A device nobody holds keeps its calls, but they are nobody's to log.
        logged = not call.agent.startswith(DEVICE_PREFIX)
        if logged and self.voice is not None:
            # Queued before any page hears of the call, so the VoiceCall that Salesforce
            # looks for when the connector says the phone rings is on its way.
            await self.voice.observe(call)
        if logged and not first_ring:
            await self.journal.observe(call)
        await self.feed.publish(call.agent, lambda seq: CallUpdate(seq=seq, call=view))
        if then is not None:
            then()
        if logged and first_ring:
            await self.journal.observe(call)
        await self._remember(call)

    async def publish_ended(self, call: Call) -> None:
        """Clear from pages a call this process never had (it ended during a takeover): its
        log was closed by the journal's own account; only the screens need telling."""
        view = CallView.of(call, self.region, self.pages.pop_owner(call.agent))
        await self.feed.publish(call.agent, lambda seq: CallUpdate(seq=seq, call=view))
        self._remembered.pop(call.call_id, None)
        await self.memory.forget(call.call_id)

    async def _remember(self, call: Call) -> None:
        """Keep what the next link holder could not learn from the PBX, when it changed."""
        if isinstance(self.memory, NoMemory):
            return  # one node: there is no next holder
        if call.state == CallState.CLEARED:
            if self._remembered.pop(call.call_id, None) is not None:
                await self.memory.forget(call.call_id)
            return
        facts = facts_of(call)
        if self._remembered.get(call.call_id) != facts:
            self._remembered[call.call_id] = facts
            await self.memory.remember(call.call_id, facts)

    async def resynced(self, present: dict[str, set[str]]) -> None:
        """After a resync: the calls the PBX no longer has are over, for logs and VoiceCalls."""
        await self.journal.close_missing(present)
        if self.voice is not None:
            await self.voice.close_missing(present)

    async def publish_status(self, agent: str) -> None:
        view = self.status_view(agent)
        await self.feed.publish(agent, lambda seq: AgentUpdate(seq=seq, status=view))
