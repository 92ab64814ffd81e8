"""The simulator's HTTP control API (OpenAPI at /sim/docs) and its two bridge endpoints.

`/sim/bridge` and `/sim/bridge-standby` are a primary and standby bridge in front of one PBX,
as an HA pair would be; `POST /sim/faults` breaks either on purpose. `GET /sim/bridge-sessions`
lists every session the bridges have had, in the order they opened and closed: a cluster test
reads there which node's link let go of the PBX before which other node's took it.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass, field
from typing import Literal

from fastapi import APIRouter, FastAPI, HTTPException, WebSocket
from pydantic import BaseModel, ConfigDict, Field

from proxy.simulator.bridge import BridgeSession, BridgeSwitch
from proxy.simulator.model import SimError, SimLeg
from proxy.simulator.pbx import SimulatedPbx

BridgeName = Literal["primary", "standby"]
FaultName = Literal["drop", "stall", "resume", "down", "up", "restart", "malformed"]


class InboundCall(BaseModel):
    """An outside caller dialling in: to an agent, or into an ACD queue (no agent)."""

    model_config = ConfigDict(extra="forbid")

    agent: str | None = Field(default=None, min_length=1, max_length=32, examples=["1001"])
    ani: str = Field(default="", max_length=32, examples=["+16504508810"])
    dnis: str = Field(default="", max_length=32, examples=["8005550100"])
    ivr: list[str] = Field(default=[], max_length=16, examples=[["Case.CaseNumber=00001027"]])
    queue: str = Field(default="", max_length=64, examples=["Support"])
    digits: str = Field(default="", max_length=32, pattern=r"^[0-9*#]*$", examples=["4411"])


class CallInfo(BaseModel):
    call_id: str
    agent: str
    state: str
    direction: str
    ani: str
    dnis: str
    far: str
    ivr: list[str]
    queue: str
    consult_of: str
    parties: list[str]
    dtmf: str

    @classmethod
    def of(cls, leg: SimLeg) -> CallInfo:
        return cls(
            call_id=leg.call_id,
            agent=leg.agent,
            state=leg.state.value,
            direction=leg.direction.value,
            ani=leg.ani,
            dnis=leg.dnis,
            far=leg.far,
            ivr=list(leg.ivr),
            queue=leg.queue,
            consult_of=leg.consult_of,
            parties=[f"{p.number} ({p.status.value})" for p in leg.parties],
            dtmf=leg.dtmf,
        )


class SessionInfo(BaseModel):
    """One proxy's session on a bridge: `opened` and `closed` are steps of one counter shared by
    every session, so they order openings and closings across sessions (wall clocks may tie)."""

    bridge: BridgeName
    peer: str
    opened: int
    closed: int | None
    opened_at: float
    closed_at: float | None


@dataclass
class SessionHistory:
    """Every bridge session so far, oldest first."""

    sessions: list[SessionInfo] = field(default_factory=list)
    steps: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def opened(self, bridge: BridgeName, ws: WebSocket) -> SessionInfo:
        peer = f"{ws.client.host}:{ws.client.port}" if ws.client is not None else ""
        info = SessionInfo(
            bridge=bridge,
            peer=peer,
            opened=next(self.steps),
            closed=None,
            opened_at=time.time(),
            closed_at=None,
        )
        self.sessions.append(info)
        return info

    def closed(self, info: SessionInfo) -> None:
        info.closed, info.closed_at = next(self.steps), time.time()


class Fault(BaseModel):
    """drop: close its connections; stall: go silent (no heartbeats, no events); resume;
    down / up: refuse connections until up; restart: down for a second, then up again;
    malformed: send one frame that breaks the schema."""

    model_config = ConfigDict(extra="forbid")

    bridge: BridgeName = "primary"
    fault: FaultName


def create_simulator_app(pbx: SimulatedPbx) -> FastAPI:
    app = FastAPI(
        title="softphone-proxy PBX simulator",
        description="Rings agents' devices and drives the calls, for demos and pop-rule tests.",
        version="2",
    )
    switches: dict[BridgeName, BridgeSwitch] = {
        "primary": BridgeSwitch(),
        "standby": BridgeSwitch(),
    }
    app.include_router(_call_routes(pbx))
    app.include_router(_control_routes(pbx, switches))
    history = SessionHistory()
    app.include_router(_bridge_routes(pbx, switches, history))

    @app.get("/bridge-sessions", summary="Every session the bridges have had, oldest first")
    async def bridge_sessions() -> list[SessionInfo]:
        return history.sessions

    return app


def _call_routes(pbx: SimulatedPbx) -> APIRouter:
    """Calls from outside and what their far ends and desk phones do."""
    router = APIRouter()

    def act(action: str, call_id: str) -> CallInfo:
        try:
            leg = {
                "answer": pbx.answer,
                "hangup": lambda c: pbx.hangup(c, "far_end"),
                "far-answer": pbx.far_answer,
                "far-busy": pbx.far_busy,
            }[action](call_id)
        except SimError as exc:
            raise HTTPException(404 if exc.code == "no_such_call" else 409, exc.message) from None
        return CallInfo.of(leg)

    @router.post("/calls", status_code=201, summary="Ring an agent, or an ACD queue, from outside")
    async def place_call(body: InboundCall) -> CallInfo:
        try:
            leg = pbx.place_inbound(
                body.agent, body.ani, body.dnis, tuple(body.ivr), body.queue, digits=body.digits
            )
        except SimError as exc:
            status = 404 if exc.code == "no_such_agent" else 409
            raise HTTPException(status, exc.message) from None
        return CallInfo.of(leg)

    @router.get("/calls", summary="Calls in progress, one entry per agent leg")
    async def list_calls() -> list[CallInfo]:
        return [CallInfo.of(leg) for leg in pbx.legs.values()]

    @router.post("/calls/{call_id}/answer", summary="The agent's desk phone answers")
    async def answer(call_id: str) -> CallInfo:
        return act("answer", call_id)

    @router.post("/calls/{call_id}/hangup", summary="The far end hangs up")
    async def hangup(call_id: str) -> CallInfo:
        return act("hangup", call_id)

    @router.post("/calls/{call_id}/far-answer", summary="The party the agent dialled answers")
    async def far_answer(call_id: str) -> CallInfo:
        return act("far-answer", call_id)

    @router.post("/calls/{call_id}/far-busy", summary="The party the agent dialled is busy")
    async def far_busy(call_id: str) -> CallInfo:
        return act("far-busy", call_id)

    return router


def _control_routes(pbx: SimulatedPbx, switches: dict[BridgeName, BridgeSwitch]) -> APIRouter:
    """The PBX itself: its devices, a restart, and faults on its bridges."""
    router = APIRouter()

    @router.get("/agents", summary="The devices (extensions) this PBX rings")
    async def agents() -> list[str]:
        return sorted(pbx.agents)

    @router.post("/restart", status_code=204, summary="Restart the PBX: calls gone, ids from 1")
    async def restart() -> None:
        pbx.restart()
        for switch in switches.values():
            for session in list(switch.sessions):
                await session.close()  # the proxy reconnects and resyncs, as after a real one

    @router.post("/faults", status_code=204, summary="Break or mend a bridge on purpose")
    async def fault(body: Fault) -> None:
        await _break(switches[body.bridge], body.fault)

    return router


def _bridge_routes(
    pbx: SimulatedPbx, switches: dict[BridgeName, BridgeSwitch], history: SessionHistory
) -> APIRouter:
    """The primary and standby bridge endpoints the proxy connects to."""
    router = APIRouter()

    async def run(name: BridgeName, ws: WebSocket) -> None:
        info = history.opened(name, ws)
        try:
            await BridgeSession(pbx, ws, switches[name]).run()
        finally:
            history.closed(info)

    @router.websocket("/bridge")
    async def bridge(ws: WebSocket) -> None:
        await run("primary", ws)

    @router.websocket("/bridge-standby")
    async def bridge_standby(ws: WebSocket) -> None:
        await run("standby", ws)

    return router


async def _break(switch: BridgeSwitch, fault: FaultName) -> None:
    """Break (or mend) one bridge as `Fault` describes."""
    if fault in ("down", "up", "restart"):
        switch.down = fault != "up"
    if fault == "restart":
        asyncio.get_running_loop().call_later(1.0, lambda: setattr(switch, "down", False))
    if fault == "stall":
        switch.flowing.clear()
    elif fault == "resume":
        switch.flowing.set()
    for session in list(switch.sessions):
        if fault in ("drop", "down", "restart"):
            await session.close()
        elif fault == "malformed":
            await session.send_text('{"type": "event", "event": {"kind": "exploded"}}')
