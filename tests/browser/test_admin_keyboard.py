"""The admin page with many agents, by keyboard alone in Chromium: every control is named, the
search is reached and sent with Tab and Enter, and the pages are walked through their links."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.chromium import new_context
from tests.harness import RunningProxy, running_proxy
from tests.integration.web.test_admin_page import ADMIN, _seat_many


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[RunningProxy]:
    with running_proxy(tmp_path, admin_password=ADMIN[1]) as running:
        yield running


@pytest.fixture
def admin(browser: Browser, proxy: RunningProxy) -> Iterator[Page]:
    """A browser signed in to /admin with HTTP Basic, as an admin's browser asks for it."""
    credentials = {"username": ADMIN[0], "password": ADMIN[1]}
    context = new_context(browser, http_credentials=credentials)
    page = context.new_page()
    yield page
    context.close()


def tab_to(page: Page, tabs: int) -> None:
    for _ in range(tabs):
        page.keyboard.press("Tab")


def test_search_and_pages_by_keyboard(admin: Page, proxy: RunningProxy, artifacts: Path) -> None:
    """Tab reaches the search box first; Enter searches; Tab on to the next-page link and Enter
    turns the page; each control has a name a screen reader reads out."""
    proxy.run(_seat_many(proxy, 250))
    admin.goto(f"{proxy.public_base}/admin")
    search = admin.get_by_role("searchbox", name="Address or extension")
    expect(admin.get_by_role("search", name="Find agents")).to_be_visible()
    expect(admin.get_by_role("combobox", name="Status")).to_have_value("online")
    expect(admin.get_by_role("spinbutton", name="Per page")).to_have_value("100")
    expect(admin.get_by_role("button", name="Find")).to_be_visible()
    expect(admin.get_by_role("navigation", name="Agent pages")).to_be_visible()
    expect(admin.get_by_role("table", name="Agents 1 to 100 of 250 matching")).to_be_visible()
    admin.screenshot(path=artifacts / "50-admin-paged.png")

    tab_to(admin, 1)
    expect(search).to_be_focused()
    # A visible focus ring, not the browser's default that the page might have hidden.
    ring = search.evaluate("(e) => getComputedStyle(e).outlineStyle")
    assert ring == "solid"
    admin.keyboard.type("5123")
    admin.keyboard.press("Enter")
    expect(admin.get_by_text("Agents 1 to 1 of 1 matching (page 1 of 1)")).to_be_visible()
    expect(admin.get_by_role("row")).to_have_count(2)
    expect(admin.get_by_role("cell", name="5123", exact=True)).to_be_visible()

    admin.goto(f"{proxy.public_base}/admin")
    tab_to(admin, 5)  # search, status, per page, Find, then the first link: next page
    following = admin.get_by_role("link", name="Next page")
    expect(following).to_be_focused()
    admin.keyboard.press("Enter")
    expect(admin.get_by_text("Agents 101 to 200 of 250 matching (page 2 of 3)")).to_be_visible()
    tab_to(admin, 5)
    expect(admin.get_by_role("link", name="Previous page")).to_be_focused()
    admin.keyboard.press("Enter")
    expect(admin.get_by_text("Agents 1 to 100 of 250 matching (page 1 of 3)")).to_be_visible()
