"""HTTP endpoints: sign-in and sign-out, health, the softphone page, and the demo's extras."""

from __future__ import annotations

import secrets
import time
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import APIRouter, FastAPI, Header, HTTPException, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field

from proxy.agents.auth import SESSION_COOKIE, SignInFailed
from proxy.agents.signin import ExtensionRequired
from proxy.cluster.line import REDIS_LOST_SECONDS
from proxy.errors import LinkError
from proxy.salesforce.standin.org import StandinOrg
from proxy.services import services_of
from proxy.web.metrics import CONTENT_TYPE, Metrics
from softphone.errors import CommandRefused
from softphone.events import CallState
from softphone.messages.to_page import AgentView

if TYPE_CHECKING:
    from proxy.services import Services


class SignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    address: str = Field(min_length=1, max_length=80)
    password: str = Field(min_length=1, max_length=256)
    # Hot-desk agents only: the phone they sit at today (their roster extension when empty).
    extension: str = Field(default="", max_length=16)


class SessionCreated(BaseModel):
    token: str
    agent: AgentView


class CurrentSession(BaseModel):
    agent: AgentView | None


def _session_cookie(response: Response, token: str, seconds: int) -> None:
    """The session as a partitioned cookie: framed cross-site inside Salesforce, with
    third-party cookies blocked, it is what survives a reload where storage does not
    (docs/browsers.md). HttpOnly: the page's script never needs to read it. Written by hand
    because the standard library learns `Partitioned` only in Python 3.14."""
    response.headers.append(
        "set-cookie",
        f"{SESSION_COOKIE}={token}; Max-Age={seconds}; Path=/; Secure; HttpOnly; "
        "SameSite=None; Partitioned",
    )


def _token(authorization: str, request: Request) -> str:
    """The session token: a bearer header (tabs that keep it) or the session cookie."""
    bearer = authorization.removeprefix("Bearer ").strip()
    return bearer or request.cookies.get(SESSION_COOKIE, "")


async def sign_in(body: SignIn, request: Request, response: Response) -> SessionCreated:
    """POST /api/v1/sessions: a password sign-in, the refusals said as HTTP statuses."""
    services = services_of(request)
    metrics = services.metrics
    try:
        signed = await services.signins.password(body.address, body.password, body.extension)
    except ExtensionRequired as exc:
        # A hot-desk agent names the phone they sit at; the page asks only them.
        detail = {
            "code": exc.code,
            "message": exc.message,
            "default_extension": exc.default_extension,
        }
        raise HTTPException(400, detail) from None
    except SignInFailed as exc:
        metrics.sign_ins.labels(exc.code).inc()
        status = {"locked_out": 429, "seats_full": 403, "busy": 503}.get(exc.code, 401)
        headers = {"retry-after": str(exc.retry_after)} if exc.retry_after else None
        detail = {"code": exc.code, "message": exc.message}
        raise HTTPException(status, detail, headers=headers) from None
    except (CommandRefused, LinkError) as exc:
        # Signed in but not seated at the phone they named: no session (signins saw to it).
        metrics.sign_ins.labels("refused").inc()
        code = exc.code
        message = exc.message if isinstance(exc, CommandRefused) else str(exc)
        status = 502 if isinstance(exc, LinkError) else 400
        status = 409 if code == "extension_taken" else status
        raise HTTPException(status, {"code": code, "message": message}) from None
    metrics.sign_ins.labels("ok").inc()
    _session_cookie(response, signed.token, int(services.auth.session_seconds))
    agent = signed.agent
    view = AgentView(address=agent.address, name=agent.name, extension=signed.extension)
    return SessionCreated(token=signed.token, agent=view)


def api_router() -> APIRouter:
    router = APIRouter()

    refused: dict[int | str, dict[str, str]] = {401: {"description": "refused"}}
    router.post("/api/v1/sessions", status_code=201, responses=refused)(sign_in)

    @router.get("/api/v1/sessions/current")
    async def current_session(
        request: Request, response: Response, authorization: str = Header(default="")
    ) -> CurrentSession:
        """Who this browser is signed in as (`agent` null: nobody): a reloaded page resumes its
        session from here."""
        response.headers["cache-control"] = "no-store"
        agent = await services_of(request).auth.agent_for(_token(authorization, request))
        if agent is None:
            return CurrentSession(agent=None)
        try:
            device = await services_of(request).signins.seats.seated(agent.address)
        except (CommandRefused, LinkError):
            device = ""  # the link holder did not answer: the roster's extension
        view = AgentView(
            address=agent.address, name=agent.name, extension=device or agent.extension
        )
        return CurrentSession(agent=view)

    @router.delete("/api/v1/sessions", status_code=204)
    async def sign_out(request: Request, authorization: str = Header(default="")) -> Response:
        services = services_of(request)
        await services.signins.sign_out(_token(authorization, request))
        response = Response(status_code=204)
        _session_cookie(response, "", 0)  # forgotten at once
        return response

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        """Alive: the process answers (a load balancer's liveness probe)."""
        return {"status": "ok"}

    @router.get("/readyz", responses={503: {"description": "not ready"}})
    async def readyz(request: Request) -> JSONResponse:
        """Ready: the CTI link is up, the store answers, Salesforce's last answer was good."""
        services = services_of(request)
        checks = await readiness(services)
        ok = all(c == "ok" for c in checks.values())
        body = {"ready": ok, **checks, **cluster_role(services)}
        return JSONResponse(body, status_code=200 if ok else 503)

    @router.get("/metrics")
    async def metrics_page(request: Request, authorization: str = Header(default="")) -> Response:
        """Prometheus metrics; with SOFTPHONE_METRICS_TOKEN set, only for that bearer token."""
        services = services_of(request)
        token = services.settings.metrics_token.get_secret_value()
        if token and not secrets.compare_digest(authorization, f"Bearer {token}"):
            return Response(status_code=401, headers={"www-authenticate": "Bearer"})
        await refresh_metrics(services.metrics, services)
        return Response(services.metrics.render(), media_type=CONTENT_TYPE)

    return router


