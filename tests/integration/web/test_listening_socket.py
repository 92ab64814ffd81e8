"""The proxy's listening socket hands out connections that send small messages at once."""

from __future__ import annotations

import asyncio
import socket

from proxy.server import bind


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
