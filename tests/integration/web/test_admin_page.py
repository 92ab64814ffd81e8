"""The /admin status page: behind the admin password, escaped, showing the live state."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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
    assert data["agents"] == [
        {"agent": "1001", "extension": "1001", "pages": 1, "state": "ready", "reason": ""}
    ]
    assert data["totals"] == {"agents": 1, "online": 1, "pages": 1, "calls": 1}
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
    data = httpx.get(f"{proxy.base_url}/admin/status.json?size=500", auth=ADMIN).json()
    rows = data["agents"]
    assert len(rows) == 500 and [r["agent"] for r in rows] == sorted(r["agent"] for r in rows)
    assert rows[0] == {"agent": "5000", "extension": "", "pages": 2, "state": "ready", "reason": ""}
    assert all(r["pages"] == 1 for r in rows[1:]) and data["calls"] == []
    assert data["totals"] == {"agents": 2001, "online": 2000, "pages": 2001, "calls": 0}
    samples = scrape(proxy)
    assert samples["softphone_agents_online"] == 2000
    assert samples["softphone_agent_sockets"] == 2001


def admin_json(proxy: RunningProxy, **params: str | int) -> dict[str, Any]:
    response = httpx.get(f"{proxy.base_url}/admin/status.json", params=params, auth=ADMIN)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_ten_thousand_agents_come_a_page_at_a_time(proxy: RunningProxy) -> None:
    """10,000 agents online: page 1 holds the first 100 with the right totals and a link on;
    page 2 the next 100; the last page is short; searching finds the one agent."""
    proxy.run(_seat_many(proxy, 10_000))
    started = time.perf_counter()
    first = httpx.get(f"{proxy.base_url}/admin", auth=ADMIN)
    print(f"\n/admin at 10,000 agents answered in {1000 * (time.perf_counter() - started):.0f} ms")
    assert first.status_code == 200
    assert "Agents 1 to 100 of 10,000 matching (page 1 of 100)" in first.text
    assert "<dt>Agents online</dt><dd>10,000</dd>" in first.text
    assert "<dt>Softphone pages open</dt><dd>10,001</dd>" in first.text
    assert '<a rel=next href="/admin?page=2&amp;size=100&amp;q=&amp;status=online">' in first.text
    assert "rel=prev" not in first.text
    assert first.text.count("<tr>") == 101  # a header row, then one per agent
    by_address = sorted(f"{5000 + n}" for n in range(10_000))  # as text: 10000 before 5000
    data = admin_json(proxy)
    assert [r["agent"] for r in data["agents"]] == by_address[:100]
    assert data["totals"] == {"agents": 10_001, "online": 10_000, "pages": 10_001, "calls": 0}
    assert data["page"] == {
        "number": 1,
        "size": 100,
        "pages": 100,
        "matching": 10_000,
        "search": "",
        "status": "online",
    }
    second = admin_json(proxy, page=2)
    assert [r["agent"] for r in second["agents"]] == by_address[100:200]
    assert second["totals"] == data["totals"]
    last = admin_json(proxy, page=34, size=300)
    assert [r["agent"] for r in last["agents"]] == by_address[9900:]
    found = admin_json(proxy, q="12345")
    assert [r["agent"] for r in found["agents"]] == ["12345"]
    assert found["page"]["matching"] == 1
    everyone = admin_json(proxy, q="4999", status="all")
    assert [(r["agent"], r["pages"]) for r in everyone["agents"]] == [("14999", 1), ("4999", 0)]
    online = admin_json(proxy, q="4999")  # 4999 has no page open: not in the default view
    assert [r["agent"] for r in online["agents"]] == ["14999"]
    assert admin_json(proxy, status="busy")["page"]["matching"] == 0


def test_a_search_finds_an_agent_by_extension(proxy: RunningProxy) -> None:
    """The demo agent who signs in with an address finds by the extension their phone has."""
    address = next(
        a.address
        for a in proxy.run(proxy.services.store.list_agents())
        if a.address != a.extension and a.kind != "hot_desk"
    )
    agent = proxy.run(proxy.services.store.get_agent(address))
    assert agent is not None
    proxy.run(_seat_named(proxy, address))
    found = admin_json(proxy, q=agent.extension)
    assert [(r["agent"], r["extension"]) for r in found["agents"]] == [(address, agent.extension)]
    page = httpx.get(f"{proxy.base_url}/admin", params={"q": agent.extension}, auth=ADMIN).text
    assert f'value="{agent.extension}"' in page and "of 1 matching" in page


async def _seat_named(proxy: RunningProxy, address: str) -> None:
    from proxy.agents.states import AgentProfile

    proxy.services.states.register(address, AgentProfile())
    proxy.services.pages.active(address, "page-x")


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"page": "0"}, "page '0': a whole number from 1 to 1,000,000"),
        ({"page": "two"}, "page 'two': a whole number from 1 to 1,000,000"),
        ({"page": "-1"}, "page '-1': a whole number from 1 to 1,000,000"),
        ({"page": "9"}, "page 9: the last page is 1"),
        ({"size": "501"}, "size '501': a whole number from 1 to 500"),
        ({"status": "asleep"}, "status 'asleep': one of online, all, logged_out"),
        ({"q": "x" * 81}, "q: at most 80 characters"),
    ],
)
def test_bad_page_parameters_get_a_clear_400(
    proxy: RunningProxy, params: dict[str, str], reason: str
) -> None:
    """A page that is not a page, past the last, too big, or an unknown status: 400 saying so,
    on the page and in the JSON; and still 401 before signing in."""
    page = httpx.get(f"{proxy.base_url}/admin", params=params, auth=ADMIN)
    assert page.status_code == 400 and reason in page.text
    data = httpx.get(f"{proxy.base_url}/admin/status.json", params=params, auth=ADMIN)
    assert data.status_code == 400 and reason in data.json()["error"]
    assert httpx.get(f"{proxy.base_url}/admin", params=params).status_code == 401
