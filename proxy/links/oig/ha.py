"""The OIG's HA callback: where a gateway pair says which server now holds our session.

With `ha_callback=http://<proxy host>:<port>/<path>` in the link URL, the link listens on that
address and, after every login, registers it with `registerHAClientCallback`. When the
gateway's HA pair switches over, it POSTs a `sessionHAEvent` whose `newServerIPAddress` names
the server to use; the link adds that address to its list and moves there. The listener is a
few lines of plain asyncio HTTP/1.1: one POST per connection, a bounded body, safe XML.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from urllib.parse import urlsplit, urlunsplit

from proxy.links.oig.soap import HA_ADDRESS, descendant_text, ha_event_response, parse_xml
from softphone.errors import ProtocolError

log = logging.getLogger(__name__)

MAX_HEAD_BYTES = 16 * 1024
MAX_BODY_BYTES = 64 * 1024
READ_TIMEOUT_SECONDS = 5.0


class HaCallbackListener:
    """Serves the HA callback at `uri` (port 0: any free port) and reports each new address."""

    def __init__(self, uri: str, on_partner: Callable[[str], None]) -> None:
        self.uri = uri
        self.on_partner = on_partner
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        parts = urlsplit(self.uri)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"ha_callback must be an http:// address, got {self.uri!r}")
        self._server = await asyncio.start_server(
            self._handle, parts.hostname, parts.port or 80, limit=MAX_HEAD_BYTES
        )
        port = self._server.sockets[0].getsockname()[1]
        netloc = f"{parts.hostname}:{port}"
        self.uri = urlunsplit((parts.scheme, netloc, parts.path or "/", "", ""))
        log.info("OIG HA callback listening at %s", self.uri)

    async def aclose(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), 1)
            self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        status, body = "200 OK", ha_event_response()
        try:
            raw = await asyncio.wait_for(self._read(reader), READ_TIMEOUT_SECONDS)
            address = descendant_text(parse_xml(raw), HA_ADDRESS)
            if not address:
                raise ProtocolError(f"HA callback without {HA_ADDRESS}")
            self.on_partner(address)
        except (ProtocolError, ValueError, TimeoutError, asyncio.IncompleteReadError) as exc:
            log.error("OIG HA callback refused: %s", exc)
            status, body = "400 Bad Request", b""
        except asyncio.LimitOverrunError:
            status, body = "413 Content Too Large", b""
        with contextlib.suppress(ConnectionError):
            head = (
                f"HTTP/1.1 {status}\r\nContent-Type: text/xml; charset=utf-8\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            )
            writer.write(head.encode() + body)
            await writer.drain()
        writer.close()

    async def _read(self, reader: asyncio.StreamReader) -> bytes:
        head = await reader.readuntil(b"\r\n\r\n")
        request_line, *lines = head.decode("latin-1").split("\r\n")
        if not request_line.startswith("POST "):
            raise ValueError(f"HA callback must be a POST, got {request_line[:40]!r}")
        length = 0
        for line in lines:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip())
        if not 0 < length <= MAX_BODY_BYTES:
            raise ValueError(f"HA callback body of {length} bytes")
        return await reader.readexactly(length)
