"""`/admin`: the status page an admin opens first, behind the admin password.

HTTP Basic over HTTPS (user `admin`, SOFTPHONE_ADMIN_PASSWORD), with the agents' lockout
after repeated wrong passwords. Off (404) while no admin password is set. `/admin/status.json`
is the same content for scripts. Everything shown is escaped; numbers are masked.
"""

from __future__ import annotations

import base64
import html
import secrets
import time
from typing import TYPE_CHECKING, TypedDict
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    Response,
)

from proxy.agents.auth import SignInFailed
from proxy.agents.roll import STATUSES, AgentRoll, RollPage, RollQuery, RollQueryError
from proxy.cluster.line import NODE_GONE_SECONDS
from proxy.services import services_of
from softphone.phone import mask

if TYPE_CHECKING:
    from proxy.services import Services

LOCK_KEY = "admin:basic"
DEAD_SHOWN = 100  # the outbox's counts say how many more there are


def _unauthorized(message: str = "admin sign-in required") -> Response:
    return Response(
        message, status_code=401, headers={"www-authenticate": 'Basic realm="softphone admin"'}
    )


async def _authorized(request: Request) -> Response | None:
    """None when the request carries the admin password, else the response to send."""
    services: Services = services_of(request)
    password = services.settings.admin_password.get_secret_value()
    if not password:
        return Response(status_code=404)
    # The agents' lockout, under a key no agent address can be.
    auth = services.auth
    try:
        await auth.check_lock(LOCK_KEY)
    except SignInFailed:
        return Response("too many wrong passwords; try later", status_code=429)
    header = request.headers.get("authorization", "")
    try:
        user, _, given = base64.b64decode(header.removeprefix("Basic ")).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        user, given = "", ""
    if header.startswith("Basic ") and user == "admin" and secrets.compare_digest(given, password):
        await auth.right_password(LOCK_KEY)
        return None
    if header:
        await auth.wrong_password(LOCK_KEY)
    return _unauthorized()


class LinkStatus(TypedDict):
    connected: bool
    address: str
    reconnects: int
    failovers: int


class AgentRow(TypedDict):
    agent: str
    extension: str
    pages: int
    state: str
    reason: str


class Totals(TypedDict):
    agents: int
    online: int
    pages: int
    calls: int


class PageInfo(TypedDict):
    number: int
    size: int
    pages: int
    matching: int
    search: str
    status: str


class CallRow(TypedDict):
    agent: str
    call_id: str
    state: str
    direction: str
    number: str
    since: int


class PopRow(TypedDict):
    at: int
    call_id: str
    agent: str
    pop: str
    rule: str
    ms: float


class DeadLetter(TypedDict):
    call_object: str
    error: str


class ApiBudget(TypedDict):
    used: int
    limit: int


class NodeRow(TypedDict):
    node: str
    holder: bool
    sockets: int
    agents: int
    seen: float  # seconds since the node last reported in
    gone: bool


class ClusterStatus(TypedDict):
    node: str  # this one
    role: str  # "holder" or "node"
    holder: str  # the node holding the PBX link ("" while none does)
    takeovers: int  # times this node took the link
    nodes: list[NodeRow]


class Status(TypedDict):
    """What `/admin` shows and `/admin/status.json` returns."""

    link: LinkStatus
    totals: Totals
    page: PageInfo
    agents: list[AgentRow]
    calls: list[CallRow]
    recent_pops: list[PopRow]
    outbox: dict[str, int]
    dead_letters: list[DeadLetter]
    api: ApiBudget | None
    salesforce: str
    cluster: ClusterStatus | None


def _roll(services: Services, query: RollQuery) -> RollPage:
    """One page of agents: a pass over the agents of dict look-ups, and the page's own rows
    read in full (issue 16: a count rebuilt per agent froze the loop for over a minute)."""
    return AgentRoll(services.states, services.pages, services.seating.device_of).page(query)


def _page_rows(roll: RollPage) -> tuple[list[AgentRow], list[CallRow]]:
    now = time.time()
    agents: list[AgentRow] = [
        {
            "agent": line.agent,
            "extension": line.extension,
            "pages": line.pages,
            "state": line.state,
            "reason": line.reason,
        }
        for line in roll.lines
    ]
    calls: list[CallRow] = [
        {
            "agent": agent,
            "call_id": call.call_id,
            "state": call.state.value,
            "direction": call.direction.value,
            "number": mask(call.ani or call.dnis),
            "since": round(now - call.started_at),
        }
        for agent, call in roll.calls
    ]
    return agents, calls


