"""The simulator's HTTP control API (OpenAPI at /sim/docs) and its two bridge endpoints.

`/sim/bridge` and `/sim/bridge-standby` are a primary and standby bridge in front of one PBX,
as an HA pair would be; `POST /sim/faults` breaks either on purpose.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from typing import Literal

from fastapi import FastAPI, HTTPException, WebSocket, WebSocketDisconnect
from pydantic import BaseModel, ConfigDict, Field

from proxy.simulator.model import SimError, SimLeg
from proxy.simulator.pbx import SimulatedPbx
from softphone.bridge import (
    BRIDGE_VERSION,
    HEARTBEAT_SECONDS,
    BridgeAgent,
    BridgeError,
    BridgeEvent,
    BridgeHello,
    BridgeResult,
    BridgeSnapshot,
    Command,
    GetSnapshot,
    Heartbeat,
    Monitor,
    parse_to_bridge,
)
from softphone.errors import ProtocolError
from softphone.events import AgentEvent, CallEvent

BridgeName = Literal["primary", "standby"]


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


class Fault(BaseModel):
    """drop: close its connections; stall: go silent (no heartbeats, no events); resume;
    down / up: refuse connections until up; restart: down for a second, then up again;
    malformed: send one frame that breaks the schema."""

    model_config = ConfigDict(extra="forbid")

    bridge: BridgeName = "primary"
    fault: Literal["drop", "stall", "resume", "down", "up", "restart", "malformed"]


@dataclass
class BridgeSwitch:
    down: bool = False
    flowing: asyncio.Event = field(default_factory=asyncio.Event)  # clear while stalled
    sessions: set[BridgeSession] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.flowing.set()


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

    @app.post("/calls", status_code=201, summary="Ring an agent, or an ACD queue, from outside")
    async def place_call(body: InboundCall) -> CallInfo:
        try:
            leg = pbx.place_inbound(
                body.agent, body.ani, body.dnis, tuple(body.ivr), body.queue, digits=body.digits
            )
        except SimError as exc:
            status = 404 if exc.code == "no_such_agent" else 409
            raise HTTPException(status, exc.message) from None
        return CallInfo.of(leg)

    @app.get("/calls", summary="Calls in progress, one entry per agent leg")
    async def list_calls() -> list[CallInfo]:
        return [CallInfo.of(leg) for leg in pbx.legs.values()]

    @app.post("/calls/{call_id}/answer", summary="The agent's desk phone answers")
    async def answer(call_id: str) -> CallInfo:
        return act("answer", call_id)

    @app.post("/calls/{call_id}/hangup", summary="The far end hangs up")
    async def hangup(call_id: str) -> CallInfo:
        return act("hangup", call_id)

    @app.post("/calls/{call_id}/far-answer", summary="The party the agent dialled answers")
    async def far_answer(call_id: str) -> CallInfo:
        return act("far-answer", call_id)

    @app.post("/calls/{call_id}/far-busy", summary="The party the agent dialled is busy")
    async def far_busy(call_id: str) -> CallInfo:
        return act("far-busy", call_id)

    @app.get("/agents", summary="The devices (extensions) this PBX rings")
    async def agents() -> list[str]:
        return sorted(pbx.agents)

    @app.post("/restart", status_code=204, summary="Restart the PBX: calls gone, ids from 1")
    async def restart() -> None:
        pbx.restart()
        for switch in switches.values():
            for session in list(switch.sessions):
                await session.close()  # the proxy reconnects and resyncs, as after a real one

    @app.post("/faults", status_code=204, summary="Break or mend a bridge on purpose")
    async def fault(body: Fault) -> None:
        switch = switches[body.bridge]
        if body.fault in ("down", "up", "restart"):
            switch.down = body.fault != "up"
        if body.fault == "restart":
            asyncio.get_running_loop().call_later(1.0, lambda: setattr(switch, "down", False))
        if body.fault == "stall":
            switch.flowing.clear()
        elif body.fault == "resume":
            switch.flowing.set()
        for session in list(switch.sessions):
            if body.fault in ("drop", "down", "restart"):
                await session.close()
            elif body.fault == "malformed":
                await session.send_text('{"type": "event", "event": {"kind": "exploded"}}')

    @app.websocket("/bridge")
    async def bridge(ws: WebSocket) -> None:
        await BridgeSession(pbx, ws, switches["primary"]).run()

    @app.websocket("/bridge-standby")
    async def bridge_standby(ws: WebSocket) -> None:
        await BridgeSession(pbx, ws, switches["standby"]).run()

    return app


class BridgeSession:
    """One proxy connected to one of the simulator's bridges."""

    def __init__(self, pbx: SimulatedPbx, ws: WebSocket, switch: BridgeSwitch) -> None:
        self.pbx = pbx
        self.ws = ws
        self.switch = switch
        self.monitored: set[str] | None = None  # None: nothing monitored yet
        self.outbox: asyncio.Queue[str] = asyncio.Queue()

    async def send_text(self, text: str) -> None:
        self.outbox.put_nowait(text)

    def send(self, frame: BaseModel) -> None:
        self.outbox.put_nowait(frame.model_dump_json())

    async def close(self) -> None:
        with contextlib.suppress(RuntimeError, WebSocketDisconnect):
            await self.ws.close(1012)

    def on_event(self, event: CallEvent | AgentEvent) -> None:
        if self.monitored is None or (self.monitored and event.agent not in self.monitored):
            return
        if isinstance(event, CallEvent):
            self.send(BridgeEvent(type="event", event=event))
        else:
            self.send(BridgeAgent(type="agent", agent=event))

    async def run(self) -> None:
        await self.ws.accept()
        if self.switch.down:
            await self.ws.close(1013)
            return
        self.switch.sessions.add(self)
        self.send(BridgeHello(type="hello", v=BRIDGE_VERSION, pbx="softphone-proxy simulator"))
        self.pbx.listen(self.on_event)
        writer = asyncio.create_task(self._write())
        try:
            while True:
                self._handle(await self.ws.receive_text())
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            self.switch.sessions.discard(self)
            self.pbx.unlisten(self.on_event)
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer

    async def _write(self) -> None:
        while True:
            try:
                text = await asyncio.wait_for(self.outbox.get(), HEARTBEAT_SECONDS)
            except TimeoutError:
                text = Heartbeat(type="heartbeat", ts=time.time()).model_dump_json()
            await self.switch.flowing.wait()  # a stalled bridge says nothing at all
            await self.ws.send_text(text)

    def _handle(self, raw: str) -> None:
        try:
            frame = parse_to_bridge(raw)
        except ProtocolError as exc:
            self.send(BridgeError(type="error", code="bad_frame", message=str(exc)))
            return
        if isinstance(frame, Monitor):
            self.monitored = set(frame.agents)
            self.send(BridgeResult(type="result", req_id=frame.req_id, ok=True))
        elif isinstance(frame, GetSnapshot):
            calls, agents = self.pbx.snapshot()
            self.send(
                BridgeSnapshot(
                    type="snapshot", req_id=frame.req_id, calls=tuple(calls), agents=tuple(agents)
                )
            )
        elif isinstance(frame, Command):
            self.send(self._command(frame))

    def _command(self, c: Command) -> BridgeResult:
        pbx, agent = self.pbx, c.agent
        try:
            if c.op == "answer":
                pbx.leg(c.call_id, agent)
                leg = pbx.answer(c.call_id)
            elif c.op == "hangup":
                pbx.leg(c.call_id, agent)
                leg = pbx.hangup(c.call_id)
            elif c.op == "hold":
                leg = pbx.hold(c.call_id, agent)
            elif c.op == "retrieve":
                leg = pbx.retrieve(c.call_id, agent)
            elif c.op == "redirect":
                leg = pbx.redirect(c.call_id, c.number, agent)
            elif c.op == "dial":
                leg = pbx.dial(agent, c.number)
            elif c.op == "consult":
                leg = pbx.consult(c.call_id, c.number, agent)
            elif c.op == "transfer":
                leg = pbx.transfer(c.call_id, c.number, agent)
            elif c.op == "complete_transfer":
                leg = pbx.complete_transfer(c.call_id, agent)
            elif c.op == "conference":
                leg = pbx.conference(c.call_id, agent)
            elif c.op == "dtmf":
                leg = pbx.dtmf(c.call_id, c.digits, agent)
            else:
                self._agent_command(c)
                return BridgeResult(type="result", req_id=c.req_id, ok=True)
        except SimError as exc:
            return BridgeResult(
                type="result", req_id=c.req_id, ok=False, code=exc.code, message=exc.message
            )
        new_call = leg.call_id if c.op in ("dial", "consult") else ""
        return BridgeResult(type="result", req_id=c.req_id, ok=True, call_id=new_call)

    def _agent_command(self, c: Command) -> None:
        if c.op == "set_state":
            if c.state not in ("ready", "busy", "dnd"):
                raise SimError("bad_state", f"unknown state {c.state!r}")
            self.pbx.set_state(c.agent, c.state, c.reason)
        elif c.op == "acd_login":
            self.pbx.acd_login(c.agent, c.group)
        elif c.op == "acd_logout":
            self.pbx.acd_logout(c.agent, c.group)
        elif c.op == "cancel_work":
            self.pbx.cancel_work(c.agent)
        elif c.op == "logout":
            self.pbx.logout(c.agent)
        elif c.op == "login":
            self.pbx.login(c.agent)
