"""The simulator's HTTP control API (OpenAPI at /sim/docs) and its bridge-protocol endpoint."""

from __future__ import annotations

import asyncio
import contextlib
import time

from fastapi import FastAPI, HTTPException, WebSocket, WebSocketDisconnect
from pydantic import BaseModel, ConfigDict, Field

from proxy.simulator.pbx import InvalidOperation, SimCall, SimulatedPbx, UnknownAgent, UnknownCall
from softphone.bridge import (
    BRIDGE_VERSION,
    BridgeError,
    BridgeEvent,
    BridgeHello,
    BridgeResult,
    Command,
    Heartbeat,
    Monitor,
    parse_to_bridge,
)
from softphone.errors import ProtocolError
from softphone.events import CallEvent

HEARTBEAT_SECONDS = 2.0


class InboundCall(BaseModel):
    """An outside caller dialling in, optionally through the IVR and an ACD queue."""

    model_config = ConfigDict(extra="forbid")

    agent: str = Field(min_length=1, max_length=32, examples=["1001"])
    ani: str = Field(default="", max_length=32, examples=["+16504508810"])
    dnis: str = Field(default="", max_length=32, examples=["8005550100"])
    ivr: list[str] = Field(default=[], max_length=16, examples=[["Case.CaseNumber=00001027"]])
    queue: str = Field(default="", max_length=64, examples=["Support"])


class CallInfo(BaseModel):
    call_id: str
    agent: str
    state: str
    ani: str
    dnis: str
    ivr: list[str]
    queue: str

    @classmethod
    def of(cls, call: SimCall) -> CallInfo:
        return cls(
            call_id=call.call_id,
            agent=call.agent,
            state=call.state,
            ani=call.ani,
            dnis=call.dnis,
            ivr=list(call.ivr),
            queue=call.queue,
        )


def create_simulator_app(pbx: SimulatedPbx) -> FastAPI:
    app = FastAPI(
        title="softphone-proxy PBX simulator",
        description="Rings agents' devices and drives the calls, for demos and pop-rule tests.",
        version="1",
    )

    def _call(call_id: str, action: str) -> CallInfo:
        try:
            call = pbx.answer(call_id) if action == "answer" else pbx.hangup(call_id)
        except UnknownCall as exc:
            raise HTTPException(404, str(exc)) from None
        except InvalidOperation as exc:
            raise HTTPException(409, str(exc)) from None
        return CallInfo.of(call)

    @app.post("/calls", status_code=201, summary="Ring an agent with an inbound call")
    async def place_call(body: InboundCall) -> CallInfo:
        try:
            call = pbx.place_inbound(body.agent, body.ani, body.dnis, tuple(body.ivr), body.queue)
        except UnknownAgent as exc:
            raise HTTPException(404, str(exc)) from None
        return CallInfo.of(call)

    @app.get("/calls", summary="Calls in progress")
    async def list_calls() -> list[CallInfo]:
        return [CallInfo.of(c) for c in pbx.calls.values()]

    @app.post("/calls/{call_id}/answer", summary="The agent's device answers the call")
    async def answer(call_id: str) -> CallInfo:
        return _call(call_id, "answer")

    @app.post("/calls/{call_id}/hangup", summary="The call ends (either party hangs up)")
    async def hangup(call_id: str) -> CallInfo:
        return _call(call_id, "hangup")

    @app.get("/agents", summary="Agents whose devices this PBX rings")
    async def agents() -> list[str]:
        return sorted(pbx.agents)

    @app.websocket("/bridge")
    async def bridge(ws: WebSocket) -> None:
        await BridgeSession(pbx, ws).run()

    return app


class BridgeSession:
    """One proxy connected to the simulator over the bridge protocol."""

    def __init__(self, pbx: SimulatedPbx, ws: WebSocket) -> None:
        self.pbx = pbx
        self.ws = ws
        self.monitored: set[str] | None = None  # None: nothing monitored yet
        self.send_lock = asyncio.Lock()

    async def send(self, frame: BaseModel) -> None:
        async with self.send_lock:
            await self.ws.send_text(frame.model_dump_json())

    async def run(self) -> None:
        await self.ws.accept()
        await self.send(
            BridgeHello(type="hello", v=BRIDGE_VERSION, pbx="softphone-proxy simulator")
        )
        queue = self.pbx.listen()
        pump = asyncio.create_task(self._pump(queue))
        try:
            while True:
                await self._handle(await self.ws.receive_text())
        except WebSocketDisconnect:
            pass
        finally:
            self.pbx.unlisten(queue)
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump

    async def _pump(self, queue: asyncio.Queue[CallEvent]) -> None:
        while True:
            try:
                event = await asyncio.wait_for(queue.get(), HEARTBEAT_SECONDS)
            except TimeoutError:
                await self.send(Heartbeat(type="heartbeat", ts=time.time()))
                continue
            if self.monitored is not None and (not self.monitored or event.agent in self.monitored):
                await self.send(BridgeEvent(type="event", event=event))

    async def _handle(self, raw: str) -> None:
        try:
            frame = parse_to_bridge(raw)
        except ProtocolError as exc:
            await self.send(BridgeError(type="error", code="bad_frame", message=str(exc)))
            return
        if isinstance(frame, Monitor):
            self.monitored = set(frame.agents)
            await self.send(BridgeResult(type="result", req_id=frame.req_id, ok=True))
        elif isinstance(frame, Command):
            await self.send(self._command(frame))

    def _command(self, command: Command) -> BridgeResult:
        call = self.pbx.calls.get(command.call_id)
        if call is None or call.agent != command.agent:
            return BridgeResult(
                type="result",
                req_id=command.req_id,
                ok=False,
                code="no_such_call",
                message=f"agent {command.agent} has no call {command.call_id}",
            )
        try:
            if command.op == "answer":
                self.pbx.answer(command.call_id)
            else:
                self.pbx.hangup(command.call_id)
        except (UnknownCall, InvalidOperation) as exc:
            return BridgeResult(
                type="result", req_id=command.req_id, ok=False, code="invalid", message=str(exc)
            )
        return BridgeResult(type="result", req_id=command.req_id, ok=True)
