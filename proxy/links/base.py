"""The CTI link seam: how the proxy hears about calls and asks the PBX to act on them."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

from proxy.seams import AsyncResource
from softphone.capabilities import LinkCapabilities
from softphone.commands import CommandOp
from softphone.events import LinkEvent

# A comma starts the next address only where a scheme follows, so options may hold lists
# (`csta://pbx:1040?devices=1001,1002,csta://pbx-2:1040?devices=1001,1002`).
_NEXT_URL = re.compile(r",\s*(?=[A-Za-z][A-Za-z0-9+.-]*://)")


def split_urls(url: str) -> list[str]:
    """The addresses in a SOFTPHONE_CTI_URL: the primary, then its standby."""
    return [u.strip() for u in _NEXT_URL.split(url) if u.strip()]


@dataclass(frozen=True)
class LinkCommand:
    """A call- or agent-control request, already checked against its state by the core."""

    op: CommandOp
    agent: str
    call_id: str = ""
    number: str = ""  # what the PBX dials: prefixes already applied
    digits: str = ""
    state: str = ""
    reason: str = ""
    group: str = ""


class CtiLink(AsyncResource, Protocol):
    """A connection to a PBX (or a primary/standby pair). Keeps itself connected until closed."""

    @property
    def connected(self) -> bool: ...

    @property
    def reconnects(self) -> int:
        """Connections lost since start."""
        ...

    @property
    def failovers(self) -> int:
        """Moves to the other address of a primary/standby pair since start."""
        ...

    @property
    def active_url(self) -> str:
        """The address in use now: the primary's, or the standby's after a failover."""
        ...

    @property
    def capabilities(self) -> LinkCapabilities:
        """What this link can do (the same for the primary and its standby): the page shows
        only these controls and the switchboard refuses the rest before `send`."""
        ...

    @property
    def devices(self) -> frozenset[str]:
        """The devices monitored: the last `monitor()` set and the URL's `devices=` extras."""
        ...

    @property
    def watched(self) -> frozenset[str]:
        """The devices the PBX accepted monitors for on the live connection (the doctor
        compares them with the roster)."""
        ...

    async def monitor(self, devices: frozenset[str]) -> None:
        """Monitor exactly these devices (roster extensions and hot-desk logins) plus the URL's
        optional `devices=` extras: at once on the live connection, and on every reconnect and
        failover after it (each one's snapshot covers them). Never raises for a lost connection.
        """
        ...

    def events(self) -> AsyncIterator[LinkEvent]:
        """Call events, agent events, and a snapshot after every (re)connect, in order."""
        ...

    async def send(self, command: LinkCommand) -> str:
        """Carry out `command`; the new call's id for dial and consult, else "".

        Raises `LinkError` when the PBX cannot.
        """
        ...
