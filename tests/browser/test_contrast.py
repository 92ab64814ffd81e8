"""Every piece of text on the main screens meets WCAG AA contrast (4.5:1; 3:1 for large text)."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import FrameLocator, Page, expect

from tests.harness import RunningProxy

SLOW = 15_000
# For every visible element with its own text: its colour against the first opaque background
# behind it, as WCAG 2 computes contrast. Returns the ones below the threshold.
FAILURES = """
() => {
  const rgb = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] > 0.9)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const bad = [];
  for (const el of document.querySelectorAll("body *")) {
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    const style = getComputedStyle(el);
    if (!own || style.visibility === "hidden" || el.offsetParent === null) continue;
    if (el.closest("[disabled]")) continue;  // WCAG exempts disabled controls
    const fg = rgb(style.color).slice(0, 3);
    const [a, b] = [lum(fg), lum(background(el))];
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    const size = parseFloat(style.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
    if (ratio < (large ? 3 : 4.5)) {
      const text = el.textContent.trim().slice(0, 30);
      bad.push(`${el.tagName.toLowerCase()} "${text}" ${ratio.toFixed(2)}:1`);
    }
  }
  return bad;
}
"""


def failures(phone: FrameLocator) -> list[str]:
    result: list[str] = phone.locator("body").evaluate(f"(body) => ({FAILURES})()")
    return result


def try_sign_in(page: Page, proxy: RunningProxy, password: str) -> FrameLocator:
    page.goto(proxy.console_url)
    phone = page.frame_locator("#softphone")
    phone.get_by_label("Sign-in address").fill("1001")
    phone.get_by_label("Password").fill(password)
    phone.get_by_role("button", name="Sign in", exact=True).click()
    return phone


def sign_in(page: Page, proxy: RunningProxy) -> FrameLocator:
    phone = try_sign_in(page, proxy, "demo")
    expect(phone.get_by_text("Ready for calls")).to_be_visible(timeout=SLOW)
    return phone


def test_signed_out_screen_has_enough_contrast(page: Page, proxy: RunningProxy) -> None:
    """The sign-in form, including its error message."""
    phone = try_sign_in(page, proxy, "wrong")
    expect(phone.get_by_role("alert")).to_be_visible(timeout=SLOW)
    assert failures(phone) == []


@pytest.mark.parametrize("screen", ["idle", "ringing", "active", "settings"])
def test_each_screen_has_enough_contrast(
    page: Page, proxy: RunningProxy, screen: str, artifacts: Path
) -> None:
    """Idle (lists), ringing, on a call and settings: no text under WCAG AA."""
    phone = sign_in(page, proxy)
    if screen in ("ringing", "active"):
        proxy.place_call(ani="+16504508811")
        expect(phone.get_by_text("Incoming call")).to_be_visible(timeout=SLOW)
        if screen == "active":
            phone.get_by_role("button", name="Answer").click()
            expect(phone.get_by_text("On call")).to_be_visible(timeout=SLOW)
    elif screen == "settings":
        phone.get_by_role("button", name="Settings").click()
        expect(phone.get_by_role("tab", name="General")).to_be_visible()
    page.screenshot(path=artifacts / f"contrast-{screen}.png")
    assert failures(phone) == []
