"""Who holds which device: the roster, hot-desk sign-in and sign-out, and the devices links
monitor. The mapping itself is the core's (`softphone.identities`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import replace

from proxy.agents.journal import CallJournal
from proxy.agents.lookups import Lookups
from proxy.agents.roster import roster_devices
from proxy.agents.states import AgentStates
from proxy.agents.views import AgentViews
from proxy.errors import LinkError
from proxy.links import CtiLink, LinkCommand
from proxy.store import AgentRecord, Store
from softphone.events import CallState
from softphone.identities import Identities, Move, RosterEntry

log = logging.getLogger(__name__)


class Seating:
    def __init__(
        self,
        identities: Identities,
        link: CtiLink,
        store: Store,
        states: AgentStates,
        views: AgentViews,
        lookups: Lookups,
        journal: CallJournal,
    ) -> None:
        self.identities = identities
        self.link = link
        self.store = store
        self.states = states
        self.views = views
        self.lookups = lookups
        self.journal = journal
        self._loaded = False
        self._monitored: frozenset[str] | None = None

    def device_of(self, address: str) -> str:
        """The device the agent holds now ("" for none)."""
        return self.identities.device_of(address)

    async def load_identities(self) -> None:
        """At start: the whole roster (so a device's calls are its agent's even while nobody is
        signed in), and the ids of the calls the proxy had when it stopped (from their logs)."""
        agents = await self.store.list_agents()
        self.identities.set_roster(_entries(agents))
        extensions = {a.address: a.extension for a in agents}
        for entry in self.journal.logs.values():
            if entry.state != "open":
                continue
            if entry.pbx_call_id:
                self.identities.seed(entry.device, entry.pbx_call_id, entry.call_id)
            else:  # a log from before the proxy's own ids: its key was the PBX's id
                device = extensions.get(entry.agent, "")
                self.identities.seed(device, entry.call_id, entry.call_id)
        self._loaded = True
        await self._monitor()

    async def roster_changed(self, agents: Sequence[AgentRecord]) -> None:
        """The roster was edited (agents add, remove, import): devices change hands at once."""
        if not self._loaded:  # before start: the link's first connect monitors the roster
            await self.link.monitor(roster_devices(agents))
            return
        await self._rehome(self.identities.set_roster(_entries(agents)))
        await self._monitor()

    async def reload_roster(self) -> None:
        await self.roster_changed(await self.store.list_agents())

    async def sit(self, address: str, extension: str = "") -> str:
        """A hot-desk agent signs in at `extension` (their roster one when empty): they hold it
        and the PBX logs that phone in. `CommandRefused` when they may not, `LinkError` when
        the PBX will not (and then they hold nothing)."""
        before = self.identities.device_of(address)
        device, moves = self.identities.sit(address, extension)
        await self._rehome(moves)
        await self._monitor()
        if device == before:
            return device
        try:
            await self.link.send(LinkCommand(op="login", agent=device, number=device))
        except LinkError:
            await self.stand(address, log_out=False)
            raise
        return device

    async def stand(self, address: str, *, log_out: bool = True) -> None:
        """A hot-desk agent signs out: their device is free again, its calls stay with it."""
        device, moves = self.identities.stand(address)
        if not device:
            return
        await self._rehome(moves)
        await self._monitor()
        if log_out:
            try:
                await self.link.send(LinkCommand(op="logout", agent=device))
            except LinkError as exc:  # signing out never fails for the PBX's sake
                log.warning("phone %s not logged out: %s", device, exc)

    async def _rehome(self, moves: list[Move]) -> None:
        """Calls (and the device's status) go to the device's new holder: cleared for the old
        one, whose log of them ends, and new for the next, with a pop if still ringing."""
        for move in moves:
            for call_id in self.identities.calls_at(move.device):
                call = self.states.machine(move.from_).calls.pop(call_id, None)
                if call is None:
                    continue
                gone = replace(call, state=CallState.CLEARED, reason="moved")
                await self.views.publish_call(gone)
                moved = replace(call, agent=move.to)
                self.states.machine(move.to).calls[call_id] = moved
                await self.views.publish_call(moved, then=self.lookups.look_up(moved))
            status = self.states.statuses.pop(move.from_, None)
            if status is not None:
                self.states.statuses[move.to] = status
                await self.views.publish_status(move.to)

    async def _monitor(self) -> None:
        devices = self.identities.devices()
        if devices != self._monitored:
            self._monitored = devices
            await self.link.monitor(devices)


def _entries(agents: Iterable[AgentRecord]) -> list[RosterEntry]:
    return [RosterEntry(a.address, a.extension, a.kind) for a in agents]
