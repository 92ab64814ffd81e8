"""The agent websocket: one per open softphone page, many per agent (one per Salesforce tab).

Authentication travels in the handshake as the subprotocol `auth.<token>` next to
`softphone.v2`, because a browser cannot set headers on a websocket and a token in the URL
would land in access logs. Close codes: 1000 normal, 1008 not signed in, 1009 message too
big (enforced by the server), 1011 server error, 1013 too slow to keep up (reconnect).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

from pydantic import BaseModel
from starlette.websockets import WebSocket, WebSocketDisconnect

from proxy.bus import EventBus, Message, SlowConsumer, Subscription
from proxy.errors import LinkError
from proxy.store import AgentRecord
from proxy.switchboard import AgentCommand, AgentProfile, Switchboard
from proxy.web.auth import Authenticator
from softphone.errors import CommandRefused, ProtocolError
from softphone.messages import (
    AgentView,
    ErrorMessage,
    Hello,
    Ping,
    Pong,
    Popped,
    Welcome,
    parse_client_message,
)

log = logging.getLogger(__name__)
PROTOCOL = "softphone.v2"
OUTBOX_LIMIT = 512


async def serve_agent_socket(
    ws: WebSocket, auth: Authenticator, board: Switchboard, bus: EventBus
) -> None:
    offered: list[str] = ws.scope.get("subprotocols", [])
    token = next((p.removeprefix("auth.") for p in offered if p.startswith("auth.")), "")
    agent = await auth.agent_for(token)
    await ws.accept(subprotocol=PROTOCOL if PROTOCOL in offered else None)
    if agent is None:
        error = ErrorMessage(code="unauthorized", message="Your session has ended; sign in again")
        await ws.send_text(error.model_dump_json())
        await ws.close(1008, "not signed in")
        return
    board.register(agent.address, AgentProfile(agent.kind, agent.salesforce_user_id))
    await AgentConnection(ws, agent, board, bus).run()


class AgentConnection:
    def __init__(
        self, ws: WebSocket, agent: AgentRecord, board: Switchboard, bus: EventBus
    ) -> None:
        self.ws = ws
        self.agent = agent
        self.board = board
        self.bus = bus
        self.outbox: asyncio.Queue[str] = asyncio.Queue(OUTBOX_LIMIT)
        # Events at or below this sequence are already in the last snapshot sent.
        self.floor = 0

    def enqueue(self, message: BaseModel | str) -> None:
        text = message if isinstance(message, str) else message.model_dump_json()
        try:
            self.outbox.put_nowait(text)
        except asyncio.QueueFull:
            raise SlowConsumer(f"more than {OUTBOX_LIMIT} messages unsent") from None

    def send_snapshot(self) -> None:
        seq, calls = self.board.snapshot(self.agent.address)
        agent = AgentView(
            address=self.agent.address, name=self.agent.name, extension=self.agent.extension
        )
        self.floor = seq
        status = self.board.status_view(self.agent.address)
        self.enqueue(Welcome(agent=agent, seq=seq, calls=calls, status=status))

    async def run(self) -> None:
        try:
            async with (
                self.bus.subscribe(self.agent.address) as subscription,
                asyncio.TaskGroup() as tg,
            ):
                self.send_snapshot()
                tg.create_task(self._read())
                tg.create_task(self._pump(subscription))
                tg.create_task(self._write())
        except* WebSocketDisconnect:
            pass
        except* SlowConsumer as group:
            log.warning("agent %s socket too slow: %s", self.agent.address, group.exceptions[0])
            await self._close(1013, "too slow; reconnect for a fresh snapshot")
        except* Exception:
            log.exception("agent %s socket failed", self.agent.address)
            await self._close(1011, "server error")

    async def _close(self, code: int, reason: str) -> None:
        # The other side may have closed first.
        with contextlib.suppress(RuntimeError, WebSocketDisconnect):
            await self.ws.close(code, reason)

    async def _write(self) -> None:
        while True:
            await self.ws.send_text(await self.outbox.get())

    async def _pump(self, subscription: Subscription) -> None:
        message: Message
        async for message in subscription:
            if int(message.get("seq", 0)) > self.floor:
                self.enqueue(_json(message))

    async def _read(self) -> None:
        while True:
            frame = await self.ws.receive()
            if frame["type"] == "websocket.disconnect":
                raise WebSocketDisconnect(frame.get("code", 1000))
            raw: str | bytes = frame.get("text") or frame.get("bytes") or b""
            try:
                message = parse_client_message(raw)
            except ProtocolError as exc:
                self.enqueue(ErrorMessage(code="bad_message", message=str(exc)))
                continue
            await self._dispatch(message)

    async def _dispatch(self, message: BaseModel) -> None:
        if isinstance(message, Hello):
            self.send_snapshot()
        elif isinstance(message, Ping):
            self.enqueue(Pong())
        elif isinstance(message, Popped):
            await self.board.popped(self.agent.address, message.call_id)
        elif isinstance(message, AgentCommand):
            call_id = getattr(message, "call_id", None)
            try:
                await self.board.command(self.agent.address, message)
            except CommandRefused as exc:
                self.enqueue(ErrorMessage(code=exc.code, message=exc.message, call_id=call_id))
            except LinkError as exc:
                self.enqueue(ErrorMessage(code=exc.code, message=str(exc), call_id=call_id))


def _json(message: Message) -> str:
    return json.dumps(message, separators=(",", ":"))
