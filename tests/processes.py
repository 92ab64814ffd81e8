"""Processes the cluster harness starts and kills, and which of them owns a loopback socket."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT = 60.0


@dataclass
class Process:
    name: str
    proc: asyncio.subprocess.Process
    log: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def alive(self) -> bool:
        return self.proc.returncode is None

    def kill(self) -> None:
        """kill -9: no goodbye to anyone."""
        if self.alive:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, signal.SIGKILL)

    async def stop(self) -> None:
        self.kill()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.proc.wait(), 10)

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


async def spawn(name: str, logs: Path, *args: str, env: dict[str, str] | None = None) -> Process:
    log = logs / f"{name}.log"
    with log.open("wb") as stderr:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        )
    return Process(name, proc, log)


async def first_line(process: Process, timeout: float = START_TIMEOUT) -> str:
    """What the process prints once it serves; a process that dies first says so with its log."""
    assert process.proc.stdout is not None
    try:
        line = await asyncio.wait_for(process.proc.stdout.readline(), timeout)
    except TimeoutError:
        raise RuntimeError(f"{process.name} did not start:\n{process.tail()}") from None
    if not line:
        await process.proc.wait()
        raise RuntimeError(f"{process.name} exited ({process.proc.returncode}):\n{process.tail()}")
    return line.decode().strip()


def socket_inodes(port: int) -> set[str]:
    """`socket:[inode]` of the loopback TCP sockets whose local port is `port`."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as rows:
            next(rows)
            for row in rows:
                fields = row.split()
                if int(fields[1].rsplit(":", 1)[1], 16) == port:
                    found.add(f"socket:[{fields[9]}]")
    return found
