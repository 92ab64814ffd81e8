"""The load balancer configurations of docs/operations.md, run as an admin would copy them.

Each test takes the ```nginx or ```haproxy block from the guide, changes only the addresses,
ports and file paths to the test's (every one of which must still be in the guide), checks it
with the balancer's own `-t`/`-c`, and runs it over TLS in front of two proxy nodes in cluster
mode (one Redis prefix, one PostgreSQL database). The real `websockets` client and httpx play
the browser. Skipped, saying so, where nginx or HAProxy is not installed (Debian:
`apt-get install nginx-light haproxy`).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme
import websockets

from tests.databases import postgres_url
from tests.harness import RunningProxy, next_message, running_proxy
from tests.redis_db import redis_bus_url, redis_prefix

GUIDE = Path(__file__).resolve().parents[3] / "docs" / "operations.md"
NODES = ("10.0.4.11:8080", "10.0.4.12:8080")


def guide_block(language: str) -> str:
    """The one fenced block of `language` in the operations guide."""
    blocks = re.findall(rf"^```{language}\n(.*?)^```", GUIDE.read_text(), re.M | re.S)
    assert len(blocks) == 1, f"docs/operations.md should hold one ```{language} block"
    return str(blocks[0])


def swapped(text: str, changes: dict[str, str]) -> str:
    for old, new in changes.items():
        assert old in text, f"the guide's configuration no longer says {old!r}"
        text = text.replace(old, new)
    return text


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Site:
    """The balancer's two ports, its certificate files, and the nodes behind it."""

    tmp: Path
    https_port: int
    http_port: int
    ca: trustme.CA
    nodes: list[RunningProxy]
    stops: list[contextlib.ExitStack]  # each node's: closing it stops that node

    @property
    def public(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"

    def node_addresses(self) -> dict[str, str]:
        bound = [node.base_url.removeprefix("http://") for node in self.nodes]
        return dict(zip(NODES, bound, strict=True))

    def tls(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        self.ca.configure_trust(context)
        return context


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    """Two demo nodes in cluster mode (one Redis prefix, one PostgreSQL database), told the
    balancer's public address and that 127.0.0.1 (the balancer) may be believed; and a
    certificate for the balancer."""
    async with postgres_url() as database, redis_prefix() as prefix:
        https_port, http_port = free_port(), free_port()
        shared = {
            "database_url": database,
            "bus_url": redis_bus_url(prefix),
            "public_url": f"https://127.0.0.1:{https_port}",
            "trusted_proxies": ["127.0.0.1"],
        }
        ca = certificates(tmp_path)
        with two_nodes(tmp_path, shared) as (nodes, stops):
            yield Site(tmp_path, https_port, http_port, ca, nodes, stops)


@contextlib.contextmanager
def two_nodes(
    tmp_path: Path, shared: dict[str, Any]
) -> Iterator[tuple[list[RunningProxy], list[contextlib.ExitStack]]]:
    """Two nodes, each with an exit stack of its own: closing it stops that node."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    # A node that does not hold the link has no link of its own to wait for.
    with contextlib.ExitStack() as a, contextlib.ExitStack() as b:
        nodes = [a.enter_context(running_proxy(tmp_path / "a", wait_for_link=False, **shared))]
        nodes.append(b.enter_context(running_proxy(tmp_path / "b", wait_for_link=False, **shared)))
        # Put in service once ready, as a balancer's health check would: one node holds the
        # link (a new holder waits a second before it dials), the other has heard so.
        deadline = time.monotonic() + 20
        for node in nodes:
            while httpx.get(f"{node.base_url}/readyz").status_code != 200:
                assert time.monotonic() < deadline, f"{node.base_url} never became ready"
                time.sleep(0.05)
        yield nodes, [a, b]


def certificates(tmp_path: Path) -> trustme.CA:
    """The balancer's certificate, for its name and 127.0.0.1, in the files each one reads."""
    ca = trustme.CA()
    issued = ca.issue_cert("softphone.acme.com", "127.0.0.1")
    issued.cert_chain_pems[0].write_to_path(str(tmp_path / "site.crt"))
    for pem in issued.cert_chain_pems[1:]:
        pem.write_to_path(str(tmp_path / "site.crt"), append=True)
    issued.private_key_pem.write_to_path(str(tmp_path / "site.key"))
    issued.private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "site.pem"))
    return ca


@contextlib.contextmanager
def balancer(command: list[str], port: int) -> Iterator[None]:
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            if process.poll() is not None or time.monotonic() > deadline:
                output = process.stdout.read().decode() if process.stdout else ""
                raise RuntimeError(f"{command[0]} did not start: {output}")
            time.sleep(0.05)
        yield
    finally:
        process.terminate()
        process.wait(10)


