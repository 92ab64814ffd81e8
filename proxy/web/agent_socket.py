"""The agent websocket: one per open softphone page, many per agent (one per Salesforce tab).

Authentication travels in the handshake as the subprotocol `auth.<token>` next to
`softphone.v2`, because a browser cannot set headers on a websocket and a token in the URL
would land in access logs; a page that has no token (reloaded where storage is blocked) is
signed in by its partitioned session cookie instead. Either way the Origin must be our own page's
(or an allowed one), so a foreign site cannot ride the cookie (cross-site websocket hijacking).

Close codes: 1000 normal, 1008 not signed in, 1009 message too big (enforced by the server),
1011 server error, 1013 try again later: too slow to keep up (reconnect at once for a fresh
snapshot), or too many pages opening at once ("busy; retry after N s", also sent as an error
message first).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from pydantic import BaseModel
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect

from proxy.agents.admission import Busy
from proxy.agents.auth import SESSION_COOKIE
from proxy.bus import Event, SlowConsumer
from proxy.cluster.line import NoHolder
from proxy.errors import ProxyError, SalesforceError
from proxy.services import services_of
from proxy.store import AgentRecord
from proxy.web.origins import origin_check
from proxy.web.page_core import NO_HOLDER, core_for
from softphone.errors import CommandRefused, ProtocolError
from softphone.messages.from_page import (
    Hello,
    Ping,
    Search,
    parse_client_message,
)
from softphone.messages.to_page import (
    ErrorMessage,
    Pong,
    SearchResults,
)

if TYPE_CHECKING:
    from proxy.services import Services

log = logging.getLogger(__name__)
PATH = "/ws/agent"
PROTOCOL = "softphone.v2"
# Offered (besides PROTOCOL) by the Salesforce Voice connector: its agent is a Voice agent
# while this socket is open (proxy/agents/voice.py).
VOICE_CONNECTOR = "voice.connector"
OUTBOX_LIMIT = 512
# Each search costs one API call: a page may search at most this often (type-ahead pages
# debounce well under it).
SEARCH_INTERVAL = 0.3


class AgentSocketRoute:
    """The app as the server runs it: `PATH` served in front of it, anything else handed on.

    A socket stays open for hours, and every layer it passes through stays suspended on it all
    that time: FastAPI's and Starlette's entry points, their middleware (error pages, telemetry,
    body limits, our security headers and cross-site guard, none of which acts on a websocket),
    the routing, its exception handlers and dependency stacks were about 12 KiB of each
    socket's memory (issue 16). The forwarded headers are read in front of this
    (`proxy.server`), for the app and the sockets alike."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # A coroutine function, as uvicorn tells an ASGI 3 app from an ASGI 2 one by that.
        if scope["type"] != "websocket" or _route_path(scope) != PATH:
            await self.app(scope, receive, send)
            return
        scope["app"] = self.app  # as Starlette gives every connection: the services are there
        ws = WebSocket(scope, receive, send)
        await serve_agent_socket(ws, services_of(ws))


