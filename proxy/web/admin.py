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

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response

from proxy.agents.auth import SignInFailed
from proxy.services import services_of
from softphone.phone import mask

if TYPE_CHECKING:
    from proxy.services import Services

LOCK_KEY = "admin:basic"


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
    pages: int
    state: str
    reason: str


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


class Status(TypedDict):
    """What `/admin` shows and `/admin/status.json` returns."""

    link: LinkStatus
    agents: list[AgentRow]
    calls: list[CallRow]
    recent_pops: list[PopRow]
    outbox: dict[str, int]
    dead_letters: list[DeadLetter]
    api: ApiBudget | None
    salesforce: str


def _agents_and_calls(services: Services) -> tuple[list[AgentRow], list[CallRow]]:
    """The online agents' rows and every call's, in one pass over the agents: at 10,000 agents a
    count rebuilt per agent froze the loop for over a minute (issue 16)."""
    states, pages, views = services.states, services.pages, services.views
    now = time.time()
    agents: list[AgentRow] = []
    calls: list[CallRow] = []
    for agent in sorted(states.profiles):
        open_pages = pages.count(agent)
        if open_pages:
            view = views.status_view(agent)
            agents.append(
                {
                    "agent": agent,
                    "pages": open_pages,
                    "state": view.state.value,
                    "reason": view.reason,
                }
            )
        # Read, not `machine()`: a status page must not create a call book for every agent.
        machine = states.machines.get(agent)
        for call in machine.calls.values() if machine is not None else ():
            calls.append(
                {
                    "agent": agent,
                    "call_id": call.call_id,
                    "state": call.state.value,
                    "direction": call.direction.value,
                    "number": mask(call.ani or call.dnis),
                    "since": round(now - call.started_at),
                }
            )
    return agents, calls


async def status(services: Services) -> Status:
    settings, link, api = services.settings, services.link, services.salesforce
    usage = api.api_usage if api is not None else None
    agents, calls = _agents_and_calls(services)
    dead = await services.store.outbox_rows("dead")
    return {
        "link": {
            "connected": link.connected,
            "address": link.active_url,
            "reconnects": link.reconnects,
            "failovers": link.failovers,
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
    }


def _table(headers: list[str], rows: list[list[str | int | float]], empty: str) -> str:
    if not rows:
        return f'<p class="muted">{html.escape(empty)}</p>'
    head = "".join(f"<th scope=col>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


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
        '<link rel=stylesheet href="/admin/admin.css"></head><body>',
        "<h1>softphone-proxy status</h1>",
        "<h2>CTI link</h2>",
        f"<p>{link_state} to {html.escape(link['address'])}: "
        f"{link['reconnects']} reconnects, {link['failovers']} failovers</p>",
        "<h2>Salesforce</h2>",
        f"<p>{html.escape(data['salesforce'])}: {budget} API calls left today</p>",
        "<h2>Agents online</h2>",
        _table(
            ["agent", "pages open", "state", "reason"],
            [[a["agent"], a["pages"], a["state"], a["reason"]] for a in data["agents"]],
            "No agent has the softphone open.",
        ),
        "<h2>Calls in progress</h2>",
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
        ),
        '<p class="muted">Retry dead letters with <code>softphone-proxy outbox '
        "--retry-all-dead</code> once their cause is fixed.</p>",
        "</body></html>",
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
        data = await status(services_of(request))
        return HTMLResponse(render(data), headers={"cache-control": "no-store"})

    @router.get("/admin/status.json")
    async def as_json(request: Request) -> Response:
        refused = await _authorized(request)
        if refused is not None:
            return refused
        data = await status(services_of(request))
        return JSONResponse(data, headers={"cache-control": "no-store"})

    return router
