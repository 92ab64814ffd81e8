"""A server too busy for a page right now says so, and the page comes back by itself: a sign-in
refused as busy (503 with Retry-After) and a socket refused as busy (1013, retry after 3 s)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.chromium import new_context
from tests.harness import RunningProxy, running_proxy

pytestmark = pytest.mark.browser


@contextmanager
def proxy_page(
    browser: Browser, tmp_path: Path, **settings: Any
) -> Iterator[tuple[Page, RunningProxy]]:
    with running_proxy(tmp_path, **settings) as proxy:
        context = new_context(browser)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        try:
            yield page, proxy
        finally:
            context.close()
        assert errors == [], f"uncaught errors in the page: {errors}"


def hold(
    proxy: RunningProxy, take: Callable[[threading.Event], Coroutine[Any, Any, None]]
) -> tuple[threading.Event, Future[None]]:
    """Run `take(release)` on the proxy's loop until the returned event is set."""
    release = threading.Event()
    return release, asyncio.run_coroutine_threadsafe(take(release), proxy.loop)


def fill_sign_in(page: Page, proxy: RunningProxy) -> None:
    page.goto(f"{proxy.page_base}/softphone/softphone.html")
    page.get_by_label("Sign-in address").fill("1001")
    page.get_by_label("Password").fill("demo")
    page.get_by_role("button", name="Sign in", exact=True).click()


def test_a_busy_sign_in_says_so_and_signs_in_by_itself(browser: Browser, tmp_path: Path) -> None:
    with proxy_page(browser, tmp_path, hash_workers=1, sign_ins_waiting=0) as (page, proxy):
        taken = threading.Event()

        async def take(release: threading.Event) -> None:
            def work() -> None:
                taken.set()
                release.wait()

            held = proxy.services.auth.hashes.submit(work)
            assert held is not None
            await held

        release, done = hold(proxy, take)
        try:
            assert taken.wait(5)
            fill_sign_in(page, proxy)
            expect(
                page.get_by_text("The phone server is busy; trying again in 3 seconds.")
            ).to_be_visible()
        finally:
            release.set()
        done.result(5)
        expect(page.get_by_text("Ready for calls")).to_be_visible(timeout=10_000)


def test_a_busy_socket_says_so_and_connects_by_itself(
    browser: Browser, tmp_path: Path, artifacts: Path
) -> None:
    with proxy_page(browser, tmp_path, openings_at_once=1, openings_waiting=0) as (page, proxy):
        entered = threading.Event()

        async def take(release: threading.Event) -> None:
            async with proxy.services.openings.enter():
                entered.set()
                await asyncio.to_thread(release.wait)

        release, done = hold(proxy, take)
        try:
            assert entered.wait(5)
            fill_sign_in(page, proxy)
            status = page.locator("#connection")
            expect(status).to_have_attribute("data-state", "busy")
            expect(status).to_contain_text("The phone server is busy. Reconnecting in")
            # Not "Ready for calls" while no call can reach this page.
            expect(page.locator("#idle-state-text")).to_have_text("Connecting…")
            page.screenshot(path=artifacts / "40-server-busy.png")
        finally:
            release.set()
        done.result(5)
        expect(page.locator("#connection")).to_have_attribute(
            "data-state", "connected", timeout=10_000
        )
        expect(page.get_by_text("Ready for calls")).to_be_visible()
