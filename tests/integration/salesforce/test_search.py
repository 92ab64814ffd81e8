"""The agent's search field: Salesforce people by name or number, one API call each."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from tests.harness import RunningProxy, next_message, running_proxy
from tests.integration.flows.test_call_log import next_of


async def search(ws: object, query: str) -> dict[str, object]:
    await ws.send(json.dumps({"type": "search", "query": query}))  # type: ignore[attr-defined]
    while True:
        message = await next_message(ws)  # type: ignore[arg-type]
        if message["type"] in ("search_results", "error"):
            return message


async def test_search_by_name_and_by_number(proxy: RunningProxy) -> None:
    """ "jam oka" and "650 450 8811" both find James Okafor, with a number to dial."""
    async with proxy.connect(proxy.sign_in()) as ws:
        await next_message(ws)
        before = proxy.api_calls
        by_name = await search(ws, "jam oka")
        await asyncio.sleep(0.35)
        by_number = await search(ws, "650 450 8811")
        assert proxy.api_calls - before == 2
    for found in (by_name, by_number):
        assert found["type"] == "search_results"
        names = [r["name"] for r in found["records"]]  # type: ignore[attr-defined]
        assert "James Okafor" in names
        james = next(r for r in found["records"] if r["name"] == "James Okafor")  # type: ignore[attr-defined]
        assert found["phones"][james["id"]]  # type: ignore[index]


async def test_search_terms_cannot_inject(proxy: RunningProxy) -> None:
    """SOSL syntax in the search box is searched for as text, never run."""
    async with proxy.connect(proxy.sign_in()) as ws:
        await next_message(ws)
        found = await search(ws, 'x} IN ALL FIELDS RETURNING User(Id) {"')
        assert found["type"] == "search_results" and found["records"] == []


async def test_searching_too_fast_is_refused_politely(proxy: RunningProxy) -> None:
    """Two searches in a row: the second is told to wait (each costs an API call)."""
    async with proxy.connect(proxy.sign_in()) as ws:
        await next_message(ws)
        await search(ws, "james")
        refused = await search(ws, "jamie")
        assert refused["code"] == "slow_down"


async def test_without_an_integration_user_search_says_where_to_search(tmp_path: Path) -> None:
    """browser://: the page is told to use Salesforce's own search."""
    with running_proxy(tmp_path, salesforce_url="browser://") as proxy:
        async with proxy.connect(proxy.sign_in()) as ws:
            await next_message(ws)
            refused = await search(ws, "james")
            assert refused["code"] == "search_unavailable"
            await ws.send(json.dumps({"type": "search", "query": "j"}))
            assert (await next_of(ws, "error"))["code"] == "bad_message"
