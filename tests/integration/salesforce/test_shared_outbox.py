"""Two nodes drain one outbox on PostgreSQL side by side: every Task is written exactly once.

Each writer has its own connection pool and its own real simple-salesforce client, as two proxy
processes would; the stand-in org counts what is created.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator

import pytest

from proxy.salesforce.standin.server import StandinServer
from proxy.salesforce.tasks import TaskWriter
from proxy.store import Store, open_store
from tests.databases import postgres_url
from tests.integration.salesforce.test_task_bursts import (
    org_client,
    queue_burst,
    task_counts,
    task_fields,
)

TASKS = 1000


@pytest.fixture
async def shared_url() -> AsyncIterator[str]:
    async with postgres_url() as url:
        yield url


async def drain_together(writers: list[tuple[TaskWriter, Store]]) -> None:
    async def drain(writer: TaskWriter, store: Store) -> None:
        for _ in range(200):
            await writer.drain_once()
            if (await store.outbox_counts())["pending"] == 0:
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"rows still pending: {await store.outbox_counts()}")

    await asyncio.gather(*(drain(writer, store) for writer, store in writers))


async def test_two_writers_on_one_outbox_write_every_task_once(
    standin: StandinServer, shared_url: str
) -> None:
    async with open_store(shared_url) as first, open_store(shared_url) as second:
        await queue_burst(first, [task_fields(n) for n in range(TASKS)])
        async with org_client(standin) as api_a, org_client(standin) as api_b:
            a = TaskWriter(first, api_a, concurrency=1, shared_store=True)
            b = TaskWriter(second, api_b, concurrency=1, shared_store=True)
            await drain_together([(a, first), (b, second)])
        counts = await first.outbox_counts()
    assert counts == {"pending": 0, "written": TASKS, "dead": 0}
    assert task_counts(standin.org) == Counter({f"burst-{n:04d}": 1 for n in range(TASKS)})
    # Both did their share: neither waited for the other's rows.
    assert a.written > 0 and b.written > 0 and a.written + b.written == TASKS


async def test_a_writer_that_stopped_mid_write_leaves_its_rows_to_the_other_after_the_hold(
    standin: StandinServer, shared_url: str
) -> None:
    """A node claims rows and dies before writing them: the other node leaves them alone
    while they are held, then writes each once (looking first, since an attempt was made)."""
    async with open_store(shared_url) as first, open_store(shared_url) as second:
        await queue_burst(first, [task_fields(n) for n in range(3)])
        now = 1000.0
        claimed = await first.claim_due_outbox(now, limit=10, hold=60.0)
        assert len(claimed) == 3  # ...and then the first node is gone
        async with org_client(standin) as api:
            clock = [now + 1]
            b = TaskWriter(second, api, shared_store=True, clock=lambda: clock[0])
            await b.start()  # a shared store: its start must not take the others' claims
            await b.aclose()
            assert not await b.drain_once()  # still held by the node that died
            clock[0] = now + 61
            await b.drain_once()
        assert (await second.outbox_counts())["written"] == 3
    assert task_counts(standin.org) == Counter({f"burst-{n:04d}": 1 for n in range(3)})
