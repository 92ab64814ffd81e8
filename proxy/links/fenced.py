"""A link that proves, before each command, that this node may still command the PBX.

In a cluster only the lease holder commands the PBX (proxy/cluster/lease.py). Its link is
wrapped in a `FencedLink`: every `send` first awaits `fence()`, a round trip that proves the
lease is alive and its token still this node's; a holder that was fenced off or cut off from
the database is refused before anything leaves (`LinkUnavailable`, said to the page), never
after. Everything else is the wrapped link's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Self

from proxy.errors import LinkUnavailable
from proxy.links.base import CtiLink, LinkCommand
from softphone.capabilities import LinkCapabilities
from softphone.events import LinkEvent


class FencedLink:
    def __init__(self, link: CtiLink, fence: Callable[[], Awaitable[object]]) -> None:
        self.link = link
        self.fence = fence
        self.refused = 0  # commands refused because the lease was gone
        self.cut_off = False

    async def __aenter__(self) -> Self:
        await self.link.__aenter__()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.link.__aexit__(*exc_info)

    @property
    def connected(self) -> bool:
        return self.link.connected

    @property
    def reconnects(self) -> int:
        return self.link.reconnects

    @property
    def failovers(self) -> int:
        return self.link.failovers

    @property
    def active_url(self) -> str:
        return self.link.active_url

    @property
    def capabilities(self) -> LinkCapabilities:
        return self.link.capabilities

    @property
    def devices(self) -> frozenset[str]:
        return self.link.devices

    @property
    def watched(self) -> frozenset[str]:
        return self.link.watched

    async def monitor(self, devices: frozenset[str]) -> None:
        await self.link.monitor(devices)

    def events(self) -> AsyncIterator[LinkEvent]:
        return self.link.events()

    async def cut(self) -> None:
        """Close the link now, ahead of whatever else stops with it: a holder that lost its
        lease lets go of the PBX first (closing again later is harmless)."""
        self.cut_off = True
        await self.link.__aexit__(None, None, None)

    async def send(self, command: LinkCommand) -> str:
        try:
            if self.cut_off:
                raise LinkUnavailable("the link was let go")
            await self.fence()
        except Exception as exc:  # any doubt about the lease refuses the command
            self.refused += 1
            raise LinkUnavailable(
                "This phone server no longer holds the PBX link; try again in a moment"
            ) from exc
        return await self.link.send(command)
