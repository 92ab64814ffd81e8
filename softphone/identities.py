"""Who is who: agents (roster entries) and devices (what the PBX knows), calls and their ids.

Links speak devices and PBX call ids; pages, the call machines and the journal speak agent
addresses and the proxy's own call ids. `Identities` is the one translation between the two,
used by the switchboard on the way in (every link event) and on the way out (every command).

- A regular or ACD agent holds their roster extension at all times; a hot-desk agent holds the
  device they signed in at, until they sign out. Two agents never hold one device.
- A device nobody holds keeps its calls under its own key (`dev:<device>`), which no agent can
  sign in as: the calls are there for whoever takes the device next.
- The proxy gives each call at each device its own id when first seen, because PBXs reuse
  their ids (after a restart, on wrap-around, across days). The id lives as long as the PBX's
  call at that device; the same PBX id seen again later is a new call with a new id.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from softphone.errors import CommandRefused
from softphone.events import AgentEvent, CallEvent, LinkEvent, Snapshot

AgentKind = Literal["regular", "hot_desk", "acd"]
DEVICE_PREFIX = "dev:"
_EXTENSION = re.compile(r"^[0-9]{1,16}$")
# Crockford's base32 alphabet in ascending order, so ids sort by the time they were made.
_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
_ENDS = frozenset({"transferred", "diverted", "failed", "cleared"})


def _base32(value: int, width: int) -> str:
    chars = []
    for _ in range(width):
        value, digit = divmod(value, 32)
        chars.append(_ALPHABET[digit])
    return "".join(reversed(chars))


def new_call_id(now: Callable[[], float] = time.time) -> str:
    """`c` + milliseconds since 1970 (10 chars) + 40 random bits (8 chars): short, unique,
    sortable by time, and without '@', so it never equals a CallObject of the old form."""
    millis = int(now() * 1000)
    return "c" + _base32(millis, 10) + _base32(secrets.randbits(40), 8)


@dataclass(frozen=True)
class RosterEntry:
    """What the mapping needs of an agent: their address, kind and roster extension."""

    address: str
    extension: str
    kind: AgentKind


@dataclass(frozen=True)
class Move:
    """The calls at `device` now belong to `to` instead of `from_` (both agent or device keys)."""

    device: str
    from_: str
    to: str


def device_key(device: str) -> str:
    return DEVICE_PREFIX + device


class Identities:
    """The agent <-> device mapping and the proxy call id <-> (device, PBX call id) mapping."""

    def __init__(self, new_id: Callable[[], str] = new_call_id) -> None:
        self._new_id = new_id
        self._roster: dict[str, RosterEntry] = {}
        self._seats: dict[str, str] = {}  # hot-desk address -> the device they signed in at
        self._holders: dict[str, str] = {}  # device -> the address holding it
        self._calls: dict[tuple[str, str], str] = {}  # (device, PBX id) -> proxy id
        self._pbx: dict[str, tuple[str, str]] = {}  # proxy id -> (device, PBX id)

    # --- agents and devices ----------------------------------------------------------------
    def set_roster(self, entries: Iterable[RosterEntry]) -> list[Move]:
        """Replace the roster; the calls that change hands as a result."""
        self._roster = {e.address: e for e in entries}
        self._seats = {
            a: d for a, d in self._seats.items() if self.kind(a) == "hot_desk"
        }  # a hot-desk agent taken off the roster leaves their seat
        return self._rebuild()

    def sit(self, address: str, device: str = "") -> tuple[str, list[Move]]:
        """A hot-desk agent takes `device` (their roster extension when empty).

        Returns the device and the calls that change hands; `CommandRefused` when the agent
        is not hot-desk, the extension is not one, or another agent holds it.
        """
        entry = self._roster.get(address)
        if entry is None:
            raise CommandRefused("not_on_roster", "This agent is not on the roster")
        if entry.kind != "hot_desk":
            raise CommandRefused(
                "not_hot_desk", "Only hot-desk agents choose an extension at sign-in"
            )
        device = device or entry.extension
        if not _EXTENSION.match(device):
            raise CommandRefused("bad_extension", "An extension is 1 to 16 digits")
        holder = self._holders.get(device)
        if holder is not None and holder != address:
            raise CommandRefused(
                "extension_taken", f"Extension {device} is in use by another agent"
            )
        self._seats[address] = device
        return device, self._rebuild()

    def stand(self, address: str) -> tuple[str, list[Move]]:
        """A hot-desk agent leaves their device: the device and the calls that change hands."""
        device = self._seats.pop(address, "")
        return device, self._rebuild() if device else []

    def _rebuild(self) -> list[Move]:
        before = dict(self._holders)
        holders: dict[str, str] = {}
        # Desk phones first, by address, so a roster listing one extension twice is settled the
        # same way every time; hot-desk seats were checked against them when taken.
        for entry in sorted(self._roster.values(), key=lambda e: e.address):
            if entry.kind != "hot_desk":
                holders.setdefault(entry.extension, entry.address)
        for address, device in sorted(self._seats.items()):
            if holders.setdefault(device, address) != address:
                del self._seats[address]  # a desk agent was added on this device: they win
        self._holders = holders
        moves = []
        for device in sorted(set(before) | set(holders)):
            old, new = self.key(device, before), self.key(device, holders)
            if old != new:
                moves.append(Move(device, old, new))
        return moves

    def key(self, device: str, holders: dict[str, str] | None = None) -> str:
        """Whose calls a device's calls are: its holder's address, else the device's own key."""
        holder = (self._holders if holders is None else holders).get(device)
        return holder if holder is not None else device_key(device)

    def device_of(self, address: str) -> str:
        """The device an agent holds now, or "" (a hot-desk agent not signed in anywhere)."""
        entry = self._roster.get(address)
        if entry is None:
            return ""
        if entry.kind == "hot_desk":
            return self._seats.get(address, "")
        return entry.extension if self._holders.get(entry.extension) == address else ""

    def kind(self, address: str) -> AgentKind | None:
        entry = self._roster.get(address)
        return entry.kind if entry is not None else None

    def seats(self) -> dict[str, str]:
        """Every hot-desk seat held now: address -> device."""
        return dict(self._seats)

    def devices(self) -> frozenset[str]:
        """What links must monitor: every roster extension and every hot-desk seat."""
        return frozenset(e.extension for e in self._roster.values()) | frozenset(
            self._seats.values()
        )

    # --- calls -----------------------------------------------------------------------------
    def call_id(self, device: str, pbx_id: str) -> str:
        """The proxy's id for the PBX's call at `device`, made when first seen."""
        key = (device, pbx_id)
        proxy_id = self._calls.get(key)
        if proxy_id is None:
            proxy_id = self._calls[key] = self._new_id()
            self._pbx[proxy_id] = key
        return proxy_id

    def seed(self, device: str, pbx_id: str, proxy_id: str) -> None:
        """A call the proxy had before it restarted keeps the id it had (from its log)."""
        if device and pbx_id and (device, pbx_id) not in self._calls:
            self._calls[(device, pbx_id)] = proxy_id
            self._pbx[proxy_id] = (device, pbx_id)

    def known(self, device: str, pbx_id: str) -> str | None:
        """The proxy's id for a call in progress, without making one."""
        return self._calls.get((device, pbx_id))

    def pbx_call(self, proxy_id: str) -> tuple[str, str] | None:
        """The (device, PBX id) of a call in progress, else None."""
        return self._pbx.get(proxy_id)

    def renew(self, proxy_id: str) -> str:
        """The call goes on under a new id (it changed agents: each agent's log of it is its
        own Task, and CallObject stays the call id); the old id no longer names it."""
        found = self._pbx.pop(proxy_id, None)
        if found is None:
            return proxy_id
        new_id = self._calls[found] = self._new_id()
        self._pbx[new_id] = found
        return new_id

    def calls_at(self, device: str) -> list[str]:
        return [p for (d, _), p in self._calls.items() if d == device]

    def _forget(self, device: str, pbx_id: str) -> None:
        proxy_id = self._calls.pop((device, pbx_id), None)
        if proxy_id is not None:
            self._pbx.pop(proxy_id, None)

    # --- the two crossings ------------------------------------------------------------------
    def inbound(self, event: LinkEvent) -> LinkEvent:
        """A link's event in the proxy's terms: agent keys for devices, proxy ids for PBX ids.

        A call's end forgets its PBX id; a snapshot forgets every call it no longer lists.
        """
        if isinstance(event, AgentEvent):
            return self._agent(event)
        if isinstance(event, Snapshot):
            calls = tuple(self._call(c) for c in event.calls)
            listed = {(c.agent, c.call_id) for c in event.calls}
            for device, pbx_id in [k for k in self._calls if k not in listed]:
                self._forget(device, pbx_id)
            agents = tuple(self._agent(a) for a in event.agents)
            return event.model_copy(update={"calls": calls, "agents": agents})
        mapped = self._call(event)
        if event.kind in _ENDS:
            self._forget(event.agent, event.call_id)
        return mapped

    def _agent(self, event: AgentEvent) -> AgentEvent:
        return event.model_copy(update={"agent": self.key(event.agent)})

    def _call(self, event: CallEvent) -> CallEvent:
        device = event.agent
        if event.kind in _ENDS and (device, event.call_id) not in self._calls:
            proxy_id = self._new_id()  # the end of a call never seen: nothing to remember
        else:
            proxy_id = self.call_id(device, event.call_id)
        consult_of = self.call_id(device, event.consult_of) if event.consult_of else ""
        return event.model_copy(
            update={
                "agent": self.key(device),
                "device": device,
                "call_id": proxy_id,
                "pbx_call_id": event.call_id,
                "consult_of": consult_of,
            }
        )

    def outbound(self, address: str, call_id: str = "") -> tuple[str, str]:
        """The device and PBX call id an agent's command is for; `CommandRefused` when the
        agent holds no device or the call is not at it."""
        device = self.device_of(address)
        if not device:
            raise CommandRefused("no_extension", "Sign in at an extension first")
        if not call_id:
            return device, ""
        found = self._pbx.get(call_id)
        if found is None or found[0] != device:
            raise CommandRefused("no_such_call", "That call is not one of your calls")
        return device, found[1]