def _route_path(scope: Scope) -> str:
    """The path the app's routes would match: without the root path, as Starlette's."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


async def serve_agent_socket(ws: WebSocket, services: Services) -> None:
    settings = services.settings
    origin = ws.headers.get("origin")
    if not origin_check(settings).allows(origin, ws.headers.get("host", "")):
        log.warning("agent socket refused: foreign origin %r", origin)
        await ws.close(1008, "origin not allowed")
        return
    offered: list[str] = ws.scope.get("subprotocols", [])
    token = next((p.removeprefix("auth.") for p in offered if p.startswith("auth.")), "")
    token = token or ws.cookies.get(SESSION_COOKIE, "")
    try:
        # One place in the openings' queue, held until the welcome is out (`opened`).
        give_back = await services.openings.take()
    except Busy as busy:
        # Said plainly, never a dropped connection: the page waits and comes back by itself.
        await _refuse_busy(ws, offered, busy.retry_after)
        return
    try:
        await _open(ws, services, token, offered, opened=give_back)
    finally:
        give_back()


async def _refuse_busy(ws: WebSocket, offered: list[str], retry_after: int) -> None:
    log.warning("agent socket refused: busy (retry after %d s)", retry_after)
    await ws.accept(subprotocol=PROTOCOL if PROTOCOL in offered else None)
    error = ErrorMessage(
        code="busy", message=f"The phone server is busy; reconnecting in {retry_after} seconds"
    )
    await ws.send_text(error.model_dump_json())
    await ws.close(1013, f"busy; retry after {retry_after}")


async def _open(
    ws: WebSocket,
    services: Services,
    token: str,
    offered: list[str],
    opened: Callable[[], None],
) -> None:
    """Sign the socket in, send its welcome, call `opened`, then serve it until it closes."""
    agent = await services.auth.agent_for(token)
    await ws.accept(subprotocol=PROTOCOL if PROTOCOL in offered else None)
    if agent is None:
        error = ErrorMessage(code="unauthorized", message="Your session has ended; sign in again")
        await ws.send_text(error.model_dump_json())
        await ws.close(1008, "not signed in")
        return
    connection = AgentConnection(ws, agent, services, voice=VOICE_CONNECTOR in offered)
    await connection.run(opened)


class _TooBig(ProxyError):
    """A page sent a message over SOFTPHONE_MAX_MESSAGE_BYTES: the socket closes with 1009."""


def _size(raw: str | bytes) -> int:
    return len(raw) if isinstance(raw, bytes) else len(raw.encode())


class AgentConnection:
    """One page's socket: its agent's updates out, its messages in. What only the core can do
    (the welcome, commands, notes) is asked of the node that runs it (`core_for`).

    Kept small, as there is one per open page for hours (issue 16): slots, no queues. The bus
    hands the agent's updates straight to `_offer`, which puts them on the outbox (a list) next
    to the page's own replies, and one writer task sends the outbox in order; the page's
    messages are read in a second task."""

    __slots__ = (
        "agent",
        "floor",
        "held",
        "last_search",
        "outbox",
        "overflowed",
        "page",
        "services",
        "voice",
        "wakeup",
        "ws",
    )

    def __init__(
        self, ws: WebSocket, agent: AgentRecord, services: Services, *, voice: bool = False
    ) -> None:
        self.ws = ws
        self.agent = agent
        self.services = services
        self.voice = voice  # the Salesforce Voice connector: its agent is a Voice agent
        self.last_search = -SEARCH_INTERVAL
        self.page = secrets.token_hex(6)
        # Until a welcome is out: the updates that must follow it (from the start: updates
        # heard before the first welcome is made are sent after it, if it does not have them).
        self.held: list[Event] | None = []
        # Messages not sent yet, in order; the writer waits on `wakeup` while there are none.
        self.outbox: list[str] = []
        self.wakeup: asyncio.Future[None] | None = None
        # Updates came faster than the page took them: the writer closes the socket (1013).
        self.overflowed = False
        # Events at or below this sequence are already in the last snapshot sent.
        self.floor = 0

    def enqueue(self, message: BaseModel | str) -> None:
        if len(self.outbox) >= OUTBOX_LIMIT:
            raise SlowConsumer(f"more than {OUTBOX_LIMIT} messages unsent")
        self._put(message if isinstance(message, str) else message.model_dump_json())

    def _put(self, text: str) -> None:
        self.outbox.append(text)
        self._wake()

    def _wake(self) -> None:
        wakeup = self.wakeup
        if wakeup is not None:
            self.wakeup = None
            if not wakeup.done():
                wakeup.set_result(None)

    def _offer(self, event: Event) -> None:
        """The bus's delivery of one of the agent's updates: never blocks, never raises."""
        if self.held is not None:
            self.held.append(event)
        elif self.overflowed or event.seq <= self.floor:
            return
        elif len(self.outbox) >= OUTBOX_LIMIT:
            self.overflowed = True
            self._wake()  # the writer closes the socket
        else:
            self._put(event.text)

    async def send_snapshot(self, *, first: bool = False) -> None:
        """The welcome: the agent's state now and the number of the last update it reflects.
        Updates published while it is being made wait until it is out: a page must never
        apply an update and then a welcome older than it."""
        core = core_for(self.services)
        if self.held is None:
            self.held = []
        try:
            if first:
                seq, welcome = await core.open(self.agent, self.page, self.voice)
            else:
                seq, welcome = await core.welcome(self.agent, self.page)
        except BaseException:
            self.held = None
            raise
        self.floor = seq
        self.enqueue(welcome)
        held, self.held = self.held, None
        for event in held:
            if event.seq > self.floor:
                self.enqueue(event.text)

    async def run(self, opened: Callable[[], None]) -> None:
        node_pages = self.services.node_pages.open
        # Counted before the holder hears of it: a new holder told this node's pages meanwhile
        # must not take a page that is opening for one that closed.
        node_pages[self.page] = (self.agent, self.voice)
        try:
            async with (
                self.services.bus.attach(self.agent.address, self._offer),
                asyncio.TaskGroup() as tg,
            ):
                await self.send_snapshot(first=True)
                opened()
                tg.create_task(self._read())
                tg.create_task(self._write())
        except* WebSocketDisconnect:
            pass
        except* NoHolder as group:
            log.warning("agent %s socket: %s", self.agent.address, group.exceptions[0])
            await self._send_and_close(NO_HOLDER, 1013, "no link holder; retry")
        except* _TooBig as group:
            log.warning("agent %s socket: %s", self.agent.address, group.exceptions[0])
            await self._close(1009, "message too big")
        except* SlowConsumer as group:
            log.warning("agent %s socket too slow: %s", self.agent.address, group.exceptions[0])
            await self._close(1013, "too slow; reconnect for a fresh snapshot")
        except* Exception:
            log.exception("agent %s socket failed", self.agent.address)
            await self._close(1011, "server error")
        finally:
            if node_pages.pop(self.page, None) is not None:
                await self._leave()

    async def _leave(self) -> None:
        """The core forgets this page (never left undone by a cancelled socket task)."""
        core = core_for(self.services)
        with contextlib.suppress(Exception):
            await asyncio.shield(core.close(self.agent, self.page, self.voice))

    async def _send_and_close(self, message: BaseModel, code: int, reason: str) -> None:
        with contextlib.suppress(RuntimeError, WebSocketDisconnect):
            await self.ws.send_text(message.model_dump_json())
        await self._close(code, reason)

    async def _close(self, code: int, reason: str) -> None:
        # The other side may have closed first.
        with contextlib.suppress(RuntimeError, WebSocketDisconnect):
            await self.ws.close(code, reason)

    async def _write(self) -> None:
        outbox = self.outbox
        while True:
            if self.overflowed:
                raise SlowConsumer(f"more than {OUTBOX_LIMIT} messages unsent")
            if not outbox:
                self.wakeup = asyncio.get_running_loop().create_future()
                await self.wakeup
                continue
            try:
                await self.ws.send_text(outbox.pop(0))
            except RuntimeError as exc:
                # The socket was closed under us (the server shutting down sends 1012 to every
                # socket): a disconnect, not a failure worth a traceback per agent.
                raise WebSocketDisconnect(1012) from exc

    async def _read(self) -> None:
        while True:
            frame = await self.ws.receive()
            if frame["type"] == "websocket.disconnect":
                raise WebSocketDisconnect(frame.get("code", 1000))
            raw: str | bytes = frame.get("text") or frame.get("bytes") or b""
            limit = self.services.settings.max_message_bytes
            if _size(raw) > limit:  # the server's own limit may be higher (simulator)
                raise _TooBig(f"a message over {limit} bytes")
            try:
                message = parse_client_message(raw)
            except ProtocolError as exc:
                self.enqueue(ErrorMessage(code="bad_message", message=str(exc)))
                continue
            await self._dispatch(message)

    async def _dispatch(self, message: BaseModel) -> None:
        if isinstance(message, Hello):
            await self.send_snapshot()
        elif isinstance(message, Ping):
            self.enqueue(Pong())
        elif isinstance(message, Search):
            # Any node searches Salesforce itself: it changes nothing of the agent's.
            try:
                await self._search(message.query)
            except CommandRefused as exc:
                self.enqueue(ErrorMessage(code=exc.code, message=exc.message))
        else:
            for reply in await core_for(self.services).act(self.agent, self.page, message):
                self.enqueue(reply)

    async def _search(self, query: str) -> None:
        now = time.monotonic()
        if now - self.last_search < SEARCH_INTERVAL:
            raise CommandRefused("slow_down", "One search at a time; try again in a moment")
        self.last_search = now
        try:
            records, phones = await self.services.lookups.search_people(query)
        except SalesforceError as exc:
            raise CommandRefused("search_failed", f"Salesforce search failed: {exc.code}") from None
        self.enqueue(SearchResults(query=query, records=tuple(records), phones=phones))
