"""TCP forwarders the cluster tests put between pieces: a load balancer, and a cable to cut.

`Forwarder` runs on an event loop of its own in a thread (so a test's blocking calls never stall
it) and moves bytes between a client and one of its backends:

- as the **load balancer** in front of the proxy nodes: round-robin over the backends, a backend
  that refuses the connection (a killed node) is skipped, `pin(name)` sends new connections to one
  backend while it accepts them, and `backend_of(port)` says where a client's connection went;
  with `tls`, it terminates TLS as a production balancer does and forwards plain bytes, adding
  no forwarded headers;
- as a **cable** between one node and PostgreSQL: `cut()` is a network partition. Both ways go
  silent at once (the node's packets go nowhere, nothing comes back, new connections hang); the
  server's side is closed only after `server_notices` seconds, the time PostgreSQL's own TCP
  keepalives take to give up on a peer that stopped answering (a forwarder's kernel would
  otherwise answer those keepalives for the node forever).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from tests.tls_terminator import pump as relay

Address = tuple[str, int]


@dataclass(eq=False)
class _Pair:
    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter
    pumps: list[asyncio.Task[None]] = field(default_factory=list)


class Forwarder:
    """Accepts on a loopback port and forwards each connection to one backend (see module)."""

    def __init__(
        self,
        name: str,
        backends: dict[str, Address] | None = None,
        *,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.name = name
        self.tls = tls
        self.backends: dict[str, Address] = dict(backends or {})
        self.port = 0
        self.pinned: str | None = None
        self.is_cut = False
        self.routed: dict[int, str] = {}  # client's port -> backend name
        self._turn = itertools.count()
        self._pairs: set[_Pair] = set()
        self._silent: list[asyncio.StreamWriter] = []  # kept open, never answered
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"forwarder-{name}")
        self._server: asyncio.Server | None = None
        self._started = threading.Event()

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._thread.start()
        if not self._started.wait(10):
            raise RuntimeError(f"forwarder {self.name} did not start")

    def close(self) -> None:
        if not self._thread.is_alive():
            return
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def pin(self, backend: str | None) -> None:
        """New connections go to `backend` while it accepts them (None: round-robin again)."""
        self.pinned = backend

    def backend_of(self, client_port: int) -> str | None:
        """The backend the client's connection from `client_port` was forwarded to."""
        return self.routed.get(client_port)

    def cut(self, server_notices: float = 3.0) -> None:
        """A network partition from now on (see the module's docstring)."""
        asyncio.run_coroutine_threadsafe(self._cut(server_notices), self._loop).result(10)

    # On the forwarder's own loop from here on.

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._listen())
        self._started.set()
        self._loop.run_forever()
        self._loop.close()

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0, ssl=self.tls)
        self.port = self._server.sockets[0].getsockname()[1]

    def _order(self) -> list[str]:
        names = list(self.backends)
        if not names:
            return []
        start = next(self._turn) % len(names)
        order = names[start:] + names[:start]
        if self.pinned in self.backends:
            order.remove(self.pinned)
            order.insert(0, self.pinned)
        return order

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.is_cut:
            self._silent.append(writer)
            return
        for name in self._order():
            host, port = self.backends[name]
            try:
                up_reader, up_writer = await asyncio.open_connection(host, port)
            except OSError:
                continue  # a backend that is down: the next one
            self.routed[writer.get_extra_info("peername")[1]] = name
            pair = _Pair(writer, up_writer)
            pair.pumps = [
                # A cancelled pump (a cut cable) closes nothing: it just goes quiet.
                asyncio.create_task(relay(reader, up_writer, close_on_cancel=False)),
                asyncio.create_task(relay(up_reader, writer, close_on_cancel=False)),
            ]
            self._pairs.add(pair)
            await asyncio.gather(*pair.pumps, return_exceptions=True)
            self._pairs.discard(pair)
            return
        writer.close()  # no backend at all: as a balancer with none healthy, refuse

    async def _cut(self, server_notices: float) -> None:
        self.is_cut = True
        pairs = list(self._pairs)
        for pair in pairs:
            for pump in pair.pumps:
                pump.cancel()
            self._silent.append(pair.client)

        def server_gives_up() -> None:
            for pair in pairs:
                with contextlib.suppress(ConnectionError, OSError, RuntimeError):
                    pair.upstream.transport.abort()

        self._loop.call_later(server_notices, server_gives_up)

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for pair in list(self._pairs):
            for pump in pair.pumps:
                pump.cancel()
            pair.upstream.transport.abort()
            pair.client.transport.abort()
        for writer in self._silent:
            writer.transport.abort()


@contextmanager
def forwarding(name: str, backends: dict[str, Address] | None = None) -> Iterator[Forwarder]:
    forwarder = Forwarder(name, backends)
    forwarder.start()
    try:
        yield forwarder
    finally:
        forwarder.close()
