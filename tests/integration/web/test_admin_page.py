"""The /admin status page: behind the admin password, escaped, showing the live state."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.harness import RunningProxy, next_message, running_proxy, wait_for_call

ADMIN = ("admin", "admin-pass-123")


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[RunningProxy]:
    with running_proxy(tmp_path, admin_password=ADMIN[1], lockout_attempts=3) as running:
        yield running


def test_the_page_is_off_without_an_admin_password(tmp_path: Path) -> None:
    """No SOFTPHONE_ADMIN_PASSWORD, no admin page at all."""
    with running_proxy(tmp_path) as proxy:
        assert httpx.get(f"{proxy.base_url}/admin", auth=ADMIN).status_code == 404


def test_wrong_passwords_are_refused_then_locked(proxy: RunningProxy) -> None:
    """No or wrong credentials: 401 asking for Basic; repeated wrong ones lock the page."""
    url = f"{proxy.base_url}/admin"
    bare = httpx.get(url)
    assert bare.status_code == 401 and bare.headers["www-authenticate"].startswith("Basic")
    for _ in range(3):
        assert httpx.get(url, auth=("admin", "guess")).status_code == 401
    assert httpx.get(url, auth=ADMIN).status_code == 429


async def test_the_page_shows_agents_calls_pops_and_the_outbox(proxy: RunningProxy) -> None:
    """An agent online with a ringing call: link, agent, call (number masked), pop, budget."""
    async with proxy.connect(proxy.sign_in()) as ws:
        await next_message(ws)
        call_id = proxy.place_call(ani="+16504508811")
        await wait_for_call(ws, call_id, matching=False)
        page = httpx.get(f"{proxy.base_url}/admin", auth=ADMIN)
        data = httpx.get(f"{proxy.base_url}/admin/status.json", auth=ADMIN).json()
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert "connected</span> to ws://" in page.text
    assert data["agents"] == [{"agent": "1001", "pages": 1, "state": "ready", "reason": ""}]
    (call,) = data["calls"]
    assert call["call_id"] == call_id and call["state"] == "ringing"
    assert "6504508811" not in page.text and call["number"].endswith("8811")
    assert data["recent_pops"][0]["call_id"] == call_id
    assert data["recent_pops"][0]["pop"] == "record"
    assert data["outbox"] == {"pending": 0, "written": 0, "dead": 0}
    assert data["api"]["limit"] > data["api"]["used"] > 0
    assert httpx.get(f"{proxy.base_url}/admin/admin.css").status_code == 200


async def test_what_the_page_shows_is_escaped(proxy: RunningProxy) -> None:
    """A dead letter whose error holds markup is shown as text."""
    store = proxy.services.store
    from softphone.calllog import CallLog
    from softphone.events import Direction

    log = CallLog("x1", "1001", Direction.INBOUND, False, "+1", 0.0, state="queued")
    proxy.run(store.queue_call_log(log, [{"CallObject": "<script>alert(1)</script>"}], 0.0))
    proxy.run(store.outbox_failed("<script>alert(1)</script>", "<b>bad</b>", 0.0, True, 0.0))
    page = httpx.get(f"{proxy.base_url}/admin", auth=ADMIN).text
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "&lt;b&gt;bad&lt;/b&gt;" in page


async def _seat_many(proxy: RunningProxy, agents: int) -> None:
    """Register `agents` agents with one page each, plus one with two and one with none."""
    from proxy.agents.states import AgentProfile

    states, pages = proxy.services.states, proxy.services.pages
    for n in range(agents):
        states.register(f"{5000 + n}", AgentProfile())
        pages.active(f"{5000 + n}", f"page-{n}")
    pages.active("5000", "second-page")
    states.register("4999", AgentProfile())


def test_many_agents_are_each_counted_once(proxy: RunningProxy) -> None:
    """With 2,000 agents online, status.json and /metrics give each agent its own page count."""
    from tests.integration.web.test_metrics import scrape

    proxy.run(_seat_many(proxy, 2000))
    data = httpx.get(f"{proxy.base_url}/admin/status.json", auth=ADMIN).json()
    rows = data["agents"]
    assert len(rows) == 2000 and [r["agent"] for r in rows] == sorted(r["agent"] for r in rows)
    assert rows[0] == {"agent": "5000", "pages": 2, "state": "ready", "reason": ""}
    assert all(r["pages"] == 1 for r in rows[1:]) and data["calls"] == []
    samples = scrape(proxy)
    assert samples["softphone_agents_online"] == 2000
    assert samples["softphone_agent_sockets"] == 2001
