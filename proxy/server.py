"""Running the app under uvicorn: one listening socket, bound before the app is built. (The
tests and the bench serve it from a thread with `tests.harness.serving_in_thread`.)"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, cast

import uvicorn
from fastapi import FastAPI
from starlette.types import ASGIApp
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from proxy.app import create_app
from proxy.links import LINKS
from proxy.settings import Settings
from proxy.web.agent_socket import AgentSocketRoute
from proxy.web.origins import ForwardedHeader

if TYPE_CHECKING:
    from uvicorn._types import ASGI3Application

# The built-in simulator's bridge is served here too, and the link's `monitor` names every
# device of the roster in one frame: about 9 bytes each, so 90 KB at 10,000 agents.
SIM_BRIDGE_MAX_BYTES = 4 * 1024 * 1024


def bind(host: str, port: int) -> socket.socket:
    """A listening socket; binding first tells us the real port (port 0 picks a free one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto must say TCP: asyncio sets TCP_NODELAY on accepted sockets only when it does, and
    # without it Nagle holds a pop sent right after its ring for the client's delayed ACK (40 ms).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    return sock


def url_of(sock: socket.socket, *, tls: bool) -> str:
    """How this process reaches its own socket (the built-in simulator link dials it)."""
    host, port = sock.getsockname()[:2]
    if host in ("0.0.0.0", "::"):  # noqa: S104 - reading the bound address, not binding
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"{'https' if tls else 'http'}://{host}:{port}"


def read_forwarded(app: ASGIApp, trusted_proxies: list[str]) -> ASGIApp:
    """`app` behind the forwarded headers' readers when SOFTPHONE_TRUSTED_PROXIES is set:
    `Forwarded` said as X-Forwarded-*, then believed from those proxies only, before anything
    (a page, the cross-site guard, an agent's socket) looks at the scheme or the client."""
    if not trusted_proxies:
        return app
    trusted = ProxyHeadersMiddleware(cast("ASGI3Application", app), trusted_hosts=trusted_proxies)
    return ForwardedHeader(cast(ASGIApp, trusted))


def build_server(
    settings: Settings,
    sock: socket.socket,
    *,
    certfile: str | None = None,
    keyfile: str | None = None,
    log_level: str = "info",
    own_logging: bool = False,
) -> tuple[uvicorn.Server, FastAPI]:
    """The uvicorn server for the app on `sock`; `own_logging`: uvicorn's lines go through
    the proxy's logging (JSON, redaction) instead of uvicorn's own handlers."""
    app = create_app(settings, self_url=url_of(sock, tls=certfile is not None))
    frame_limit = settings.max_message_bytes
    if LINKS.scheme(settings.cti_url) == "sim":
        # Agents' sockets keep their own limit (checked as each message is read).
        frame_limit = max(frame_limit, SIM_BRIDGE_MAX_BYTES)
    config = uvicorn.Config(
        read_forwarded(AgentSocketRoute(app), settings.trusted_proxies),
        ws="websockets-sansio",
        ws_max_size=frame_limit,
        ws_ping_interval=20,
        ws_ping_timeout=20,
        # No permessage-deflate: its state is about 43 KiB of each socket's 99 (issue 16), and
        # an agent's messages are small JSON on a LAN or loopback, where it saves little.
        ws_per_message_deflate=False,
        ssl_certfile=certfile,
        ssl_keyfile=keyfile,
        log_level=None if own_logging else log_level,
        log_config=None if own_logging else uvicorn.config.LOGGING_CONFIG,
        access_log=False,
        # The app reads forwarded headers itself, from SOFTPHONE_TRUSTED_PROXIES only; uvicorn's
        # own default would believe any local process (127.0.0.1).
        proxy_headers=False,
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    # A cluster node that lets go of the PBX link stops itself through it (proxy/app.py).
    app.state.server = server
    return server, app


async def serve(
    server: uvicorn.Server, sock: socket.socket, on_started: Callable[[], None] | None = None
) -> None:
    """Serve until shut down; `on_started` runs once the app is up and accepting."""
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started and not task.done():  # noqa: ASYNC110 - uvicorn offers no event
        await asyncio.sleep(0.02)
    if server.started and on_started is not None:
        on_started()
    await task
