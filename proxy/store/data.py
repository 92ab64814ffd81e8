"""Queries for each agent's own data: settings, favorites, history, quick notes."""

from __future__ import annotations

import functools
import json
from typing import Any

from sqlalchemy import Executable, bindparam, delete, func, select, union_all

from proxy.store.engine import SqlBase
from proxy.store.schema import agent_settings, favorites, history, quick_notes
from softphone.agentdata import Favorite, HistoryEntry

_KINDS = ("all", "missed", "received", "dialed")


@functools.lru_cache(maxsize=8)
def _history_query(limits: tuple[tuple[str, int], ...]) -> Executable:
    """Each list's newest rows in one round trip (an entry in several lists comes once), for
    the agent bound as `address`. Built once per set of limits: built per call, its subqueries'
    reference cycles were left to the garbage collector, and those that lived past a second
    were frozen with the long-lived objects (proxy/collector.py), about 100 KB each (issue 16)."""
    mine = history.c.address == bindparam("address")
    kinds = {
        "all": mine,
        "missed": mine & (history.c.outcome == "missed"),
        "received": mine & (history.c.placed == 0) & (history.c.outcome == "answered"),
        "dialed": mine & (history.c.placed == 1),
    }
    parts = [
        select(history).where(kinds[kind]).order_by(history.c.started_at.desc()).limit(limit)
        for kind, limit in limits
    ]
    return union_all(*(p.subquery().select() for p in parts))


class AgentDataQueries(SqlBase):
    async def get_settings(self, address: str) -> dict[str, Any] | None:
        query = select(agent_settings.c.settings).where(agent_settings.c.address == address)
        async with self.engine.connect() as conn:
            raw = (await conn.execute(query)).scalar_one_or_none()
        return None if raw is None else dict(json.loads(raw))

    async def put_settings(self, address: str, settings: dict[str, Any]) -> None:
        values = {"address": address, "settings": json.dumps(settings)}
        async with self.engine.begin() as conn:
            await conn.execute(self.upsert(agent_settings, values, ["address"]))

    async def list_favorites(self, address: str) -> list[Favorite]:
        query = select(favorites).where(favorites.c.address == address)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [
            Favorite(
                number=r["number"], name=r["name"], object=r["object"], record_id=r["record_id"]
            )
            for r in rows
        ]

    async def put_favorite(self, address: str, favorite: Favorite, limit: int) -> bool:
        values = {"address": address, **favorite.model_dump()}
        mine = favorites.c.address == address
        async with self.engine.begin() as conn:
            count = (await conn.execute(select(func.count()).where(mine))).scalar_one()
            there = (
                await conn.execute(
                    select(favorites.c.number)
                    .where(mine)
                    .where(favorites.c.number == favorite.number)
                )
            ).first()
            if there is None and count >= limit:
                return False
            await conn.execute(self.upsert(favorites, values, ["address", "number"]))
        return True

    async def delete_favorite(self, address: str, number: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                delete(favorites).where(
                    favorites.c.address == address, favorites.c.number == number
                )
            )

    async def list_history(self, address: str, limits: dict[str, int]) -> list[HistoryEntry]:
        query = _history_query(tuple((kind, limits[kind]) for kind in _KINDS if kind in limits))
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query, {"address": address})).mappings().all()
        seen: dict[str, HistoryEntry] = {}
        for r in rows:
            seen[r["call_id"]] = HistoryEntry(
                call_id=r["call_id"],
                direction=r["direction"],
                outcome=r["outcome"],
                placed=bool(r["placed"]),
                number=r["number"],
                name=r["name"],
                object=r["object"],
                record_id=r["record_id"],
                started_at=r["started_at"],
                duration=r["duration"],
            )
        return list(seen.values())

    async def list_quick_notes(self, address: str) -> list[str]:
        query = select(quick_notes.c.text).where(quick_notes.c.address == address)
        async with self.engine.connect() as conn:
            return sorted((await conn.execute(query)).scalars().all(), key=str.casefold)

    async def add_quick_note(self, address: str, text: str) -> None:
        statement = self.insert(quick_notes).values(address=address, text=text)
        async with self.engine.begin() as conn:
            await conn.execute(statement.on_conflict_do_nothing())

    async def delete_quick_note(self, address: str, text: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                delete(quick_notes).where(
                    quick_notes.c.address == address, quick_notes.c.text == text
                )
            )


def history_values(address: str, entry: HistoryEntry) -> dict[str, Any]:
    values = entry.model_dump()
    values["placed"] = int(entry.placed)
    return {"address": address, **values}
