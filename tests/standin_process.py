"""The Salesforce stand-in org as a process of its own, shared by a cluster's nodes:
`python -m tests.standin_process`.

It serves the demo org over HTTPS (the real simple-salesforce client signs in to it with the
org's consumer key and secret, trusting its throwaway CA through REQUESTS_CA_BUNDLE), and a
plain-HTTP inspection port on loopback that tests read without spending the org's API calls:
`GET /usage` (API calls served, sign-ins) and `GET /tasks` (the Tasks logged so far).
It prints one JSON line saying where all that is, then serves until killed.
"""

from __future__ import annotations

import asyncio
import json
import socket

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from proxy.salesforce.standin.org import StandinOrg, demo_org
from proxy.salesforce.standin.server import StandinServer


def inspection_app(org: StandinOrg) -> Starlette:
    async def usage(_: Request) -> Response:
        return JSONResponse({"api_calls": org.api_calls, "logins": org.logins})

    async def tasks(_: Request) -> Response:
        return JSONResponse(org.tasks())

    async def latency(request: Request) -> Response:
        """Slow every API call down (seconds), as a busy org is."""
        org.latency_seconds = float((await request.json())["seconds"])
        return JSONResponse({"latency_seconds": org.latency_seconds})

    return Starlette(
        routes=[
            Route("/usage", usage),
            Route("/tasks", tasks),
            Route("/latency", latency, methods=["POST"]),
        ]
    )


async def main() -> None:
    org = demo_org()
    async with StandinServer(org) as server:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.bind(("127.0.0.1", 0))
        inspect = uvicorn.Server(
            uvicorn.Config(inspection_app(org), log_level="warning", lifespan="off")
        )
        task = asyncio.create_task(inspect.serve(sockets=[sock]))
        while not inspect.started and not task.done():
            await asyncio.sleep(0.01)
        where = {
            "instance_url": server.instance_url,
            "ca_file": server.ca_file,
            "consumer_key": org.consumer_key,
            "consumer_secret": org.consumer_secret,
            "inspect_url": f"http://127.0.0.1:{sock.getsockname()[1]}",
        }
        print(json.dumps(where), flush=True)
        await task


if __name__ == "__main__":
    asyncio.run(main())
