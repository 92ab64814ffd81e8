"""The agent's desk: settings, favorites, history and quick notes, kept in the store.

Every change is published to all of the agent's pages as a `data` message, so a favorite
starred in one Salesforce tab appears in the others, and a hot-desk agent finds the same
lists on any PC.
"""

from __future__ import annotations

from dataclasses import replace

from proxy.agents.feed import AgentFeed
from proxy.store import Store
from softphone import phone
from softphone.agentdata import (
    HISTORY_LIMITS,
    MAX_FAVORITES,
    MAX_QUICK_NOTES,
    AgentSettings,
    Favorite,
    HistoryEntry,
    history_lists,
    sort_favorites,
)
from softphone.calllog import LogPolicy
from softphone.errors import CommandRefused
from softphone.matching import MatchSettings
from softphone.messages.to_page import AgentData, DataUpdate


class AgentDesk:
    def __init__(
        self,
        store: Store,
        feed: AgentFeed,
        defaults: AgentSettings,
        *,
        quick_notes: tuple[str, ...] = (),
        log_missed: bool = False,
        log_redirected: bool = False,
        region: str = "US",
    ) -> None:
        self.region = region
        self.store = store
        self.feed = feed
        self.defaults = defaults
        self.quick_notes = quick_notes
        self.log_missed = log_missed
        self.log_redirected = log_redirected
        self._settings: dict[str, AgentSettings] = {}
        # Each agent's data as last read, kept up to date as calls end (see `call_ended`).
        self._data: dict[str, AgentData] = {}

    async def settings(self, agent: str) -> AgentSettings:
        """The agent's saved settings; the admin's defaults for anything never saved."""
        cached = self._settings.get(agent)
        if cached is None:
            saved = await self.store.get_settings(agent) or {}
            if not saved:
                # Most agents never save any: they share the defaults (frozen) instead of a
                # copy of their own each (about 1.3 KiB per agent, issue 16).
                cached = self.defaults
            else:
                try:
                    cached = AgentSettings.model_validate({**self.defaults.model_dump(), **saved})
                except ValueError:  # saved by an older version with a field since changed
                    cached = self.defaults
            self._settings[agent] = cached
        return cached

    async def match_settings(self, agent: str, base: MatchSettings) -> MatchSettings:
        """The admin's match settings with the agent's own pop choices applied."""
        mine = await self.settings(agent)
        return replace(
            base,
            phone_objects=mine.match_objects,
            pop_order=mine.pop_order,
            ivr_start_with=mine.ivr_match == "start_with",
            pop_at=mine.pop_at,
        )

    async def log_policy(self, agent: str) -> LogPolicy:
        mine = await self.settings(agent)
        return LogPolicy(
            inbound=mine.log_inbound,
            outbound=mine.log_outbound,
            internal=mine.log_internal,
            missed=self.log_missed,
            redirected=self.log_redirected,
            subject=mine.call_subject,
        )

    async def data(self, agent: str) -> AgentData:
        """The agent's data: read once, then kept up to date by every change made here (each
        goes through `changed` or `call_ended`), so a page reconnecting costs no query."""
        cached = self._data.get(agent)
        return cached if cached is not None else await self._read(agent)

    async def _read(self, agent: str) -> AgentData:
        settings = await self.settings(agent)
        favorites = sort_favorites(await self.store.list_favorites(agent))
        lists = history_lists(await self.store.list_history(agent, HISTORY_LIMITS))
        own = await self.store.list_quick_notes(agent)
        numbers = {f.number for f in favorites} | {
            e.number for entries in lists.values() for e in entries
        }
        data = AgentData(
            displays={n: phone.display(n, self.region) for n in numbers if n},
            settings=settings,
            favorites=tuple(favorites),
            history={name: tuple(entries) for name, entries in lists.items()},
            quick_notes=self.quick_notes,
            own_quick_notes=tuple(own),
        )
        self._data[agent] = data
        return data

    async def changed(self, agent: str) -> None:
        """Tell every page of the agent what their data is now."""
        data = await self._read(agent)
        await self.feed.publish(agent, lambda seq: DataUpdate(seq=seq, data=data))

    async def call_ended(self, agent: str, entry: HistoryEntry) -> None:
        """A call joined the agent's history: update the pages' lists without a database
        read (the lists are kept from the last full read). Nobody to tell: nothing to do."""
        cached = self._data.get(agent)
        if cached is None:
            return
        entries = {e.call_id: e for listed in cached.history.values() for e in listed}
        entries[entry.call_id] = entry
        lists = history_lists(list(entries.values()))
        displays = dict(cached.displays)
        if entry.number:
            displays[entry.number] = phone.display(entry.number, self.region)
        data = cached.model_copy(
            update={
                "history": {name: tuple(items) for name, items in lists.items()},
                "displays": displays,
            }
        )
        self._data[agent] = data
        await self.feed.publish(agent, lambda seq: DataUpdate(seq=seq, data=data))

    async def save_settings(self, agent: str, settings: AgentSettings) -> None:
        await self.store.put_settings(agent, settings.model_dump(mode="json"))
        self._settings[agent] = settings
        await self.changed(agent)

    async def add_favorite(self, agent: str, favorite: Favorite) -> None:
        if not await self.store.put_favorite(agent, favorite, MAX_FAVORITES):
            raise CommandRefused(
                "favorites_full", f"You have {MAX_FAVORITES} favorites; remove one to add another"
            )
        await self.changed(agent)

    async def remove_favorite(self, agent: str, number: str) -> None:
        await self.store.delete_favorite(agent, number)
        await self.changed(agent)

    async def add_quick_note(self, agent: str, text: str) -> None:
        text = text.strip()
        if not text:
            raise CommandRefused("empty", "A quick note needs some text")
        own = await self.store.list_quick_notes(agent)
        if text not in own and len(own) >= MAX_QUICK_NOTES:
            raise CommandRefused(
                "quick_notes_full", f"You have {MAX_QUICK_NOTES} quick notes; remove one first"
            )
        await self.store.add_quick_note(agent, text)
        await self.changed(agent)

    async def remove_quick_note(self, agent: str, text: str) -> None:
        await self.store.delete_quick_note(agent, text)
        await self.changed(agent)