async def status(services: Services, query: RollQuery) -> Status:
    """The status for one page of agents; `RollQueryError` for a page past the last."""
    settings, link, api = services.settings, services.link, services.salesforce
    usage = api.api_usage if api is not None else None
    roll = _roll(services, query)
    agents, calls = _page_rows(roll)
    dead = (await services.store.outbox_rows("dead"))[:DEAD_SHOWN]
    return {
        "link": {
            "connected": link.connected,
            "address": link.active_url,
            "reconnects": link.reconnects,
            "failovers": link.failovers,
        },
        "totals": {
            "agents": roll.totals.agents,
            "online": roll.totals.online,
            "pages": roll.totals.pages,
            "calls": roll.totals.calls,
        },
        "page": {
            "number": query.page,
            "size": query.size,
            "pages": roll.pages,
            "matching": roll.matching,
            "search": query.search,
            "status": query.status,
        },
        "agents": agents,
        "calls": calls,
        "recent_pops": [
            {
                "at": round(p.at),
                "call_id": p.call_id,
                "agent": p.agent,
                "pop": p.pop.kind,
                "rule": p.pop.rule,
                "ms": round(p.seconds * 1000, 1),
            }
            for p in reversed(services.lookups.recent_pops)
        ],
        "outbox": await services.store.outbox_counts(),
        "dead_letters": [{"call_object": r.call_object, "error": r.last_error} for r in dead],
        "api": None if usage is None else {"used": usage[0], "limit": usage[1]},
        "salesforce": settings.salesforce_url.split("?")[0],
        "cluster": await _cluster(services),
    }


async def _cluster(services: Services) -> ClusterStatus | None:
    """The cluster's nodes as they last reported in (None on a single node)."""
    line, holder = services.line, services.holder
    if line is None or holder is None:
        return None
    held = line.holder.node if line.holder is not None else ""
    nodes: list[NodeRow] = [
        {
            "node": str(n["node"]),
            "holder": n["node"] == held,
            "sockets": int(n.get("sockets", 0)),
            "agents": int(n.get("agents", 0)),
            "seen": round(float(n["age"]), 1),
            "gone": float(n["age"]) >= NODE_GONE_SECONDS,
        }
        for n in await line.nodes()
    ]
    return {
        "node": services.node,
        "role": "holder" if holder.holding else "node",
        "holder": held,
        "takeovers": holder.takeovers,
        "nodes": nodes,
    }


def _cluster_section(data: Status) -> list[str]:
    cluster = data["cluster"]
    if cluster is None:
        return []
    holder = cluster["holder"] or "no node (a takeover is under way)"
    note = (
        "This node holds the PBX link: the agents and calls below are the whole cluster's."
        if cluster["role"] == "holder"
        else f"This node does not hold the PBX link: agents' states and calls are shown on the "
        f"admin page of {holder}."
    )
    rows: list[list[str | int | float]] = [
        [
            n["node"],
            "holds the link" if n["holder"] else "serves pages",
            n["sockets"],
            n["agents"],
            "gone" if n["gone"] else f"{n['seen']} s ago",
        ]
        for n in cluster["nodes"]
    ]
    return [
        "<h2>Cluster</h2>",
        f"<p>This is node <strong>{html.escape(cluster['node'])}</strong>; the PBX link is held "
        f"by {html.escape(holder)}. {html.escape(note)}</p>",
        _table(
            ["node", "role", "pages open", "agents", "last report"],
            rows,
            "No node has reported in.",
            caption="Nodes on this cluster's Redis",
        ),
    ]


