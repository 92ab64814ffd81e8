"""The floor: a bare relay with no logic, given the same hops as the proxy's ring path.

A ring reaches the proxy as the built-in simulator delivers it: an HTTP request places the
call, the simulator queues a frame for its bridge session, a writer sends it over a websocket,
and the proxy's link (a `websockets` client dialling its own server) reads and parses it and
hands it on to the agent's sockets. The relay does each of those hops and nothing else:

    POST /relay/{agent}  ->  outbox  ->  /link websocket  ->  link client  ->  /ws/{agent}

so the ratio proxy / relay is the cost of the proxy's own logic, not of loopback, HTTP or
websockets. Served as the proxy is: uvicorn, websockets-sansio, no permessage-deflate.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
import websockets
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect


class Relay:
    """The relay's state: agents' sockets, and the queue of frames for the link."""

    def __init__(self, self_url: str) -> None:
        self.link_url = self_url.replace("http", "ws", 1) + "/link"
        self.sockets: dict[str, set[WebSocket]] = {}
        self.outbox: asyncio.Queue[str] = asyncio.Queue()
        self.linked = asyncio.Event()

    async def place(self, request: Request) -> JSONResponse:
        body = await request.json()
        # Timestamped on arrival, as the simulator timestamps its ring, so both stopwatches
        # start where the event is born and HTTP's own latency stays out of the figures.
        received_at = time.perf_counter()
        body["agent"] = request.path_params["agent"]
        self.outbox.put_nowait(json.dumps({"type": "event", "event": body}))
        return JSONResponse({"call_id": body["call_id"], "received_at": received_at}, 201)

    async def bridge(self, ws: WebSocket) -> None:
        """The PBX side of the link: frames from the outbox, in order, one writer."""
        await ws.accept()
        try:
            while True:
                await ws.send_text(await self.outbox.get())
        except (WebSocketDisconnect, RuntimeError):
            return

    async def agent(self, ws: WebSocket) -> None:
        await ws.accept()
        name = ws.path_params["agent"]
        self.sockets.setdefault(name, set()).add(ws)
        try:
            while True:
                await ws.receive_text()
        except WebSocketDisconnect:
            self.sockets[name].discard(ws)

    async def link(self) -> None:
        """The proxy side of the link: parse each frame, send it on to the agent's sockets."""
        while True:
            try:
                async with websockets.connect(self.link_url, ping_interval=None) as ws:
                    self.linked.set()
                    async for raw in ws:
                        frame: dict[str, Any] = json.loads(raw)
                        event = frame["event"]
                        text = json.dumps(event)
                        for agent_ws in tuple(self.sockets.get(event["agent"], ())):
                            await agent_ws.send_text(text)
            except (OSError, websockets.ConnectionClosed):
                self.linked.clear()
                await asyncio.sleep(0.1)

    async def ready(self, request: Request) -> JSONResponse:
        return JSONResponse({"ready": self.linked.is_set()}, 200 if self.linked.is_set() else 503)


def create_relay_app(self_url: str) -> Starlette:
    """The relay as an ASGI app; `self_url` is where it listens (its link dials it)."""
    relay = Relay(self_url)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        task = asyncio.create_task(relay.link())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return Starlette(
        routes=[
            Route("/relay/{agent}", relay.place, methods=["POST"]),
            Route("/readyz", relay.ready),
            WebSocketRoute("/link", relay.bridge),
            WebSocketRoute("/ws/{agent}", relay.agent),
        ],
        lifespan=lifespan,
    )


def relay_server(sock: socket.socket, self_url: str) -> uvicorn.Server:
    """The relay under uvicorn, configured as `proxy.server.build_server` configures the proxy."""
    config = uvicorn.Config(
        create_relay_app(self_url),
        ws="websockets-sansio",
        ws_per_message_deflate=False,
        ws_ping_interval=20,
        ws_ping_timeout=20,
        log_level="warning",
        access_log=False,
    )
    return uvicorn.Server(config)
