"""Event buses, chosen by the scheme of SOFTPHONE_BUS_URL."""

from __future__ import annotations

from proxy.bus.base import EventBus, Message, SlowConsumer, Subscription
from proxy.seams import SchemeRegistry

BUSES = SchemeRegistry("event bus", "SOFTPHONE_BUS_URL", {"memory": "proxy.bus.memory:MemoryBus"})


def open_bus(url: str) -> EventBus:
    bus: EventBus = BUSES.load(url)(url)
    return bus


__all__ = ["BUSES", "EventBus", "Message", "SlowConsumer", "Subscription", "open_bus"]
