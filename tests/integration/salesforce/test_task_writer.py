"""Salesforce failures while writing Tasks: retried, never doubled, dead-lettered with the error."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from websockets.asyncio.client import ClientConnection

from proxy.salesforce.standin.org import StandinOrg
from proxy.store import OutboxRow
from tests.harness import RunningProxy, next_message, running_proxy
from tests.integration.flows.test_call_log import (
    eventually,
    next_of,
    org_of,
    send,
    talk_and_hang_up,
)


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[RunningProxy]:
    with running_proxy(
        tmp_path,
        wrap_up_seconds=30,
        task_retry_seconds=0.05,
        task_max_attempts=4,
        salesforce_timeout_seconds=0.5,
    ) as running:
        yield running


async def finished_call(proxy: RunningProxy, ws: ClientConnection) -> str:
    await next_message(ws)
    return await talk_and_hang_up(proxy, ws)


async def save(ws: ClientConnection, call_id: str) -> None:
    await send(ws, type="wrap_up", call_id=call_id, action="save_exit")
    await next_of(ws, "log", call_id=call_id, state="queued")


def attempts(proxy: RunningProxy, call_object: str) -> int:
    rows = proxy.run(proxy.services.store.outbox_rows())
    return next((r.attempts for r in rows if r.call_object == call_object), 0)


def break_500(org: StandinOrg) -> Callable[[], None]:
    org.fail_next(500, 503)
    return lambda: None


def break_timeout(org: StandinOrg) -> Callable[[], None]:
    # Slower than the client's 0.5 s timeout: the create times out here but lands in the org.
    org.latency_seconds = 1.0

    def mend() -> None:
        org.latency_seconds = 0.0

    return mend


def break_limit(org: StandinOrg) -> Callable[[], None]:
    limit = org.api_limit
    org.api_limit = org.api_calls

    def mend() -> None:
        org.api_limit = limit

    return mend


def break_session(org: StandinOrg) -> Callable[[], None]:
    org.expire_sessions()
    return lambda: None


@pytest.mark.parametrize(
    "fault", [break_500, break_timeout, break_limit, break_session], ids=lambda f: f.__name__
)
async def test_a_failing_write_is_retried_into_exactly_one_task(
    proxy: RunningProxy, fault: Callable[[StandinOrg], Callable[[], None]]
) -> None:
    """500s, a timeout that still created the Task, a spent API budget, an ended session."""
    org = org_of(proxy)
    async with proxy.connect(proxy.sign_in()) as ws:
        call_id = await finished_call(proxy, ws)
        mend = fault(org)
        await save(ws, call_id)
        call_object = call_id
        if fault is not break_session:  # the client renews a session by itself
            eventually(lambda: attempts(proxy, call_object) >= 1)
        await asyncio.sleep(0.2)
        mend()
    (task,) = eventually(lambda: org.tasks(call_object), timeout=15)
    eventually(lambda: proxy.services.writer and proxy.services.writer.written >= 1)
    await asyncio.sleep(0.5)
    assert len(org.tasks(call_object)) == 1
    rows = proxy.run(proxy.services.store.outbox_rows("written"))
    assert [(r.call_object, r.task_id) for r in rows] == [(call_object, task["Id"])]


async def test_after_the_last_attempt_the_row_is_dead_with_the_error(proxy: RunningProxy) -> None:
    """A failing org leaves a dead row with Salesforce's error, which an admin retries."""
    org = org_of(proxy)
    async with proxy.connect(proxy.sign_in()) as ws:
        call_id = await finished_call(proxy, ws)
        org.fail_next(*[500] * 40)
        await save(ws, call_id)
    store = proxy.services.store

    def dead() -> list[OutboxRow]:
        return proxy.run(store.outbox_rows("dead"))

    (row,) = eventually(dead, timeout=15)
    assert row.attempts == 4
    assert row.last_error.startswith("UNKNOWN_EXCEPTION")
    assert org.tasks() == []
    org.failures.clear()
    call_object = call_id
    env = {**os.environ, "SOFTPHONE_DATABASE_URL": proxy.services.settings.database_url}
    listed = outbox_cli("--state", "dead", env=env)
    assert call_object in listed and "UNKNOWN_EXCEPTION" in listed and "1 dead" in listed
    assert f"queued again: {call_object}" in outbox_cli("--retry-all-dead", env=env)
    eventually(lambda: org.tasks(call_object))
    assert "not a dead row" in outbox_cli("--retry", call_object, env=env, status=1)


def outbox_cli(*args: str, env: dict[str, str], status: int = 0) -> str:
    """`softphone-proxy outbox ...`, as an admin runs it next to the running proxy."""
    result = subprocess.run(
        [sys.executable, "-m", "proxy.cli", "outbox", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == status, result.stderr
    return result.stdout


async def test_a_record_deleted_since_the_call_does_not_lose_the_log(proxy: RunningProxy) -> None:
    """The matched Contact is gone by the time the Task is written: logged without it, said so."""
    org = org_of(proxy)
    async with proxy.connect(proxy.sign_in()) as ws:
        call_id = await finished_call(proxy, ws)
        log = proxy.services.journal.logs[("1001", call_id)]
        contact_id = log.matches[0].id
        org.records["Contact"] = [c for c in org.records["Contact"] if c["Id"] != contact_id]
        await save(ws, call_id)
    (task,) = eventually(lambda: org.tasks(call_id))
    assert "WhoId" not in task
    assert "Logged without WhoId" in task["Description"]
    assert contact_id in task["Description"]


async def test_an_external_id_field_makes_writes_upserts(tmp_path: Path) -> None:
    """With an external id field configured, the Task carries it and a retry updates, not adds."""
    with running_proxy(
        tmp_path, task_external_id_field="Softphone_Call_Id__c", task_retry_seconds=0.05
    ) as proxy:
        org = org_of(proxy)
        async with proxy.connect(proxy.sign_in()) as ws:
            call_id = await finished_call(proxy, ws)
            org.fail_next(500)
            await save(ws, call_id)
        (task,) = eventually(lambda: org.tasks(call_id))
        assert task["Softphone_Call_Id__c"] == call_id
