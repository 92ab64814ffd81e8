"""The floor: a bare websocket relay with no logic, measured the same way as the proxy."""

from __future__ import annotations

import time

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect


def create_relay_app() -> Starlette:
    sockets: dict[str, set[WebSocket]] = {}

    async def relay(request: Request) -> JSONResponse:
        body = await request.json()
        # Timestamped on arrival, as the simulator timestamps its ring, so both stopwatches
        # start where the event is born and HTTP's own latency stays out of the figures.
        received_at = time.perf_counter()
        for ws in sockets.get(request.path_params["agent"], ()):
            await ws.send_json(body)
        return JSONResponse({"call_id": body["call_id"], "received_at": received_at}, 201)

    async def agent(ws: WebSocket) -> None:
        await ws.accept()
        name = ws.path_params["agent"]
        sockets.setdefault(name, set()).add(ws)
        try:
            while True:
                await ws.receive_text()
        except WebSocketDisconnect:
            sockets[name].discard(ws)

    return Starlette(
        routes=[
            Route("/relay/{agent}", relay, methods=["POST"]),
            WebSocketRoute("/ws/{agent}", agent),
        ]
    )
