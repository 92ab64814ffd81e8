"""Observability: /metrics after real calls, /readyz that says what is not ready, /healthz."""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.harness import RunningProxy, next_message, running_proxy, wait_for_call
from tests.integration.flows.test_call_log import eventually, next_of, send


def scrape(proxy: RunningProxy, **headers: str) -> dict[str, float]:
    response = httpx.get(f"{proxy.base_url}/metrics", headers=headers)
    response.raise_for_status()
    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return samples


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[RunningProxy]:
    with running_proxy(tmp_path, wrap_up_seconds=0) as running:
        yield running


async def test_metrics_count_agents_calls_pops_and_tasks(proxy: RunningProxy) -> None:
    """After a call: an agent online, a call counted while it rings, a pop timed, a Task out."""
    async with proxy.connect(proxy.sign_in()) as ws:
        await next_message(ws)
        call_id = proxy.place_call(ani="+16504508811")
        await wait_for_call(ws, call_id, matching=False)
        during = scrape(proxy)
        assert during["softphone_agents_online"] == 1
        assert during["softphone_calls{state=ringing}"] == 1
        assert during["softphone_pop_seconds_count"] == 1
        assert during["softphone_link_connected"] == 1
        assert during["softphone_salesforce_api_remaining"] > 0
        await send(ws, type="answer", call_id=call_id)
        await wait_for_call(ws, call_id, state="active")
        await send(ws, type="hangup", call_id=call_id)
        await next_of(ws, "log", call_id=call_id, state="queued")
    eventually(lambda: scrape(proxy)["softphone_outbox_rows{state=written}"] == 1)
    after = scrape(proxy)
    assert after["softphone_calls{state=ringing}"] == 0
    assert after["softphone_tasks_written"] == 1
    assert after["softphone_sign_ins_total{outcome=ok}"] == 1
    eventually(lambda: scrape(proxy)["softphone_agents_online"] == 0)


def _long_stalls(samples: dict[str, float]) -> float:
    """Ticks that found the loop held for more than a quarter of a second."""
    stalls = "softphone_event_loop_stall_seconds_bucket"
    return samples[f"{stalls}{{le=+Inf}}"] - samples[f"{stalls}{{le=0.25}}"]


def _hold_the_loop(proxy: RunningProxy, hold: Callable[[], None]) -> dict[str, float]:
    """Run `hold` on the proxy's loop; /metrics once it has counted the stall."""
    before = scrape(proxy)
    held = threading.Event()

    def holding() -> None:
        hold()
        held.set()

    proxy.loop.call_soon_threadsafe(holding)
    assert held.wait(10)

    def counted() -> dict[str, float] | None:
        samples = scrape(proxy)
        return samples if _long_stalls(samples) > _long_stalls(before) else None

    after: dict[str, float] = eventually(counted)
    return after


def _spin(seconds: float) -> None:
    started = time.thread_time()
    while time.thread_time() - started < seconds:
        pass


def test_a_blocked_event_loop_is_reported_as_a_stall(proxy: RunningProxy) -> None:
    """A synchronous call that holds the proxy's loop for half a second, as a slow render or a
    blocking client would, shows in /metrics: one more long stall counted, the longest recent
    stall at least that long, and most of it not the loop's own CPU (it was waiting)."""
    after = _hold_the_loop(proxy, lambda: time.sleep(0.5))
    # The tick due during the hold woke at least the hold, less one tick, late.
    stall = after["softphone_event_loop_stall_max_seconds"]
    assert stall > 0.25
    assert after["softphone_event_loop_stall_max_cpu_seconds"] < stall


def test_a_busy_event_loop_is_reported_as_a_stall_on_cpu(proxy: RunningProxy) -> None:
    """Half a second of the loop's own CPU (a long computation on the loop, as the quadratic
    admin view was) is reported as a stall that the loop's thread spent on CPU."""
    after = _hold_the_loop(proxy, lambda: _spin(0.5))
    assert after["softphone_event_loop_stall_max_seconds"] > 0.25
    assert after["softphone_event_loop_stall_max_cpu_seconds"] >= 0.5


def test_a_full_garbage_collection_is_counted(proxy: RunningProxy) -> None:
    """A full collection (what froze the server for seconds at 10,000 sockets) is counted by
    generation, so a stall can be told apart as the collector's."""
    full = "softphone_gc_pause_seconds_count{generation=2}"
    before = scrape(proxy).get(full, 0.0)
    proxy.loop.call_soon_threadsafe(gc.collect)
    eventually(lambda: scrape(proxy).get(full, 0.0) > before)


def test_readyz_says_what_is_not_ready(tmp_path: Path) -> None:
    """With no PBX to talk to, /readyz answers 503 naming the link; /healthz stays 200."""
    with running_proxy(
        tmp_path,
        wait_for_link=False,
        cti_url="bridge+ws://127.0.0.1:9/bridge",
        salesforce_url="browser://",
    ) as proxy:
        ready = httpx.get(f"{proxy.base_url}/readyz")
        assert ready.status_code == 503
        assert ready.json() == {
            "ready": False,
            "link": "not connected",
            "store": "ok",
            "salesforce": "ok",
        }
        assert httpx.get(f"{proxy.base_url}/healthz").status_code == 200


def test_readyz_is_ready_when_everything_is_up(proxy: RunningProxy) -> None:
    """The demo's link, store and Salesforce all up: 200."""
    assert httpx.get(f"{proxy.base_url}/readyz").json()["ready"] is True


def test_a_metrics_token_keeps_metrics_private(tmp_path: Path) -> None:
    """With SOFTPHONE_METRICS_TOKEN set, /metrics wants that bearer token."""
    with running_proxy(tmp_path, metrics_token="s3cret-scrape") as proxy:
        assert httpx.get(f"{proxy.base_url}/metrics").status_code == 401
        wrong = {"authorization": "Bearer nope"}
        assert httpx.get(f"{proxy.base_url}/metrics", headers=wrong).status_code == 401
        assert "softphone_calls" in str(scrape(proxy, authorization="Bearer s3cret-scrape"))
