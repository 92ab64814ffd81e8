"""The proxy's listening socket hands out connections that send small messages at once, and
the agent socket keeps no compression state."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

from proxy.server import bind
from tests.harness import next_message, running_proxy


async def test_accepted_connections_have_nodelay() -> None:
    """TCP_NODELAY is on for accepted sockets, so a pop right after its ring is not held 40 ms."""
    accepted: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    class Capture(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            sock = transport.get_extra_info("socket")
            accepted.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            transport.close()

    server = await asyncio.get_running_loop().create_server(Capture, sock=bind("127.0.0.1", 0))
    port = server.sockets[0].getsockname()[1]
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    assert await asyncio.wait_for(accepted, 5) != 0
    writer.close()
    server.close()
    await server.wait_closed()


async def test_the_agent_socket_declines_compression(tmp_path: Path) -> None:
    """The client offers permessage-deflate and the proxy declines it, saving ~43 KiB a socket."""
    with running_proxy(tmp_path) as proxy:
        async with proxy.connect(proxy.sign_in()) as ws:
            await next_message(ws)
            assert "sec-websocket-extensions" not in ws.response.headers
            assert "permessage-deflate" in ws.request.headers["sec-websocket-extensions"]
