"""Runs the stand-in over HTTPS on a loopback port of its own.

simple-salesforce always builds `https://` URLs, so the stand-in speaks TLS with a certificate
from a throwaway CA (trustme) that exists only for this process and is trusted only by the
requests session we hand to simple-salesforce.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import tempfile
from pathlib import Path

import trustme
import uvicorn

from proxy.salesforce.standin.app import create_standin_app
from proxy.salesforce.standin.org import StandinOrg
from proxy.seams import Resource


class StandinServer(Resource):
    """`async with StandinServer(org) as s:` serves `org` at `s.instance_url` until exit."""

    def __init__(self, org: StandinOrg) -> None:
        self.org = org
        self.instance_url = ""
        self.ca_file = ""
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="sf-standin-")
        tmp = Path(self._tmp.name)
        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1", "localhost")
        ca.cert_pem.write_to_path(str(tmp / "ca.pem"))
        cert.private_key_and_cert_chain_pem.write_to_path(str(tmp / "server.pem"))
        self.ca_file = str(tmp / "ca.pem")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.instance_url = f"https://127.0.0.1:{sock.getsockname()[1]}"
        self.org.instance_url, self.org.ca_file = self.instance_url, self.ca_file
        config = uvicorn.Config(
            create_standin_app(self.org),
            ssl_certfile=str(tmp / "server.pem"),
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]), name="sf-standin")
        while not self._server.started:
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.01)

    async def aclose(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._tmp is not None:
            self._tmp.cleanup()
