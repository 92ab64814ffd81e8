"""The CTI link seam: how the proxy hears about calls and asks the PBX to act on them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Literal, Protocol

from proxy.resource import AsyncResource
from softphone.events import CallEvent


@dataclass(frozen=True)
class LinkCommand:
    """A call-control request, already checked against the call's state by the core."""

    op: Literal["answer", "hangup"]
    call_id: str
    agent: str


class CtiLink(AsyncResource, Protocol):
    """A connection to a PBX. Opened with `async with`; keeps itself connected until closed."""

    @property
    def connected(self) -> bool: ...

    def events(self) -> AsyncIterator[CallEvent]:
        """Every call event, in the order the PBX sent them; ends when the link is closed."""
        ...

    async def send(self, command: LinkCommand) -> None:
        """Carry out `command`; raises `LinkError` when the PBX cannot."""
        ...
