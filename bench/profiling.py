"""py-spy on the proxy's process, one profile per bench phase (`scripts/bench --profile DIR`).

Sampling from outside (`--nonblocking`: the proxy is never paused) costs the proxy nothing in
its own process, so the phase's figures stay comparable with an unprofiled run. Each phase
writes DIR/<phase>.txt in collapsed-stack form (flamegraph.pl or speedscope read it), and the
bench prints where each thread spent its samples.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path


def _py_spy() -> str:
    beside_python = Path(sys.executable).with_name("py-spy")
    found = str(beside_python) if beside_python.exists() else shutil.which("py-spy")
    if found is None:
        raise RuntimeError("--profile needs py-spy: pip install py-spy into the venv")
    return found


@contextlib.contextmanager
def recording(pid: int, out: Path | None) -> Iterator[None]:
    """Samples `pid` while the block runs, into `out` (nothing when `out` is None)."""
    if out is None:
        yield
        return
    command = [_py_spy(), "record", "-p", str(pid), "-o", str(out), "-f", "raw"]
    command += ["-r", "250", "--threads", "--nonblocking"]
    spy = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        yield
    finally:
        spy.send_signal(signal.SIGINT)  # py-spy writes its file when interrupted
        try:
            spy.wait(60)
        except subprocess.TimeoutExpired:
            spy.kill()


def _frame(frame: str) -> str:
    """`func (path/to/module.py:12)` -> `func (module.py:12)`."""
    name, _, where = frame.partition(" (")
    return f"{name} ({where.rsplit('/', 1)[-1]}" if where else name


def summary(path: Path, top: int = 8) -> list[str]:
    """Per thread: its share of the samples, and the functions it spent them in (own time)
    and under (inclusive, ours only: proxy/ and softphone/ frames)."""
    if not path.exists():
        return [f"{path.name}: no profile written"]
    threads: Counter[str] = Counter()
    own: dict[str, Counter[str]] = {}
    ours: dict[str, Counter[str]] = {}
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        thread, *frames = stack.split(";")
        n = int(count)
        threads[thread] += n
        own.setdefault(thread, Counter())[_frame(frames[-1]) if frames else "(no frame)"] += n
        mine = {_frame(f) for f in frames if "(proxy/" in f or "(softphone/" in f}
        for frame in mine:
            ours.setdefault(thread, Counter())[frame] += n
    total = sum(threads.values())
    lines = [f"{path.name}: {total:,} samples"]
    for thread, n in threads.most_common(3):
        lines.append(f"  {thread}: {n / total:.0%} of samples")
        for frame, k in own[thread].most_common(top):
            lines.append(f"    own {k / n:5.1%}  {frame}")
        for frame, k in ours.get(thread, Counter()).most_common(top):
            lines.append(f"    in  {k / n:5.1%}  {frame}")
    return lines