def _table(
    headers: list[str], rows: list[list[str | int | float]], empty: str, caption: str = ""
) -> str:
    if not rows:
        return f'<p class="muted">{html.escape(empty)}</p>'
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    head = "".join(f"<th scope=col>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _search_form(page: PageInfo) -> str:
    """A GET form: every control labelled, reachable and sent with the keyboard alone."""
    search = html.escape(page["search"])
    options = "".join(
        f"<option{' selected' if s == page['status'] else ''}>{html.escape(s)}</option>"
        for s in STATUSES
    )
    return (
        '<form method=get action="/admin" role=search aria-label="Find agents">'
        "<label for=agent-search>Address or extension</label> "
        f'<input id=agent-search name=q type=search maxlength=80 value="{search}">'
        " <label for=agent-status>Status</label> "
        f"<select id=agent-status name=status>{options}</select>"
        " <label for=agent-size>Per page</label> "
        f'<input id=agent-size name=size type=number min=1 max=500 value="{page["size"]}">'
        " <button type=submit>Find</button></form>"
    )


def _page_link(page: PageInfo, number: int | None, rel: str, label: str) -> str:
    if number is None:
        return f"<span class=muted aria-disabled=true>{label}</span>"
    query = {"page": number, "size": page["size"], "q": page["search"], "status": page["status"]}
    href = html.escape("/admin?" + urlencode(query))
    return f'<a rel={rel} href="{href}">{label}</a>'


def _agents_section(data: Status) -> list[str]:
    page, totals = data["page"], data["totals"]
    first = (page["number"] - 1) * page["size"] + 1 if data["agents"] else 0
    last = first + len(data["agents"]) - 1 if data["agents"] else 0
    summary = (
        f"Agents {first:,} to {last:,} of {page['matching']:,} matching"
        f" (page {page['number']:,} of {page['pages']:,})"
    )
    previous = page["number"] - 1 if page["number"] > 1 else None
    following = page["number"] + 1 if page["number"] < page["pages"] else None
    return [
        "<h2>Totals</h2>",
        f"<dl><dt>Agents signed in since start</dt><dd>{totals['agents']:,}</dd>"
        f"<dt>Agents online</dt><dd>{totals['online']:,}</dd>"
        f"<dt>Softphone pages open</dt><dd>{totals['pages']:,}</dd>"
        f"<dt>Calls in progress</dt><dd>{totals['calls']:,}</dd></dl>",
        "<h2 id=agents-heading>Agents</h2>",
        _search_form(page),
        _table(
            ["agent", "extension", "pages open", "state", "reason"],
            [
                [a["agent"], a["extension"], a["pages"], a["state"], a["reason"]]
                for a in data["agents"]
            ],
            "No agent matches." if page["search"] else "No agent has the softphone open.",
            caption=summary,
        ),
        '<nav aria-label="Agent pages">',
        _page_link(page, previous, "prev", "Previous page"),
        " ",
        _page_link(page, following, "next", "Next page"),
        "</nav>",
    ]


def render(data: Status) -> str:
    link = data["link"]
    link_state = (
        '<span class="ok">connected</span>'
        if link["connected"]
        else '<span class="bad">down</span>'
    )
    api = data["api"]
    budget = "unknown" if api is None else f"{api['limit'] - api['used']:,} of {api['limit']:,}"
    outbox = data["outbox"]
    dead_class = "bad" if outbox.get("dead") else "ok"
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        "<title>softphone-proxy status</title>",
        '<link rel=stylesheet href="/admin/admin.css"></head><body><main>',
        "<h1>softphone-proxy status</h1>",
        "<h2>CTI link</h2>",
        f"<p>{link_state} to {html.escape(link['address'])}: "
        f"{link['reconnects']} reconnects, {link['failovers']} failovers</p>",
        *_cluster_section(data),
        "<h2>Salesforce</h2>",
        f"<p>{html.escape(data['salesforce'])}: {budget} API calls left today</p>",
        *_agents_section(data),
        "<h2>Calls of the agents shown</h2>",
        _table(
            ["agent", "call", "state", "direction", "number", "seconds"],
            [
                [c["agent"], c["call_id"], c["state"], c["direction"], c["number"], c["since"]]
                for c in data["calls"]
            ],
            "No calls.",
        ),
        "<h2>Recent pops</h2>",
        _table(
            ["call", "agent", "pop", "rule", "ms"],
            [[p["call_id"], p["agent"], p["pop"], p["rule"], p["ms"]] for p in data["recent_pops"]],
            "No pops yet.",
        ),
        "<h2>Call log outbox</h2>",
        f"<p>{outbox['pending']} waiting, {outbox['written']} written, "
        f'<span class="{dead_class}">{outbox["dead"]} dead</span></p>',
        _table(
            ["CallObject", "Salesforce's error"],
            [[d["call_object"], d["error"]] for d in data["dead_letters"]],
            "No dead letters.",
            caption=f"The first {DEAD_SHOWN} dead letters" if outbox["dead"] > DEAD_SHOWN else "",
        ),
        '<p class="muted">Retry dead letters with <code>softphone-proxy outbox '
        "--retry-all-dead</code> once their cause is fixed.</p>",
        "</main></body></html>",
    ]
    return "".join(parts)


def admin_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/admin/admin.css")
    async def stylesheet(request: Request) -> Response:
        static = services_of(request).settings.static_dir
        return FileResponse(static / "admin" / "admin.css", media_type="text/css")

    @router.get("/admin")
    async def page(request: Request) -> Response:
        refused = await _authorized(request)
        if refused is not None:
            return refused
        try:
            query = RollQuery.parse(dict(request.query_params))
            data = await status(services_of(request), query)
        except RollQueryError as exc:
            return PlainTextResponse(f"Bad request: {exc}", status_code=400)
        return HTMLResponse(render(data), headers={"cache-control": "no-store"})

    @router.get("/admin/status.json")
    async def as_json(request: Request) -> Response:
        refused = await _authorized(request)
        if refused is not None:
            return refused
        try:
            query = RollQuery.parse(dict(request.query_params))
            data = await status(services_of(request), query)
        except RollQueryError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse(data, headers={"cache-control": "no-store"})

    return router
