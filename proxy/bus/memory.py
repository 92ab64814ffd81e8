"""`memory://`: the in-process backend, for a single proxy process.

It only moves messages: a message published is handed to the facade straight away, inside
`publish()`, so a subscriber has it before `publish()` returns (no hop, no reordering).
"""

from __future__ import annotations

from proxy.bus.base import Deliver, Message
from proxy.seams import Resource


class MemoryBackend(Resource):
    def __init__(self, url: str, deliver: Deliver) -> None:
        self.deliver = deliver

    async def listen(self, channel: str) -> None:
        """Nothing to do: every channel of this process is heard already."""

    async def unlisten(self, channel: str) -> None:
        """Nothing to do: a channel no one here listens to is dropped by the facade."""

    async def publish(self, channel: str, message: Message) -> None:
        self.deliver(channel, message)
