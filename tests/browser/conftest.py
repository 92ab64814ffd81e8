"""Browser tests live in the customer's world: Chromium reaches the proxy as `https://` through a
TLS terminator that adds no forwarded headers (as an L4 load balancer does), and the demo console
plays Salesforce from another site (`https://acme.lightning.force.com`), so the softphone page is
a third-party frame. A new Chromium context blocks third-party cookies and storage, as Safari,
incognito windows and many enterprise policies do."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests import harness
from tests.browser.chromium import CHROMIUM, FLAGS, new_context
from tests.harness import RunningProxy
from tests.tls_terminator import PUBLIC_HOST, SALESFORCE_HOST, Terminator, tls_terminator


@pytest.fixture(scope="package")
def terminator() -> Iterator[Terminator]:
    """One TLS terminator for the package, pointed at each proxy a test starts."""
    with tls_terminator("http://127.0.0.1:9") as running:

        def point_at(proxy: RunningProxy) -> None:
            running.upstream = proxy.base_url
            proxy.public_base = f"https://{PUBLIC_HOST}"
            proxy.salesforce_base = f"https://{SALESFORCE_HOST}"

        harness.proxy_started.append(point_at)
        yield running
        harness.proxy_started.remove(point_at)


# Package scope, not session: sync Playwright keeps an event loop running on this thread while
# it is open, which would break the async tests that run after the browser tests.
@pytest.fixture(scope="package")
def browser(terminator: Terminator) -> Iterator[Browser]:
    """Debian's Chromium, headless; scripts/test installs it, so its absence is a failure.

    The org's and the proxy's public host names resolve to the TLS terminator on port 443."""
    assert CHROMIUM.exists(), "Debian's chromium is missing: run scripts/test, which installs it"
    rules = terminator.resolver_rules(SALESFORCE_HOST, PUBLIC_HOST)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=[*FLAGS, f"--host-resolver-rules={rules}"],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser, proxy: RunningProxy) -> Iterator[Page]:
    """A fresh browser context on the proxy; closed before the proxy stops."""
    context = new_context(browser)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert errors == [], f"uncaught errors in the page: {errors}"
