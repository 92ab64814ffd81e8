"""Stores, chosen by the scheme of SOFTPHONE_DATABASE_URL."""

from __future__ import annotations

from proxy.seams import SchemeRegistry
from proxy.store.base import AgentRecord, OutboxRow, OutboxWrite, PurgeCounts, Store

STORES = SchemeRegistry(
    "store",
    "SOFTPHONE_DATABASE_URL",
    {
        "sqlite+aiosqlite": "proxy.store.sql:SqlStore",
        "postgresql+asyncpg": "proxy.store.sql:SqlStore",
    },
)


def open_store(url: str) -> Store:
    store: Store = STORES.load(url)(url)
    return store


__all__ = [
    "STORES",
    "AgentRecord",
    "OutboxRow",
    "OutboxWrite",
    "PurgeCounts",
    "Store",
    "open_store",
]
