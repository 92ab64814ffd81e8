"""Cluster mode: two or more active proxy nodes on one Redis (the bus) and one PostgreSQL (the
store, and the lease on the PBX link: cluster/lease.py).

Cluster mode is just settings, the same on every node: `SOFTPHONE_BUS_URL=redis://...` and
`SOFTPHONE_DATABASE_URL=postgresql+asyncpg://...`.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from proxy.bus import BUSES
from proxy.settings import Settings
from proxy.store import STORES


def redis_address(bus_url: str) -> tuple[str, str]:
    """The cluster's Redis from SOFTPHONE_BUS_URL: the server's URL without our own query
    parameters (redis-py refuses those it does not know), and the prefix of every key."""
    prefix = parse_qs(urlsplit(bus_url).query).get("prefix", [""])[-1]
    return bus_url.split("?", 1)[0], prefix


# Stores whose data only the node that has the file can see.
_LOCAL_STORES = {"sqlite+aiosqlite"}


def check_cluster(settings: Settings) -> None:
    """Refuse a shared bus over a store only this node can see: the nodes would share agents'
    events but each keep its own sessions, seats, lockouts and call-log outbox."""
    bus, store = BUSES.scheme(settings.bus_url), STORES.scheme(settings.database_url)
    if bus != "memory" and store in _LOCAL_STORES:
        raise ValueError(
            f"SOFTPHONE_BUS_URL={bus}://... shares agents' events between proxy nodes, but "
            f"SOFTPHONE_DATABASE_URL is SQLite, a file only this node sees: each node would "
            f"keep its own sessions, seats, lockouts and Task outbox. Give every node the same "
            f"postgresql+asyncpg://... database, or use SOFTPHONE_BUS_URL=memory:// for a "
            f"single node"
        )
