"""Task bursts: the outbox's due rows go 200 to an sObject Collections call, each written once.

The real simple-salesforce client talks to the stand-in org over HTTPS; the outbox is a real
SQLite store. The writer is driven pass by pass (`drain_once`), as its background loop does.
"""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest

from proxy.salesforce.auth import token_source
from proxy.salesforce.client import SimpleSalesforceApi, http_session
from proxy.salesforce.standin.org import StandinOrg
from proxy.salesforce.standin.server import StandinServer
from proxy.salesforce.tasks import TaskWriter
from proxy.settings import Settings
from proxy.store import OutboxRow, Store, open_store
from softphone.calllog import CallLog
from softphone.events import Direction


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with open_store(f"sqlite+aiosqlite:///{tmp_path / 'store.db'}") as opened:
        yield opened


def org_client(server: StandinServer, timeout: float = 5.0) -> SimpleSalesforceApi:
    http = http_session(timeout, ca_file=server.ca_file)
    config = Settings(
        salesforce_url=server.instance_url,
        salesforce_consumer_key=server.org.consumer_key,
        salesforce_consumer_secret=server.org.consumer_secret,
    )
    return SimpleSalesforceApi(token_source(config, server.instance_url, http), http, "60.0")


@contextmanager
def bare_client(server: StandinServer) -> Iterator[Salesforce]:
    """simple-salesforce itself, for requests our client never sends."""
    with http_session(5.0, ca_file=server.ca_file) as http:
        yield Salesforce(
            instance_url=server.instance_url,
            session_id=server.org.new_session(),
            version="60.0",
            session=http,
        )


def task_fields(n: int) -> dict[str, object]:
    return {
        "CallObject": f"burst-{n:04d}",
        "Subject": f"Inbound call {n}",
        "Status": "Completed",
        "TaskSubtype": "Call",
        "CallType": "Inbound",
    }


async def queue_burst(store: Store, tasks: list[dict[str, object]]) -> None:
    """A burst of finished calls' Tasks, all due now."""
    log = CallLog(
        call_id="shift-end",
        agent="1001",
        direction=Direction.INBOUND,
        placed=False,
        number="+16504508810",
        started_at=0.0,
        state="queued",
    )
    await store.queue_call_log(log, tasks, now=0.0)


async def drain(writer: TaskWriter, store: Store) -> dict[str, int]:
    """Passes until nothing is pending (failed rows wait out their short backoff)."""
    for _ in range(100):
        await writer.drain_once()
        counts = await store.outbox_counts()
        if counts["pending"] == 0:
            return counts
        await asyncio.sleep(0.05)
    raise AssertionError(f"rows still pending: {await store.outbox_counts()}")


def task_counts(org: StandinOrg) -> Counter[str]:
    return Counter(str(t["CallObject"]) for t in org.tasks())


def rows_by_call(rows: list[OutboxRow]) -> dict[str, OutboxRow]:
    return {row.call_object: row for row in rows}


@pytest.mark.parametrize("burst", [2, 450, 1000])
async def test_a_burst_costs_one_api_call_per_200_tasks(
    standin: StandinServer, store: Store, burst: int
) -> None:
    """N due rows become N Tasks, each once, in ceil(N/200) API calls, each row with its Id."""
    org = standin.org
    await queue_burst(store, [task_fields(n) for n in range(burst)])
    async with org_client(standin) as api:
        writer = TaskWriter(store, api, base_delay=0.01)
        before = org.api_calls
        counts = await drain(writer, store)
    calls = org.api_calls - before
    print(f"\n{burst} Tasks in {calls} API calls: {calls / burst:.4f} calls per Task")
    assert calls == math.ceil(burst / 200)
    assert counts == {"pending": 0, "written": burst, "dead": 0}
    assert task_counts(org) == Counter({f"burst-{n:04d}": 1 for n in range(burst)})
    ids = {str(t["CallObject"]): t["Id"] for t in org.tasks()}
    rows = await store.outbox_rows("written")
    assert {row.call_object: row.task_id for row in rows} == ids
    assert {row.attempts for row in rows} == {1}


async def test_one_refused_record_is_retried_alone(standin: StandinServer, store: Store) -> None:
    """In a burst of 300, a locked row is retried by itself, a bad one is dead with its error,
    a gone Contact is logged without it, and every other Task is written once, at once."""
    org = standin.org
    tasks = [task_fields(n) for n in range(300)]
    tasks[7]["Bogus__c"] = "not a field of Task"
    tasks[250]["WhoId"] = "003Dm9999999999AAA"  # a Contact deleted since the call
    await queue_burst(store, tasks)
    org.refuse_record(
        "CallObject",
        "burst-0017",
        "UNABLE_TO_LOCK_ROW",
        "unable to obtain exclusive access to this record",
    )
    async with org_client(standin) as api:
        writer = TaskWriter(store, api, base_delay=0.2)
        before = org.api_calls
        await writer.drain_once()
        # Two collections (200 + 100), then the record without its gone Contact, on its own.
        assert org.api_calls - before == 3
        rows = rows_by_call(await store.outbox_rows())
        assert rows["burst-0017"].state == "pending"
        assert rows["burst-0017"].last_error.startswith("UNABLE_TO_LOCK_ROW")
        assert rows["burst-0007"].state == "dead"
        assert "INVALID_FIELD" in rows["burst-0007"].last_error
        assert "Bogus__c" in rows["burst-0007"].last_error
        others = [r for r in rows.values() if r.call_object not in ("burst-0017", "burst-0007")]
        assert {(r.state, r.attempts) for r in others} == {("written", 1)}
        counts = await drain(writer, store)
    assert counts == {"pending": 0, "written": 299, "dead": 1}
    expected = {f"burst-{n:04d}": 1 for n in range(300) if n != 7}
    assert task_counts(org) == Counter(expected)
    (without_contact,) = org.tasks("burst-0250")
    assert "WhoId" not in without_contact
    assert "Logged without WhoId" in without_contact["Description"]
    (retried,) = [r for r in await store.outbox_rows() if r.call_object == "burst-0017"]
    assert (retried.state, retried.attempts) == ("written", 2)
    assert retried.task_id == org.tasks("burst-0017")[0]["Id"]


