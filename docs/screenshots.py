"""Retakes the admin guide's screenshots from the demo console.

Run `.venv/bin/python -m docs.screenshots` from the checkout.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

from tests.browser.chromium import CHROMIUM, FLAGS
from tests.harness import running_proxy

OUT = Path(__file__).resolve().parent / "images"
SLOW = 15_000


def main() -> None:
    with (
        tempfile.TemporaryDirectory() as tmp,
        running_proxy(Path(tmp)) as proxy,
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=FLAGS
        )
        page = browser.new_page(viewport={"width": 1280, "height": 720}, locale="en-US")
        page.goto(f"{proxy.base_url}/console/")
        phone = page.frame_locator("#softphone")
        phone.get_by_label("Sign-in address").fill("1001")
        phone.get_by_label("Password").fill("demo")
        phone.get_by_role("button", name="Sign in").click()
        expect(phone.get_by_text("Ready for calls")).to_be_visible(timeout=SLOW)
        proxy.place_call(ani="+16504508811")
        expect(page.get_by_role("tab", name="Contact: James Okafor")).to_be_visible(timeout=SLOW)
        page.screenshot(path=str(OUT / "console-ringing.png"))
        phone.get_by_role("button", name="Answer").click()
        time.sleep(2.2)  # the call timer shows a couple of seconds
        page.screenshot(path=str(OUT / "console-call.png"))
        browser.close()


if __name__ == "__main__":
    main()