@contextlib.contextmanager
def nginx(site: Site) -> Iterator[None]:
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(binary).exists():
        pytest.skip("nginx is not installed")
    conf = swapped(
        guide_block("nginx"),
        {
            **site.node_addresses(),
            "listen 443 ssl;": f"listen 127.0.0.1:{site.https_port} ssl;",
            "listen 80;": f"listen 127.0.0.1:{site.http_port};",
            "/etc/nginx/tls/softphone.acme.com.crt": str(site.tmp / "site.crt"),
            "/etc/nginx/tls/softphone.acme.com.key": str(site.tmp / "site.key"),
        },
    )
    (site.tmp / "softphone.conf").write_text(conf)
    # What Debian's /etc/nginx/nginx.conf wraps around conf.d/*.conf, with the test's paths.
    main = site.tmp / "nginx.conf"
    main.write_text(
        f"pid {site.tmp}/nginx.pid;\nerror_log {site.tmp}/nginx-error.log;\nevents {{}}\n"
        f"http {{\n    access_log off;\n    include {site.tmp}/softphone.conf;\n}}\n"
    )
    command = [binary, "-c", str(main), "-p", f"{site.tmp}/", "-e", f"{site.tmp}/nginx-error.log"]
    checked = subprocess.run([*command, "-t"], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stderr
    assert "syntax is ok" in checked.stderr
    with balancer([*command, "-g", "daemon off;"], site.https_port):
        yield


@contextlib.contextmanager
def haproxy(site: Site) -> Iterator[None]:
    binary = shutil.which("haproxy") or "/usr/sbin/haproxy"
    if not Path(binary).exists():
        pytest.skip("HAProxy is not installed")
    cfg = swapped(
        guide_block("haproxy"),
        {
            **site.node_addresses(),
            "bind :80": f"bind 127.0.0.1:{site.http_port}",
            "bind :443 ssl crt /etc/haproxy/tls/softphone.acme.com.pem": (
                f"bind 127.0.0.1:{site.https_port} ssl crt {site.tmp / 'site.pem'}"
            ),
            "/run/haproxy/admin.sock": str(site.tmp / "haproxy.sock"),
            # Two file descriptors per connection: more than a test machine may let it open.
            "maxconn 20000": "maxconn 2000",
        },
    )
    path = site.tmp / "haproxy.cfg"
    path.write_text(cfg)
    checked = subprocess.run(
        [binary, "-c", "-f", str(path)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    with balancer([binary, "-db", "-f", str(path)], site.https_port):
        yield


@pytest.mark.parametrize("run_balancer", [nginx, haproxy], ids=["nginx", "haproxy"])
async def test_an_agent_signs_in_and_opens_sockets_on_both_nodes_through_the_balancer(
    site: Site, run_balancer: object
) -> None:
    """Over TLS through the guide's balancer: the nodes believe the forwarded scheme, the page's
    origin is accepted, a sign-in made on one node opens sockets on both, plain http is sent
    to https, /metrics stays off the public address, and a node gone leaves the other serving."""
    assert callable(run_balancer)
    with run_balancer(site):
        async with httpx.AsyncClient(base_url=site.public, verify=site.tls()) as browser:
            ready = await browser.get("/readyz")
            assert ready.status_code == 200
            # Only a request the node saw as https gets HSTS: the forwarded scheme was believed.
            assert "strict-transport-security" in ready.headers
            signed = await browser.post(
                "/api/v1/sessions",
                json={"address": "1001", "password": "demo"},
                headers={"origin": site.public},
            )
            assert signed.status_code == 201, signed.text
            token = signed.json()["token"]
            assert (await browser.get("/metrics")).status_code == 404
        plain = httpx.get(f"http://127.0.0.1:{site.http_port}/softphone/softphone.html")
        assert plain.status_code == 301
        assert plain.headers["location"].startswith("https://")

        async def page() -> websockets.ClientConnection:
            return await websockets.connect(
                f"wss://127.0.0.1:{site.https_port}/ws/agent",
                ssl=site.tls(),
                origin=site.public,  # type: ignore[arg-type]
                subprotocols=["softphone.v2", f"auth.{token}"],  # type: ignore[list-item]
            )

        first, second = await page(), await page()
        try:
            for socket_ in (first, second):
                assert (await next_message(socket_))["type"] == "welcome"
            # Fewest sockets first: one page on each node.
            assert await own_sockets(site.nodes) == [1, 1]
        finally:
            await first.close()
            await second.close()

        # One node goes away: pages and sign-ins go on through the other.
        await asyncio.to_thread(site.stops[0].close)
        for _ in range(3):
            async with httpx.AsyncClient(base_url=site.public, verify=site.tls()) as browser:
                again = await browser.get("/api/v1/sessions/current", headers=bearer(token))
                assert again.status_code == 200
                assert again.json()["agent"]["address"] == "1001"
        last = await page()
        try:
            assert (await next_message(last))["type"] == "welcome"
        finally:
            await last.close()


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def own_sockets(nodes: list[RunningProxy]) -> list[int]:
    """Open agent sockets on each node, from each node's own /metrics (not through the
    balancer), read as the operations guide says: the link holder's figure is the whole
    cluster's, any other node's its own."""
    figures = [await node_metrics(node) for node in nodes]
    own = [int(f["softphone_agent_sockets"]) for f in figures]
    holders = [i for i, f in enumerate(figures) if f.get("softphone_link_holder") == 1]
    for i in holders:
        own[i] -= sum(own[j] for j in range(len(own)) if j not in holders)
    return own


async def node_metrics(node: RunningProxy) -> dict[str, float]:
    async with httpx.AsyncClient() as client:
        text = (await client.get(f"{node.base_url}/metrics")).text
    return {
        name: float(value) for name, value in re.findall(r"^(softphone_[a-z_]+) (\S+)$", text, re.M)
    }
