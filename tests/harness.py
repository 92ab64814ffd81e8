"""Starts the real proxy under uvicorn on a loopback port, in a thread with its own event loop."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import websockets
from fastapi import FastAPI
from websockets.asyncio.client import ClientConnection

from proxy.server import bind, build_server, url_of
from proxy.services import Services
from proxy.settings import Settings

T = TypeVar("T")


# Called with every proxy the harness starts: the browser tests point their TLS terminator at
# it, so whichever fixture started the proxy, Chromium reaches it as an agent's browser would.
proxy_started: list[Callable[[RunningProxy], None]] = []


@contextmanager
def serving_in_thread(
    app_settings: Settings, host: str = "127.0.0.1", port: int = 0, log_level: str = "warning"
) -> Iterator[tuple[str, FastAPI, asyncio.AbstractEventLoop]]:
    """The proxy served from a background thread on an event loop of its own, for the tests and
    the bench: the base URL, the app and that loop (to run coroutines on the proxy's own
    services) once it accepts connections; stopped on exit."""
    sock = bind(host, port)
    server, app = build_server(app_settings, sock, log_level=log_level)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(
        target=loop.run_until_complete, args=(server.serve(sockets=[sock]),), daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the proxy did not start; see its log")
        time.sleep(0.02)
    try:
        yield url_of(sock, tls=False), app, loop
    finally:
        server.should_exit = True
        thread.join(15)
        if not thread.is_alive():
            loop.close()


@dataclass
class RunningProxy:
    base_url: str
    app: FastAPI
    loop: asyncio.AbstractEventLoop
    # Where browsers reach the page (https through a TLS terminator), and where the console
    # playing Salesforce is: another site. Empty: both at `base_url`, same site.
    public_base: str = ""
    salesforce_base: str = ""

    @property
    def page_base(self) -> str:
        """The origin agents' browsers load the softphone page from."""
        return self.public_base or self.base_url

    @property
    def console_url(self) -> str:
        """The demo console, as Salesforce frames the page: cross-site when there is a public
        address (the console at the org's force.com host, the page at the proxy's own)."""
        if not self.public_base:
            return f"{self.base_url}/console/"
        return f"{self.salesforce_base}/console/?softphone={self.public_base}"

    @property
    def ws_url(self) -> str:
        return self.base_url.replace("http", "ws", 1) + "/ws/agent"

    @property
    def services(self) -> Services:
        services: Services = self.app.state.services
        return services

    @property
    def api_calls(self) -> int:
        """API calls the Salesforce stand-in has served so far."""
        assert self.services.org is not None
        return self.services.org.api_calls

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run `coro` on the proxy's own loop (its store and services live there)."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)

    def sign_in(self, address: str = "1001", password: str = "demo", **extra: str) -> str:
        """A session token (`extension=` for a hot-desk agent's chosen phone)."""
        body = {"address": address, "password": password, **extra}
        response = httpx.post(f"{self.base_url}/api/v1/sessions", json=body)
        response.raise_for_status()
        token: str = response.json()["token"]
        return token

    def place_call(self, **body: Any) -> str:
        """Ring a device from the simulator; the call's id as pages know it (the proxy's)."""
        body.setdefault("agent", "1001")
        response = httpx.post(f"{self.base_url}/sim/calls", json=body)
        response.raise_for_status()
        return self.proxy_call_id(response.json()["call_id"])

    def proxy_call_id(self, pbx_id: str, timeout: float = 5.0) -> str:
        """The proxy's id for the simulator's call `pbx_id`, once the switchboard has seen it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for leg in httpx.get(f"{self.base_url}/sim/calls").json():
                if leg["call_id"] == pbx_id and leg["agent"]:
                    known = self.services.identities.known(leg["agent"], pbx_id)
                    if known is not None:
                        return known
            time.sleep(0.02)
        raise AssertionError(f"the proxy never saw the simulator's call {pbx_id}")

    def pbx_call_id(self, call_id: str) -> str:
        """The simulator's id for the call pages know as `call_id`."""
        found = self.services.identities.pbx_call(call_id)
        assert found is not None, f"no call {call_id} in progress"
        return found[1]

    def connect(self, token: str) -> Any:
        return websockets.connect(self.ws_url, subprotocols=["softphone.v2", f"auth.{token}"])  # type: ignore[list-item]


@contextmanager
def running_proxy(
    tmp_path: Path, *, wait_for_link: bool = True, **overrides: Any
) -> Iterator[RunningProxy]:
    """The whole proxy in demo mode (simulator + stand-in) unless `overrides` say otherwise."""
    values: dict[str, Any] = {
        "demo": True,
        # The suite runs many proxies in one process: freezing its objects is for a real one.
        "gc_freeze": False,
        "database_url": f"sqlite+aiosqlite:///{tmp_path}/test.db",
    }
    values.update(overrides)
    with serving_in_thread(Settings(**values)) as (base_url, app, loop):
        proxy = RunningProxy(base_url, app, loop)
        for started in proxy_started:
            started(proxy)
        if wait_for_link:
            _wait_for_link(proxy)
        yield proxy


def _wait_for_link(proxy: RunningProxy) -> None:
    deadline = time.monotonic() + 10
    while not proxy.services.link.connected:
        if time.monotonic() > deadline:
            raise RuntimeError("CTI link did not connect")
        time.sleep(0.02)


async def next_message(ws: ClientConnection, timeout: float = 5.0) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), timeout))
    return message


async def wait_for_ringing(ws: ClientConnection, timeout: float = 5.0) -> dict[str, Any]:
    """The first `call` update that rings on this page: its id is the proxy's, never the PBX's."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        remaining = deadline - asyncio.get_running_loop().time()
        message = await next_message(ws, max(remaining, 0.01))
        if message.get("type") == "call" and message["call"]["state"] == "ringing":
            return message


async def wait_for_call(
    ws: ClientConnection, call_id: str, *, timeout: float = 5.0, **wanted: Any
) -> dict[str, Any]:
    """The first `call` update for `call_id` whose fields match `wanted` (e.g. state="active")."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        remaining = deadline - asyncio.get_running_loop().time()
        message = await next_message(ws, max(remaining, 0.01))
        if message.get("type") != "call" or message["call"]["call_id"] != call_id:
            continue
        call: dict[str, Any] = message["call"]
        if all(call.get(k) == v for k, v in wanted.items()):
            return message