async def readiness(services: Services) -> dict[str, str]:
    checks = {"link": _link_check(services)}
    line = services.line
    if line is not None:
        quiet = time.monotonic() - line.last_reached
        checks["redis"] = "ok" if quiet < REDIS_LOST_SECONDS else f"no answer for {quiet:.0f} s"
    try:
        await services.store.outbox_counts()
        checks["store"] = "ok"
    except Exception as exc:  # any database error means not ready, said plainly
        checks["store"] = f"error: {type(exc).__name__}"
    api = services.salesforce
    error = getattr(api, "last_error", "") if api is not None else ""
    checks["salesforce"] = "ok" if not error else f"error: {error}"
    return checks


def _link_check(services: Services) -> str:
    """On a single node and on the link holder: the link is up. On any other node of a
    cluster: some node holds the link (this one serves pages through it)."""
    line = services.line
    if line is None or services.runs_core:
        return "ok" if services.link.connected else "not connected"
    return "ok" if line.holder is not None else "no node holds the link"


def cluster_role(services: Services) -> dict[str, str]:
    """Who this node is in its cluster, for /readyz (nothing on a single node)."""
    line = services.line
    if line is None:
        return {}
    return {
        "node": services.node,
        "role": "holder" if services.runs_core else "node",
        "holder": line.holder.node if line.holder is not None else "",
    }


def mount_static(app: FastAPI, static: Path) -> None:
    app.mount("/softphone", StaticFiles(directory=static / "softphone"), name="softphone")


def mount_demo(app: FastAPI, static: Path, org: StandinOrg | None, *, public_url: str) -> None:
    """The demo console, which plays the Salesforce host, and the Open CTI stand-in script."""
    app.mount("/console", StaticFiles(directory=static / "console", html=True), name="console")
    standin_script = static / "console" / "opencti-standin.js"

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/console/")

    # The paths Salesforce serves Open CTI from; the console is the "Salesforce" origin here.
    @app.get("/support/api/{version}/lightning/opencti_min.js", include_in_schema=False)
    @app.get("/support/api/{version}/interaction.js", include_in_schema=False)
    async def opencti(version: str) -> FileResponse:
        return FileResponse(standin_script, media_type="text/javascript")

    @app.get("/demo/api/config", include_in_schema=False)
    async def console_config() -> dict[str, str]:
        """Where the console frames the softphone from: the public URL when one is set; else
        the console picks the other loopback name, so the frame is cross-site as in Salesforce."""
        return {"softphone_origin": public_url.rstrip("/")}

    @app.get("/demo/api/search", include_in_schema=False)
    async def search(number: str) -> JSONResponse:
        """What the agent's own search finds (searchAndScreenPop, our Apex class) in the demo."""
        if org is None:
            raise HTTPException(404, "no demo org")
        return JSONResponse(org.find_by_phone(number))

    @app.get("/demo/api/records/{record_id}", include_in_schema=False)
    async def record(record_id: str) -> JSONResponse:
        found = org.get(record_id) if org is not None else None
        if found is None:
            raise HTTPException(404, "no such record in the demo org")
        return JSONResponse({"object": found[0], "fields": found[1]})


async def refresh_metrics(metrics: Metrics, services: Services) -> None:
    """Gauges read when /metrics is scraped: pages, calls, the API budget, the link, the outbox.

    Pages and calls are counted where they are all known, on the node running the core (in a
    cluster, the link holder: the whole cluster's); any other node counts its own sockets."""
    if services.runs_core:
        agents, sockets = services.pages.totals()
    else:
        here = services.node_pages.counts()
        agents, sockets = here["agents"], here["sockets"]
    metrics.agents_online.set(agents)
    metrics.sockets.set(sockets)
    if services.runs_core:
        counts = services.states.call_counts()
        for state in CallState:
            if state != CallState.CLEARED:
                metrics.calls.labels(state.value).set(counts.get(state, 0))
    if services.holder is not None:
        metrics.link_holder.set(1 if services.holder.holding else 0)
        new = services.holder.takeovers - metrics.takeovers_counted
        if new > 0:
            metrics.lease_takeovers.inc(new)
            metrics.takeovers_counted += new
    api = services.salesforce
    usage = api.api_usage if api is not None else None
    if usage is not None:
        used, limit = usage
        metrics.api_used.set(used)
        metrics.api_limit.set(limit)
        metrics.api_remaining.set(max(0, limit - used))
    link = services.link
    metrics.link_connected.set(1 if link.connected else 0)
    metrics.link_reconnects.set(link.reconnects)
    metrics.link_failovers.set(link.failovers)
    for row_state, n in (await services.store.outbox_counts()).items():
        metrics.outbox.labels(row_state).set(n)
    if services.writer is not None:
        metrics.tasks_written.set(services.writer.written)
