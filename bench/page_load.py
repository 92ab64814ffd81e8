"""Softphone page load: time to interactive in headless Chromium, and the page's own weight.

The demo proxy serves the page; Chromium loads it 20 times (a fresh context each time, so
nothing is cached) and the page's own `softphone-ready` performance mark, set once the sign-in
form works and Open CTI is told the phone is ready, gives the time from navigation start.
"""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

from proxy.settings import Settings
from tests.browser.chromium import CHROMIUM, FLAGS
from tests.harness import serving_in_thread

STATIC = Path(__file__).resolve().parents[1] / "static" / "softphone"
BUDGET_BYTES = 150 * 1024
READY_MS = "performance.getEntriesByName('softphone-ready')[0].startTime"


def own_bytes() -> dict[str, int]:
    """Bytes of our own HTML, JS and CSS (and, apart, the translations the page fetches)."""
    sizes = {"html+js+css": 0, "json (one language loaded)": 0}
    for path in STATIC.rglob("*"):
        if path.suffix in (".html", ".js", ".css"):
            sizes["html+js+css"] += path.stat().st_size
    sizes["json (one language loaded)"] = (STATIC / "i18n" / "en.json").stat().st_size
    return sizes


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def run(loads: int = 20) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(demo=True, database_url=f"sqlite+aiosqlite:///{tmp}/bench.db")
        with (
            serving_in_thread(settings) as (base_url, _app, _loop),
            sync_playwright() as playwright,
        ):
            chromium = playwright.chromium
            browser = chromium.launch(executable_path=str(CHROMIUM), headless=True, args=FLAGS)
            url = f"{base_url}/softphone/softphone.html"
            timings: list[float] = []
            for i in range(loads + 1):
                context = browser.new_context()
                page = context.new_page()
                page.goto(url)
                # A selector, not a predicate: polling a predicate evaluates a string, which the
                # page's CSP (no 'unsafe-eval') refuses once the page takes a moment to be ready.
                page.locator("body[data-ready='true']").wait_for(state="attached", timeout=30_000)
                assert page.locator("#signin").is_enabled()
                ready = float(page.evaluate(READY_MS))
                context.close()
                if i:  # the first load warms the server and the browser; it is not counted
                    timings.append(ready)
            browser.close()
    sizes = own_bytes()
    print(f"softphone page load, {loads} cold loads in headless Chromium (demo proxy, loopback)")
    print(
        f"  time to interactive: p50 {statistics.median(timings):.0f} ms, "
        f"p95 {percentile(timings, 95):.0f} ms, min {min(timings):.0f} ms, "
        f"max {max(timings):.0f} ms"
    )
    total = sizes["html+js+css"]
    print(
        f"  own HTML+JS+CSS: {total / 1024:.1f} KB of {BUDGET_BYTES / 1024:.0f} KB budget "
        f"({total / BUDGET_BYTES:.0%}); translations loaded: "
        f"{sizes['json (one language loaded)'] / 1024:.1f} KB"
    )


if __name__ == "__main__":
    run()
