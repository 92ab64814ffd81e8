"""The simulator's end of the bridge protocol: one session per connected proxy.

A `BridgeSwitch` is one bridge endpoint (primary or standby) that the control API can break on
purpose; each session on it relays PBX events to the proxy and runs the proxy's commands.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from fastapi import WebSocket, WebSocketDisconnect
from pydantic import BaseModel

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


@dataclass
class BridgeSwitch:
    down: bool = False
    flowing: asyncio.Event = field(default_factory=asyncio.Event)  # clear while stalled
    sessions: set[BridgeSession] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.flowing.set()


# A bridge command on a call, by op; answer and hangup check first that the call is the agent's.
_CALL_OPS: dict[str, Callable[[SimulatedPbx, Command], SimLeg]] = {
    "answer": lambda pbx, c: pbx.answer(pbx.leg(c.call_id, c.agent).call_id),
    "hangup": lambda pbx, c: pbx.hangup(pbx.leg(c.call_id, c.agent).call_id),
    "hold": lambda pbx, c: pbx.hold(c.call_id, c.agent),
    "retrieve": lambda pbx, c: pbx.retrieve(c.call_id, c.agent),
    "redirect": lambda pbx, c: pbx.redirect(c.call_id, c.number, c.agent),
    "dial": lambda pbx, c: pbx.dial(c.agent, c.number),
    "consult": lambda pbx, c: pbx.consult(c.call_id, c.number, c.agent),
    "transfer": lambda pbx, c: pbx.transfer(c.call_id, c.number, c.agent),
    "complete_transfer": lambda pbx, c: pbx.complete_transfer(c.call_id, c.agent),
    "conference": lambda pbx, c: pbx.conference(c.call_id, c.agent),
    "dtmf": lambda pbx, c: pbx.dtmf(c.call_id, c.digits, c.agent),
}


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
        call_op = _CALL_OPS.get(c.op)
        try:
            if call_op is None:
                self._agent_command(c)
                return BridgeResult(type="result", req_id=c.req_id, ok=True)
            leg = call_op(self.pbx, c)
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
