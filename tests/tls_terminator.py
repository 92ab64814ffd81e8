"""A TLS terminator for the tests, as an L4 load balancer is: it decrypts and forwards bytes.

It adds no forwarded headers, so the proxy behind it sees plain HTTP from 127.0.0.1 while the
browser sees https on port 443 of the public host name. Browsers reach it through Chromium's
`--host-resolver-rules`, which map the public names (the proxy's and Salesforce's) to its port.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

import trustme

# The names the browser tests use: the org's Lightning host frames the softphone's public host.
SALESFORCE_HOST = "acme.lightning.force.com"
PUBLIC_HOST = "softphone.acme.test"
NAMES = (SALESFORCE_HOST, PUBLIC_HOST, "localhost", "127.0.0.1")


@dataclass
class Terminator:
    port: int
    ca: trustme.CA
    # http://host:port behind it; may be changed while it runs (the next connection goes there).
    upstream: str

    def resolver_rules(self, *hosts: str) -> str:
        """Chromium's --host-resolver-rules value sending `hosts` (port 443) to this terminator."""
        return ", ".join(f"MAP {host} 127.0.0.1:{self.port}" for host in hosts or NAMES[:2])


async def pump(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, close_on_cancel: bool = True
) -> None:
    """Bytes from `reader` to `writer` until one side ends, then `writer` is closed (and when
    cancelled too, unless `close_on_cancel` is off: a cut cable goes quiet, it closes nothing)."""
    try:
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    except asyncio.CancelledError:
        if close_on_cancel:
            _close(writer)
        raise
    _close(writer)


def _close(writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError, OSError, RuntimeError):
        writer.close()


@contextmanager
def tls_terminator(upstream: str) -> Iterator[Terminator]:
    """TLS on a loopback port, forwarded byte for byte to `upstream` (http://host:port)."""
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*NAMES).configure_cert(context)
    loop = asyncio.new_event_loop()
    started = threading.Event()
    terminator = Terminator(0, ca, upstream)

    async def forward(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        target = urlsplit(terminator.upstream)
        try:
            up_r, up_w = await asyncio.open_connection(target.hostname, target.port)
        except OSError:
            client_w.close()
            return
        await asyncio.gather(pump(client_r, up_w), pump(up_r, client_w))

    async def main() -> None:
        server = await asyncio.start_server(forward, "127.0.0.1", 0, ssl=context)
        terminator.port = server.sockets[0].getsockname()[1]
        started.set()
        async with server:
            await server.serve_forever()

    def run() -> None:
        with contextlib.suppress(asyncio.CancelledError):
            loop.run_until_complete(main())

    thread = threading.Thread(target=run, daemon=True, name="tls-terminator")
    thread.start()
    started.wait(10)
    try:
        yield terminator
    finally:
        for task in asyncio.all_tasks(loop):
            loop.call_soon_threadsafe(task.cancel)
        thread.join(5)
