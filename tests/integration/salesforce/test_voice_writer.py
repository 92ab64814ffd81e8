"""Salesforce Voice failures while writing VoiceCalls: retried, never doubled, dead-lettered
with the API's error, and written once an admin retries."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from proxy.store import OutboxRow
from tests.harness import RunningProxy, next_message, running_proxy, wait_for_call
from tests.integration.flows.test_call_log import eventually, send
from tests.integration.flows.test_voice_calls import center, ring, voice_socket


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[RunningProxy]:
    with running_proxy(
        tmp_path,
        voice_scrt_url="standin://",
        wrap_up_seconds=0,
        task_retry_seconds=0.05,
        voice_max_attempts=4,
    ) as running:
        yield running


def row(proxy: RunningProxy, key: str) -> OutboxRow | None:
    rows = proxy.run(proxy.services.store.outbox_rows())
    return next((r for r in rows if r.call_object == key), None)


async def test_an_unavailable_api_is_retried_and_the_voicecall_made_once(
    proxy: RunningProxy,
) -> None:
    """503, then 503: the create is retried with backoff and lands once."""
    center(proxy).faults.extend([503, 503])
    async with voice_socket(proxy) as ws:
        await next_message(ws)
        call_id = await ring(proxy, ws)
        eventually(lambda: call_id in center(proxy).voice_calls)
        written = eventually(
            lambda: (r := row(proxy, f"voice_create:{call_id}")) and r.state == "written" and r
        )
    assert written.attempts == 3 and written.task_id == center(proxy).voice_calls[call_id]["Id"]
    assert len(center(proxy).voice_calls) == 1


async def test_a_refused_create_is_dead_with_its_end_and_written_once_retried(
    proxy: RunningProxy,
) -> None:
    """A 400 is not retried: the create is dead with the API's error, the call's update and
    routing clear die with it (never sent for a VoiceCall that is not there), and an admin's
    retry writes all three, once."""
    center(proxy).faults.append(400)
    async with voice_socket(proxy) as ws:
        await next_message(ws)
        call_id = await ring(proxy, ws)
        await send(ws, type="hangup", call_id=call_id)
        await wait_for_call(ws, call_id, state="cleared")
    create_key, end_key = f"voice_create:{call_id}", f"voice_end:{call_id}"
    dead = eventually(lambda: (r := row(proxy, create_key)) and r.state == "dead" and r)
    assert "INVALID_INPUT" in dead.last_error
    end = eventually(lambda: (r := row(proxy, end_key)) and r.state == "dead" and r)
    assert "never created" in end.last_error
    assert center(proxy).voice_calls == {} and center(proxy).updates == []

    store = proxy.services.store
    assert proxy.run(store.retry_dead(create_key, now=0.0))
    assert proxy.run(store.retry_dead(end_key, now=0.0))
    assert proxy.run(store.retry_dead(f"voice_clear:{call_id}", now=0.0))
    proxy.services.voice_writer.wake()  # type: ignore[union-attr]
    eventually(lambda: [k for k, _ in center(proxy).updates] == [call_id])
    assert list(center(proxy).voice_calls) == [call_id]
    eventually(lambda: center(proxy).cleared == [call_id])
