"""Event buses: the `Broadcast` facade over a backend chosen by the scheme of SOFTPHONE_BUS_URL."""

from __future__ import annotations

from proxy.bus.base import (
    BusBackend,
    Deliver,
    Event,
    EventBus,
    Numbered,
    Sink,
    SlowConsumer,
    StaleSequence,
    Subscription,
)
from proxy.bus.broadcast import Broadcast
from proxy.seams import SchemeRegistry

BUSES = SchemeRegistry(
    "event bus",
    "SOFTPHONE_BUS_URL",
    {"memory": "proxy.bus.memory:MemoryBackend", "redis": "proxy.bus.redis:RedisBackend"},
)


def open_bus(url: str) -> EventBus:
    """The bus for `url`: fan-out, slow-consumer policy and wire schema here; bytes moved by
    the backend."""
    backend = BUSES.load(url)

    def connect(deliver: Deliver) -> BusBackend:
        made: BusBackend = backend(url, deliver)
        return made

    return Broadcast(connect)


__all__ = [
    "BUSES",
    "Broadcast",
    "BusBackend",
    "Deliver",
    "Event",
    "EventBus",
    "Numbered",
    "Sink",
    "SlowConsumer",
    "StaleSequence",
    "Subscription",
    "open_bus",
]
