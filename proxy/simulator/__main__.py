"""`python -m proxy.simulator --devices 1001-1005,2201`: the PBX simulator as a server of its own.

Proxies reach it as they reach a PBX's bridge, `SOFTPHONE_CTI_URL=bridge+ws://HOST:PORT/sim/bridge`
(several proxy nodes may, one after another, as a cluster's link holder changes), and tests or
a person drive its calls through the control API at `/sim` (OpenAPI at `/sim/docs`). It prints
`simulator serving http://HOST:PORT/sim` once it accepts connections (`--port 0`: any free port).
"""

from __future__ import annotations

import argparse
import asyncio
import socket
from collections.abc import Sequence

import uvicorn
from fastapi import FastAPI

from proxy.simulator.api import create_simulator_app
from proxy.simulator.pbx import SimulatedPbx

# The link's `monitor` frame names every device it watches (about 9 bytes each).
BRIDGE_MAX_BYTES = 4 * 1024 * 1024


def devices(text: str) -> list[str]:
    """`1001-1005,2201` -> the devices 1001 to 1005 and 2201."""
    found: list[str] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        first, dash, last = part.partition("-")
        if not first.isdigit() or (dash and not last.isdigit()):
            raise argparse.ArgumentTypeError(f"{part!r}: an extension or a range like 1001-1005")
        if not dash:
            found.append(first)
            continue
        width = len(first)
        found.extend(str(n).zfill(width) for n in range(int(first), int(last) + 1))
    return found


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m proxy.simulator", description=__doc__)
    root.add_argument("--host", default="127.0.0.1")
    root.add_argument("--port", type=int, default=8090)
    root.add_argument(
        "--devices", type=devices, default=devices("1001-1005"), help="the phones it rings"
    )
    root.add_argument("--group", action="append", default=[], help="ACD group every phone is in")
    root.add_argument("--hold-timeout", type=float, default=60.0)
    root.add_argument("--transfer-recall", type=float, default=20.0)
    root.add_argument("--work-seconds", type=float, default=0.0)
    return root


def create_app(args: argparse.Namespace) -> FastAPI:
    pbx = SimulatedPbx(
        hold_timeout=args.hold_timeout,
        transfer_recall=args.transfer_recall,
        work_seconds=args.work_seconds,
    )
    for device in args.devices:
        pbx.add_agent(device, tuple(args.group))
    app = FastAPI(title="softphone-proxy PBX simulator", docs_url=None, openapi_url=None)
    app.mount("/sim", create_simulator_app(pbx))
    return app


async def serve(args: argparse.Namespace) -> None:
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    sock.listen(128)
    host, port = sock.getsockname()[:2]
    config = uvicorn.Config(
        create_app(args),
        ws="websockets-sansio",
        ws_max_size=BRIDGE_MAX_BYTES,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started and not task.done():  # noqa: ASYNC110 - uvicorn offers no event
        await asyncio.sleep(0.02)
    if server.started:
        shown = f"[{host}]" if ":" in host else host
        print(f"simulator serving http://{shown}:{port}/sim", flush=True)
    await task


def main(argv: Sequence[str] | None = None) -> None:
    asyncio.run(serve(parser().parse_args(argv)))


if __name__ == "__main__":
    main()
