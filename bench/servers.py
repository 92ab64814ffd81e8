"""The proxy and the relay each in a process of its own, so their memory and CPU are theirs.

The parent binds the listening socket (port 0: the OS picks) and the child inherits it, so
there is no race for a port and the parent knows the address before the child starts.

    python -m bench.servers proxy FD URL SETTINGS_JSON
    python -m bench.servers relay FD URL
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from proxy.server import bind, url_of

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
TICKS = os.sysconf("SC_CLK_TCK")


class Child:
    """A server process on loopback; `url` is where it listens."""

    def __init__(self, kind: str, log_path: Path, settings: dict[str, Any] | None = None) -> None:
        self.sock = bind("127.0.0.1", 0)
        self.url = url_of(self.sock, tls=False)
        args = [sys.executable, "-m", "bench.servers", kind, str(self.sock.fileno()), self.url]
        if settings is not None:
            args.append(json.dumps(settings))
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(
            args, pass_fds=[self.sock.fileno()], stdout=self._log, stderr=subprocess.STDOUT
        )
        self.sock.close()  # the child holds it now

    def wait_ready(self, path: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.log_path.name} exited:\n{self.log_tail()}")
            try:
                if httpx.get(self.url + path, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.log_path.name} not ready in {timeout}s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 20) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def rss(self) -> int:
        """Resident bytes, as the kernel counts them now."""
        with open(f"/proc/{self.process.pid}/statm") as statm:
            return int(statm.read().split()[1]) * PAGE_SIZE

    def cpu_seconds(self) -> float:
        """User + system CPU the process has used since it started."""
        with open(f"/proc/{self.process.pid}/stat") as stat:
            fields = stat.read().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / TICKS

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._log.close()


def _serve_proxy(sock: socket.socket, settings_json: str) -> None:
    from proxy.server import build_server, serve
    from proxy.settings import Settings

    server, _app = build_server(Settings(**json.loads(settings_json)), sock, log_level="warning")
    asyncio.run(serve(server, sock))


def main(argv: list[str]) -> None:
    kind, fd, url = argv[0], int(argv[1]), argv[2]
    sock = socket.socket(fileno=fd)
    if kind == "proxy":
        _serve_proxy(sock, argv[3])
    else:
        from bench.relay import relay_server

        asyncio.run(relay_server(sock, url).serve(sockets=[sock]))


if __name__ == "__main__":
    main(sys.argv[1:])
