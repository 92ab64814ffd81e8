"""An agent's softphone page, as far as its socket goes: the real `websockets` client behaving
as static/softphone/agent-socket.js does.

It signs its socket in with the subprotocols `softphone.v2` + `auth.<token>` and the page's
Origin (the cluster's public address), keeps the last sequence number, notes every gap in the
numbered stream (where the real page would ask again with `hello`), and when its socket dies
opens a new one through the load balancer and starts again from the welcome's snapshot.
Like the real page it opens a pop it is owed once (remembered for the tab, across reconnects)
and says so with `popped`; `opened_pops` lists the calls whose pop it opened, in order.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

if TYPE_CHECKING:
    from tests.cluster import Cluster


class Page:
    def __init__(self, cluster: Cluster, token: str) -> None:
        self.cluster = cluster
        self.token = token
        self.ws: ClientConnection | None = None
        self.node = ""  # the node this socket reached through the balancer
        self.last_seq = 0
        self.welcomes: list[dict[str, Any]] = []
        self.messages: list[dict[str, Any]] = []  # everything received, welcomes too
        self.gaps: list[tuple[int, int]] = []  # (last seq, the seq that came next)
        self.reconnects = 0
        self.opened_pops: list[str] = []

    @property
    def ws_url(self) -> str:
        return self.cluster.public_url.replace("http", "ws", 1) + "/ws/agent"

    async def open(self, timeout: float = 10.0) -> dict[str, Any]:
        """A socket through the balancer, and its welcome."""
        self.ws = await websockets.connect(
            self.ws_url,
            subprotocols=["softphone.v2", f"auth.{self.token}"],  # type: ignore[list-item]
            origin=self.cluster.public_url,  # type: ignore[arg-type]
            ssl=self.cluster.client_tls,
            open_timeout=timeout,
        )
        self.node = self.cluster.balancer.backend_of(self.ws.local_address[1]) or ""
        welcome = await self._receive(timeout)
        assert welcome["type"] == "welcome", welcome
        return welcome

    async def reconnect(self, timeout: float = 30.0) -> dict[str, Any]:
        """As the page does after its socket died: again until a node takes it (no backoff
        here; the real page waits 0.5 s and more between tries)."""
        self.reconnects += 1
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            try:
                return await self.open()
            except (OSError, InvalidHandshake, InvalidStatus, ConnectionClosed, TimeoutError):
                if asyncio.get_running_loop().time() > deadline:
                    raise
                await asyncio.sleep(0.1)

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()

    async def send(self, message: dict[str, Any]) -> None:
        assert self.ws is not None
        await self.ws.send(json.dumps(message))

    async def _receive(self, timeout: float) -> dict[str, Any]:
        assert self.ws is not None
        message: dict[str, Any] = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
        self.messages.append(message)
        if message.get("type") == "welcome":
            self.welcomes.append(message)
            self.last_seq = message["seq"]
        elif isinstance(message.get("seq"), int):
            seq = message["seq"]
            if seq <= self.last_seq:
                return {"type": "already-in-snapshot", "seq": seq}
            if seq > self.last_seq + 1:
                self.gaps.append((self.last_seq, seq))
            self.last_seq = seq
        await self._pop_if_owed(message)
        return message

    async def _pop_if_owed(self, message: dict[str, Any]) -> None:
        calls = message.get("calls", []) if message.get("type") == "welcome" else []
        if message.get("type") == "call":
            calls = [message["call"]]
        for call in calls:
            pop = call.get("pop")
            if not pop or call.get("pop_delivered") or call["state"] == "cleared":
                continue
            if pop.get("when") == "answer" and call["state"] != "active":
                continue
            if call["call_id"] in self.opened_pops:
                continue
            self.opened_pops.append(call["call_id"])
            await self.send({"type": "popped", "call_id": call["call_id"]})

    async def next(self, timeout: float = 10.0, *, reconnect: bool = True) -> dict[str, Any]:
        """The next message; a socket that died is opened again (its welcome is the next)."""
        try:
            return await self._receive(timeout)
        except ConnectionClosed:
            if not reconnect:
                raise
            return await self.reconnect()

    async def wait_for(
        self, call_id: str | None = None, *, timeout: float = 10.0, **wanted: Any
    ) -> dict[str, Any]:
        """The next `call` update (for `call_id`, if given) whose call fields match `wanted`;
        a welcome whose snapshot has such a call counts too (a reconnect may bring it)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            remaining = max(deadline - asyncio.get_running_loop().time(), 0.01)
            message = await self.next(remaining)
            calls = message.get("calls", []) if message["type"] == "welcome" else []
            if message["type"] == "call":
                calls = [message["call"]]
            for call in calls:
                if call_id not in (None, call["call_id"]):
                    continue
                if all(call.get(k) == v for k, v in wanted.items()):
                    return {"type": "call", "seq": message.get("seq"), "call": call}
