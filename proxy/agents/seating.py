"""Who holds which device: the roster, hot-desk sign-in and sign-out, and the devices links
monitor. The mapping itself is the core's (`softphone.identities`).

Hot-desk seats are kept in the store (`agent_seats`, one agent per device by a UNIQUE
constraint), so a restarted proxy gives each signed-in agent the phone they sat at, and two
proxies sharing a database never seat two agents at one phone. A seat ends with its agent's
last session: at sign-out, at expiry (checked every `SEAT_CHECK_SECONDS`), or when the agent
leaves the roster.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import Literal

from proxy.agents.journal import CallJournal
from proxy.agents.lookups import Lookups
from proxy.agents.roster import roster_devices
from proxy.agents.states import AgentStates
from proxy.agents.views import AgentViews
from proxy.errors import LinkError
from proxy.links import CtiLink, LinkCommand
from proxy.seams import BackgroundLoop, Resource
from proxy.store import AgentRecord, Store
from softphone.errors import CommandRefused
from softphone.events import CallState
from softphone.identities import DEVICE_PREFIX, Identities, Move, RosterEntry

log = logging.getLogger(__name__)
# How often seats whose agent has no session left are freed. Sessions last hours, so a phone
# held half a minute past its session's end costs nothing; one indexed query per check.
SEAT_CHECK_SECONDS = 30.0


class Seating(Resource):
    def __init__(
        self,
        identities: Identities,
        link: CtiLink,
        store: Store,
        states: AgentStates,
        views: AgentViews,
        lookups: Lookups,
        journal: CallJournal,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.identities = identities
        self.link = link
        self.store = store
        self.states = states
        self.views = views
        self.lookups = lookups
        self.journal = journal
        self.clock = clock
        self._loaded = False
        self._monitored: frozenset[str] | None = None
        # Seats restored at start whose phone the PBX has not been asked to log in again yet.
        self._relogin: dict[str, str] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._seat_check = BackgroundLoop("hot-desk seats", self._check_seats, log=log)

    async def start(self) -> None:
        await self.load_identities()
        await self._seat_check.start()

    async def aclose(self) -> None:
        await self._seat_check.aclose()
        tasks, self._tasks = list(self._tasks), set()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def device_of(self, address: str) -> str:
        """The device the agent holds now ("" for none)."""
        return self.identities.device_of(address)

    async def load_identities(self) -> None:
        """At start: the whole roster (so a device's calls are its agent's even while nobody is
        signed in), the hot-desk seats, and the ids of the calls the proxy had when it stopped
        (from their logs)."""
        agents = await self.store.list_agents()
        self.identities.set_roster(_entries(agents))
        await self._restore_seats()
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

    async def _restore_seats(self) -> None:
        for address, device in sorted((await self.store.list_seats()).items()):
            try:
                self.identities.sit(address, device)
            except CommandRefused as exc:  # off the roster, no longer hot-desk, a desk phone now
                log.info("seat of %s at %s not restored: %s", address, device, exc.message)
                await self.store.leave_seat(address)
                continue
            self._relogin[address] = device

    def resynced(self) -> None:
        """The link (re)connected and the PBX's state is read: restored seats' phones are
        logged in again, as a PBX that restarted with us has forgotten them."""
        if self._relogin:
            task = asyncio.create_task(self._log_in_restored(), name="hot-desk relogin")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _log_in_restored(self) -> None:
        for address, device in sorted(self._relogin.items()):
            if self.identities.device_of(address) == device:
                try:
                    await self._phone("login", device)
                except (LinkError, CommandRefused) as exc:  # tried again at the next connect
                    log.warning("phone %s of %s not logged in again: %s", device, address, exc)
                    continue
            self._relogin.pop(address, None)

    async def roster_changed(self, agents: Sequence[AgentRecord]) -> None:
        """The roster was edited (agents add, remove, import): devices change hands at once; a
        hot-desk agent taken off the roster (or made a desk agent) leaves their phone."""
        if not self._loaded:  # before start: the link's first connect monitors the roster
            await self.link.monitor(roster_devices(agents))
            return
        before = self.identities.seats()
        await self._rehome(self.identities.set_roster(_entries(agents)))
        await self._monitor()
        after = self.identities.seats()
        for address, device in sorted(before.items()):
            if address in after:
                continue
            await self.store.leave_seat(address)
            if self.identities.key(device).startswith(DEVICE_PREFIX):  # nobody else's phone now
                await self._log_out(device)

    async def reload_roster(self) -> None:
        await self.roster_changed(await self.store.list_agents())

    async def sit(self, address: str, extension: str = "") -> str:
        """A hot-desk agent signs in at `extension` (their roster one when empty): they hold it
        and the PBX logs that phone in. `CommandRefused` when they may not, `LinkError` when
        the PBX will not (and then they hold nothing)."""
        before = self.identities.device_of(address)
        device, moves = self.identities.sit(address, extension)
        if not await self.store.take_seat(address, device, self.clock()):
            # Held by an agent another proxy seated: undo our side, nothing has moved yet.
            if before:
                self.identities.sit(address, before)
            else:
                self.identities.stand(address)
            raise CommandRefused(
                "extension_taken", f"Extension {device} is in use by another agent"
            )
        await self._rehome(moves)
        await self._monitor()
        self._relogin.pop(address, None)
        if device == before:
            return device
        try:
            await self._phone("login", device)
        except LinkError:
            await self.stand(address, log_out=False)
            raise
        return device

    async def stand(self, address: str, *, log_out: bool = True) -> None:
        """A hot-desk agent signs out: their device is free again, its calls stay with it."""
        device, moves = self.identities.stand(address)
        self._relogin.pop(address, None)
        await self.store.leave_seat(address)
        if not device:
            return
        await self._rehome(moves)
        await self._monitor()
        if log_out:
            await self._log_out(device)

    async def free_seats(self, now: float | None = None) -> list[str]:
        """Hot-desk agents with no unexpired session left (signed out, expired, or their
        sessions ended elsewhere) leave their phones: the addresses freed."""
        seated = self.identities.seats().keys() | (await self.store.list_seats()).keys()
        if not seated:
            return []
        signed_in = await self.store.signed_in_agents(self.clock() if now is None else now)
        freed = sorted(seated - signed_in)
        for address in freed:
            log.info("hot-desk agent %s has no session left: their phone is free", address)
            await self.stand(address)
        return freed

    async def _check_seats(self) -> None:
        await asyncio.sleep(SEAT_CHECK_SECONDS)
        await self.free_seats()

    async def _phone(self, op: Literal["login", "logout"], device: str) -> None:
        """Log a phone in or out. A link that has no phone login (Asterisk: phones register
        themselves) just rings the device, so there is nothing to ask."""
        if self.link.capabilities.phone_login:
            number = device if op == "login" else ""
            await self.link.send(LinkCommand(op=op, agent=device, number=number))

    async def _log_out(self, device: str) -> None:
        try:
            await self._phone("logout", device)
        except (LinkError, CommandRefused) as exc:  # signing out never fails for the PBX's sake
            log.warning("phone %s not logged out: %s", device, exc)

    async def _rehome(self, moves: list[Move]) -> None:
        """Calls (and the device's status) go to the device's new holder: cleared for the old
        one, whose log of them ends, and new for the next, with a pop if still ringing.

        A call an agent had goes on under a new id: each agent's log of it is its own Task,
        and CallObject stays the call's id. A call only the device had keeps its id (nobody
        logged it)."""
        for move in moves:
            had = self.states.machine(move.from_).calls
            found = (had.pop(c, None) for c in self.identities.calls_at(move.device))
            calls = [c for c in found if c is not None]
            logged = not move.from_.startswith(DEVICE_PREFIX)
            ids = {
                c.call_id: self.identities.renew(c.call_id) if logged else c.call_id for c in calls
            }
            for call in calls:
                await self.views.publish_call(
                    replace(call, state=CallState.CLEARED, reason="moved")
                )
                consult_of = ids.get(call.consult_of, call.consult_of)
                moved = replace(
                    call, agent=move.to, call_id=ids[call.call_id], consult_of=consult_of
                )
                self.states.machine(move.to).calls[moved.call_id] = moved
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
