"""The one supervised background loop: steps again and again, survives failures, stops cleanly."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest

from proxy.seams import BackgroundLoop


async def test_steps_run_again_and_again_in_a_named_task() -> None:
    """Each step follows the last, in a task that carries the loop's name."""
    names: list[str] = []

    async def step() -> None:
        task = asyncio.current_task()
        assert task is not None
        names.append(task.get_name())
        await asyncio.sleep(0)

    loop = BackgroundLoop("ticker", step)
    await loop.start()
    await loop.start()  # a second start does not start a second task
    for _ in range(50):
        if len(names) >= 3:
            break
        await asyncio.sleep(0.001)
    await loop.aclose()
    assert len(names) >= 3 and set(names) == {"ticker"}
    assert not loop.running


async def test_a_failed_step_is_logged_with_the_name_backed_off_and_recovered(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A step that raises is logged with the loop's name; after the backoff the next one runs
    and, once it succeeds, the failure count is back to zero."""
    caplog.set_level(logging.ERROR)
    calls = 0
    recovered = asyncio.Event()

    async def step() -> None:
        nonlocal calls
        calls += 1
        if calls <= 2:
            raise RuntimeError(f"boom {calls}")
        if calls == 3:
            return  # the pass that succeeds
        recovered.set()
        await asyncio.sleep(3600)

    async with BackgroundLoop("flaky writer", step, first_backoff=0.01) as loop:
        await asyncio.wait_for(recovered.wait(), 2)
        assert loop.failures == 0
    failures = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(failures) == 2
    assert all("flaky writer failed; retrying in" in r.getMessage() for r in failures)
    assert [str(r.exc_info[1]) for r in failures if r.exc_info] == ["boom 1", "boom 2"]


async def test_backoff_doubles_up_to_its_cap() -> None:
    """The wait after n failures in a row doubles from the first backoff and stops at the cap."""
    loop = BackgroundLoop("x", _idle, first_backoff=0.5, max_backoff=3.0)
    waits = []
    for failures in range(1, 6):
        loop.failures = failures
        waits.append(loop.backoff())
    assert waits == [0.5, 1.0, 2.0, 3.0, 3.0]
    # A cap below the first backoff means no growth, never a shorter wait.
    assert BackgroundLoop("y", _idle, first_backoff=5.0, max_backoff=1.0).backoff() == 5.0


async def test_wake_cuts_a_backoff_short() -> None:
    """While a failed step backs off, setting `wake` runs the next step at once."""
    wake = asyncio.Event()
    calls = 0
    second = asyncio.Event()

    async def step() -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("first pass fails")
        second.set()
        await asyncio.sleep(3600)

    async with BackgroundLoop("writer", step, first_backoff=3600, wake=wake) as loop:
        while loop.failures == 0:
            await asyncio.sleep(0.001)
        wake.set()
        await asyncio.wait_for(second.wait(), 2)


async def test_cancellation_goes_through_and_aclose_twice_is_safe() -> None:
    """aclose() cancels the step where it waits (its cleanup runs), and a second aclose() is
    a no-op; a CancelledError raised by the step itself ends the loop instead of a retry."""
    cleaned = asyncio.Event()
    started = asyncio.Event()

    async def step() -> None:
        started.set()
        try:
            await asyncio.sleep(3600)
        finally:
            cleaned.set()

    loop = BackgroundLoop("sleeper", step)
    await loop.start()
    await started.wait()
    await loop.aclose()
    await loop.aclose()
    assert cleaned.is_set() and not loop.running

    calls = 0

    async def cancelled_step() -> None:
        nonlocal calls
        calls += 1
        raise asyncio.CancelledError

    cancelled = BackgroundLoop("cancelled", cancelled_step, first_backoff=0)
    await cancelled.start()
    await asyncio.sleep(0.01)
    assert calls == 1 and not cancelled.running and cancelled.failures == 0
    await cancelled.aclose()


async def test_a_step_ending_its_stream_ends_the_loop() -> None:
    """StopAsyncIteration from a step (the stream it reads is over) ends the loop quietly."""
    events = aiter(_three())
    seen: list[int] = []

    async def step() -> None:
        seen.append(await anext(events))

    loop = BackgroundLoop("consumer", step)
    await loop.start()
    for _ in range(100):
        if not loop.running:
            break
        await asyncio.sleep(0.001)
    assert seen == [1, 2, 3] and not loop.running and loop.failures == 0
    await loop.aclose()


async def _three() -> AsyncIterator[int]:
    for n in (1, 2, 3):
        yield n


async def _idle() -> None:
    await asyncio.sleep(0)
