"""`memory://`: the in-process backend, for a single proxy process.

It only moves and keeps payloads: a payload published is handed to the facade straight away,
inside `publish()`, so a subscriber has it before `publish()` returns (no hop, no reordering).
It keeps each channel's last `history` payloads (URL `memory://?history=N`, default 1: a page
that reconnects gets a snapshot, and 32 per agent would be 190 MB at 10,000 agents).
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from proxy.bus.base import Deliver, StaleSequence
from proxy.seams import Resource

HISTORY = 1


class MemoryBackend(Resource):
    def __init__(self, url: str, deliver: Deliver) -> None:
        self.deliver = deliver
        self.history_length = history_length(url, HISTORY)
        self._last: dict[str, int] = {}
        # A list per channel, not a deque: an empty deque is 760 bytes and there is one for
        # every agent that ever had an event (issue 16); these hold one or a few.
        self._kept: dict[str, list[tuple[int, bytes]]] = {}

    async def listen(self, channel: str) -> None:
        """Nothing to do: every channel of this process is heard already."""

    async def unlisten(self, channel: str) -> None:
        """Nothing to do: a channel no one here listens to is dropped by the facade."""

    async def publish(self, channel: str, seq: int, payload: bytes) -> None:
        last = self._last.get(channel, 0)
        if seq <= last:
            raise StaleSequence(f"{channel}: seq {seq} is not after {last}, already published")
        self._last[channel] = seq
        kept = self._kept.get(channel)
        if kept is None:
            kept = self._kept[channel] = []
        kept.append((seq, payload))
        if len(kept) > self.history_length:
            del kept[0]
        self.deliver(channel, payload)

    async def last_seq(self, channel: str) -> int:
        return self._last.get(channel, 0)

    async def history(self, channel: str, after: int) -> tuple[int, list[bytes]]:
        kept = self._kept.get(channel, ())
        return self._last.get(channel, 0), [payload for seq, payload in kept if seq > after]


def history_length(url: str, default: int) -> int:
    """The `history=N` of a bus URL: how many payloads each channel keeps (at least 1)."""
    values = parse_qs(urlsplit(url).query).get("history", [])
    if not values:
        return default
    try:
        length = int(values[-1])
    except ValueError:
        length = 0
    if length < 1:
        raise ValueError(f"{url!r}: history must be a whole number of messages, at least 1")
    return length