async def test_a_failed_call_retries_every_row_of_it(standin: StandinServer, store: Store) -> None:
    """A 500 on the whole collection leaves all its rows pending; the retry writes each once."""
    org = standin.org
    await queue_burst(store, [task_fields(n) for n in range(250)])
    org.fail_next(500)
    async with org_client(standin) as api:
        writer = TaskWriter(store, api, base_delay=0.05)
        await writer.drain_once()
        rows = await store.outbox_rows()
        # Calls go out together: which of the two got the 500 is the org's choice.
        failed = [r for r in rows if r.state == "pending"]
        assert len(failed) in (200, 50)
        assert all(r.last_error.startswith("UNKNOWN_EXCEPTION") for r in failed)
        counts = await drain(writer, store)
    assert counts == {"pending": 0, "written": 250, "dead": 0}
    assert task_counts(org) == Counter({f"burst-{n:04d}": 1 for n in range(250)})


async def test_a_burst_that_timed_out_but_landed_is_not_written_again(
    standin: StandinServer, store: Store
) -> None:
    """The org creates the Tasks after the client gave up waiting: the retry waits for them to
    settle, finds them by CallObject (one query per burst) and creates none of them again."""
    org = standin.org
    await queue_burst(store, [task_fields(n) for n in range(300)])
    org.latency_seconds = 1.0  # slower than the client's 0.5 s timeout
    async with org_client(standin, timeout=0.5) as api:
        writer = TaskWriter(store, api, base_delay=0.05, settle_seconds=1.5)
        await writer.drain_once()
        org.latency_seconds = 0.0  # the two creates already sent still take their second
        rows = await store.outbox_rows()
        assert {(r.state, r.last_error.split(":")[0]) for r in rows} == {
            ("pending", "NETWORK_ERROR")
        }
        before = org.api_calls
        counts = await drain(writer, store)
        lookups = org.api_calls - before
    assert counts == {"pending": 0, "written": 300, "dead": 0}
    assert task_counts(org) == Counter({f"burst-{n:04d}": 1 for n in range(300)})
    # One query by CallObject per burst (200 + 100 rows), and no create.
    assert lookups == 2
    ids = {str(t["CallObject"]): t["Id"] for t in org.tasks()}
    assert {r.call_object: r.task_id for r in await store.outbox_rows()} == ids


async def test_the_stand_in_refuses_a_collection_over_200(standin: StandinServer) -> None:
    """201 records are refused whole, as Salesforce does (EXCEEDED_ID_LIMIT), and none is made."""
    org = standin.org
    async with org_client(standin) as api:
        with pytest.raises(ValueError, match="1 to 200"):
            await api.create_many("Task", [task_fields(n) for n in range(201)])
    records = [{"attributes": {"type": "Task"}, **task_fields(n)} for n in range(201)]
    with bare_client(standin) as sf, pytest.raises(SalesforceMalformedRequest) as refused:
        await asyncio.to_thread(
            sf.restful,
            "composite/sobjects",
            method="POST",
            json={"allOrNone": False, "records": records},
        )
    assert refused.value.status == 400
    assert refused.value.content[0]["errorCode"] == "EXCEEDED_ID_LIMIT"
    assert org.tasks() == []


async def test_all_or_none_rolls_back_every_record(standin: StandinServer) -> None:
    """With allOrNone true one refusal rolls the others back, each saying why."""
    org = standin.org
    records = [{"attributes": {"type": "Task"}, **task_fields(n)} for n in range(3)]
    records[1]["Nope__c"] = "x"
    with bare_client(standin) as sf:
        results = await asyncio.to_thread(
            sf.restful,
            "composite/sobjects",
            method="POST",
            json={"allOrNone": True, "records": records},
        )
    assert [r["success"] for r in results] == [False, False, False]
    codes = [r["errors"][0]["statusCode"] for r in results]
    assert codes == [
        "ALL_OR_NONE_OPERATION_ROLLED_BACK",
        "INVALID_FIELD",
        "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    ]
    assert results[1]["errors"][0]["fields"] == ["Nope__c"]
    assert org.tasks() == []
