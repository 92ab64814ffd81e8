"""A proxy cluster on loopback, every piece a real process: for the cluster tests and the bench.

    async with running_cluster(nodes=3) as cluster:
        holder = await cluster.wait_for_holder()
        page = await cluster.open_page(await cluster.sign_in(cluster.agents[0].address))
        await cluster.place_call(cluster.agents[0].extension, ani="+16504508810")

What runs:

- the PBX simulator, standalone (`python -m proxy.simulator`): nodes reach it as a PBX's bridge,
  `bridge+ws://127.0.0.1:PORT/sim/bridge`, and tests ring agents through its control API;
- the Salesforce stand-in org (`python -m tests.standin_process`) over HTTPS, reached by every
  node through the real simple-salesforce client; it says how many API calls it served and which
  Tasks it holds on an inspection port that costs no API call;
- N `softphone-proxy serve` nodes, named node-1.. (SOFTPHONE_NODE_NAME), on one Redis prefix and
  one fresh PostgreSQL database whose roster is seeded before they start;
- a TCP load balancer in front of them (tests/forwarder.py), terminating TLS as production's
  does (`tls=False`: plain http), whose address is the nodes' SOFTPHONE_PUBLIC_URL: pages sign
  in and open their sockets there, with the page's Origin.

Everything is torn down on the way out, failure or not: processes killed, database dropped,
Redis keys deleted. Each node's log is in `cluster.logs`; the tail of each is printed when the
block fails, so a failing test says what the nodes said.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import ssl
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import trustme

from proxy.agents.hashing import hash_password
from proxy.cluster.lease import asyncpg_dsn
from proxy.store import AgentRecord, open_store
from tests.cluster_page import Page
from tests.databases import postgres_url
from tests.forwarder import Forwarder
from tests.processes import Process, first_line, socket_inodes, spawn
from tests.redis_db import redis_bus_url, redis_prefix

PASSWORD = "cluster-password"  # a throwaway roster's


@dataclass(frozen=True)
class Agent:
    address: str
    extension: str


def roster(count: int) -> list[Agent]:
    """Sign-in addresses that are not extensions, as real rosters have."""
    return [Agent(f"agent{n:02d}@cluster.example", str(3000 + n)) for n in range(1, count + 1)]


@dataclass
class Node:
    name: str
    process: Process
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def alive(self) -> bool:
        return self.process.alive


@dataclass
class Standin:
    """The stand-in org's process and where it serves."""

    process: Process
    instance_url: str
    ca_file: str
    consumer_key: str
    consumer_secret: str
    inspect_url: str
    http: httpx.AsyncClient

    async def api_calls(self) -> int:
        calls: int = (await self.http.get(f"{self.inspect_url}/usage")).json()["api_calls"]
        return calls

    async def tasks(self, call_object: str | None = None) -> list[dict[str, Any]]:
        tasks: list[dict[str, Any]] = (await self.http.get(f"{self.inspect_url}/tasks")).json()
        return [t for t in tasks if call_object is None or t.get("CallObject") == call_object]


@dataclass
class Cluster:
    logs: Path
    database_url: str
    bus_url: str
    simulator: Process
    sim_url: str  # http://127.0.0.1:PORT/sim
    standin: Standin
    balancer: Forwarder
    agents: list[Agent]
    # One client for every request the harness makes (a new one costs ~30 ms: its TLS context).
    http: httpx.AsyncClient
    # What clients trust to reach the balancer over TLS (None: it speaks plain http).
    client_tls: ssl.SSLContext | None
    settings: dict[str, str] = field(default_factory=dict)
    nodes: list[Node] = field(default_factory=list)
    cables: list[Forwarder] = field(default_factory=list)
    spawned: list[Process] = field(default_factory=list)  # every node process, started or not
    # Set by a test fixture whose test failed (a fixture sees no exception): logs kept, shown.
    failed: bool = False

    @property
    def public_url(self) -> str:
        return self.balancer.url

    @property
    def cti_url(self) -> str:
        return "bridge+ws" + self.sim_url.removeprefix("http") + "/bridge"

    def node(self, name: str) -> Node:
        return next(n for n in self.nodes if n.name == name)

    @property
    def live_nodes(self) -> list[Node]:
        return [n for n in self.nodes if n.alive]

    # Nodes.

    def node_env(self, name: str, database_url: str | None = None) -> dict[str, str]:
        return {
            "SOFTPHONE_NODE_NAME": name,
            "SOFTPHONE_CTI_URL": self.cti_url,
            "SOFTPHONE_BUS_URL": self.bus_url,
            "SOFTPHONE_DATABASE_URL": database_url or self.database_url,
            "SOFTPHONE_SALESFORCE_URL": self.standin.instance_url,
            "SOFTPHONE_SALESFORCE_CONSUMER_KEY": self.standin.consumer_key,
            "SOFTPHONE_SALESFORCE_CONSUMER_SECRET": self.standin.consumer_secret,
            "REQUESTS_CA_BUNDLE": self.standin.ca_file,
            "SOFTPHONE_PUBLIC_URL": self.public_url,
            "SOFTPHONE_HASH_WORKERS": "1",
            **self.settings,
        }

    async def add_nodes(
        self, count: int, *, database_url: str | None = None, **settings: str
    ) -> list[Node]:
        """`count` more nodes, started at once; `database_url`: theirs instead of the cluster's
        (the same database through a forwarder that a test can cut); `settings`: more SOFTPHONE_*
        values for these nodes (by name without the prefix)."""
        more = {f"SOFTPHONE_{k.upper()}": v for k, v in settings.items()}
        first = len(self.spawned) + 1
        names = [f"node-{n}" for n in range(first, first + count)]
        processes: list[Process] = []
        for name in names:
            process = await spawn(
                name,
                self.logs,
                "-m",
                "proxy.cli",
                "serve",
                "--allow-http",
                "--port",
                "0",
                env={**self.node_env(name, database_url), **more},
            )
            self.spawned.append(process)
            processes.append(process)
        lines = await asyncio.gather(*(first_line(p) for p in processes))
        added = []
        for process, line in zip(processes, lines, strict=True):
            # "softphone-proxy serving http://127.0.0.1:PORT/softphone/softphone.html"
            port = int(line.split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])
            node = Node(process.name, process, port)
            self.nodes.append(node)
            self.balancer.backends[node.name] = ("127.0.0.1", port)
            added.append(node)
        return added

    def database_cable(self) -> tuple[Forwarder, str]:
        """A forwarder between a node and PostgreSQL that a test can cut (`Forwarder.cut`),
        and the database URL that goes through it; closed with the cluster."""
        parts = urlsplit(self.database_url)
        cable = Forwarder("postgres", {"postgres": (parts.hostname or "", parts.port or 5432)})
        cable.start()
        self.cables.append(cable)
        host = f"127.0.0.1:{cable.port}"
        user = parts.username or ""
        if user and parts.password:
            user = f"{user}:{parts.password}"
        return cable, urlunsplit(parts._replace(netloc=f"{user}@{host}" if user else host))

    async def outbox_state(self, call_object: str) -> str | None:
        """The call log's row in the shared Task outbox: pending, written or dead (None: none)."""
        conn = await asyncpg.connect(asyncpg_dsn(self.database_url))
        try:
            state: str | None = await conn.fetchval(
                "SELECT state FROM outbox WHERE call_object = $1", call_object
            )
            return state
        finally:
            await conn.close()

    def kill(self, node: Node) -> None:
        """kill -9 of a node."""
        node.process.kill()

    async def ready(self, node: Node) -> dict[str, Any]:
        """The node's /readyz answer, ready or not ({} when it does not answer)."""
        try:
            answer: dict[str, Any] = (await self.http.get(f"{node.url}/readyz", timeout=2)).json()
            return answer
        except (httpx.HTTPError, ValueError):
            return {}

    async def holders(self) -> list[Node]:
        """Live nodes that hold the link and have it connected, by their /readyz. Until /readyz
        says `role`, a node whose link is connected holds it (as every node does without the
        lease)."""
        return (await self._holders())[0]

    async def _holders(self) -> tuple[list[Node], bool]:
        """The holders, and whether any node says its role at all."""
        live = self.live_nodes  # once: a node may end while they answer
        answers = await asyncio.gather(*(self.ready(n) for n in live))
        found = [
            node
            for node, ready in zip(live, answers, strict=True)
            if ready.get("role", "holder") == "holder" and ready.get("link") == "ok"
        ]
        return found, any("role" in ready for ready in answers)

    async def wait_for_holder(self, timeout: float = 20.0, *, not_: Node | None = None) -> Node:
        """The node that holds the link, once exactly one live node does (and it is not `not_`).
        Nodes that each hold a link of their own and say no role are a build without the link
        lease: that fails at once, saying so, rather than after `timeout`."""
        deadline = time.monotonic() + timeout
        found: list[Node] = []
        while time.monotonic() < deadline:
            found, roles = await self._holders()
            if len(found) == 1 and found[0] is not not_:
                return found[0]
            if len(found) > 1 and not roles:
                raise AssertionError(
                    f"{[n.name for n in found]} each hold a link of their own, and no node says "
                    f"its role on /readyz: this build has no link lease (issue 15)"
                )
            await asyncio.sleep(0.05)
        raise AssertionError(
            f"no single node held the link within {timeout} s; holding now: "
            f"{[n.name for n in found]}"
        )

    async def non_holder(self, timeout: float = 30.0) -> Node:
        """A live node that does not hold the link, once it is ready to serve pages (it has
        seen who holds the link: nodes read that from Redis every half second or so)."""
        holder = await self.wait_for_holder(timeout)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            others = [n for n in self.live_nodes if n is not holder]
            assert others, "the cluster has no node besides the holder"
            for node in others:
                ready = await self.ready(node)
                if ready.get("ready") is True and ready.get("role") != "holder":
                    return node
            await asyncio.sleep(0.05)
        raise AssertionError(f"no node besides {holder.name} was ready within {timeout} s")

    def tails(self) -> str:
        pieces = [self.simulator, self.standin.process, *self.spawned]
        return "\n".join(f"--- {p.name} (pid {p.pid}) ---\n{p.tail()}" for p in pieces)

    # Agents' side, through the load balancer.

    async def sign_in(self, address: str, password: str = PASSWORD) -> str:
        response = await self.http.post(
            f"{self.public_url}/api/v1/sessions", json={"address": address, "password": password}
        )
        response.raise_for_status()
        token: str = response.json()["token"]
        return token

    async def open_page(self, token: str, *, on: Node | None = None) -> Page:
        """An agent's page with its socket open through the balancer (to `on`, when given)."""
        page = Page(self, token)
        self.balancer.pin(on.name if on is not None else None)
        try:
            await page.open()
        finally:
            self.balancer.pin(None)
        return page

    # The PBX side.

    async def place_call(self, device: str, **body: Any) -> str:
        """Ring `device` from outside; the simulator's call id."""
        response = await self.http.post(f"{self.sim_url}/calls", json={"agent": device, **body})
        response.raise_for_status()
        call_id: str = response.json()["call_id"]
        return call_id

    async def bridge_sessions(self) -> list[dict[str, Any]]:
        """Every session the simulator's bridges have had, in the order they opened."""
        sessions: list[dict[str, Any]] = (
            await self.http.get(f"{self.sim_url}/bridge-sessions")
        ).json()
        return sessions

    def owner_of(self, peer: str) -> Node | None:
        """The node whose socket is `peer` (host:port, as the simulator saw it) while it is open."""
        port = int(peer.rsplit(":", 1)[1])
        inodes = socket_inodes(port)
        for node in self.live_nodes:
            with contextlib.suppress(OSError):
                fds = Path(f"/proc/{node.process.pid}/fd")
                if any(os.readlink(fd) in inodes for fd in fds.iterdir()):
                    return node
        return None


def _balancer_tls() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """The balancer's certificate from a throwaway CA, and a client context that trusts it."""
    ca = trustme.CA()
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(server)
    client = ssl.create_default_context()
    ca.configure_trust(client)
    return server, client


async def seed_roster(database_url: str, agents: list[Agent]) -> None:
    """The roster, saved before any node starts (which also creates the schema once)."""
    password_hash = hash_password(PASSWORD)
    async with open_store(database_url) as store:
        for agent in agents:
            name = agent.address.split("@")[0].capitalize()
            await store.put_agent(
                AgentRecord(agent.address, name, agent.extension, "regular", password_hash)
            )


async def start_standin(logs: Path, http: httpx.AsyncClient) -> Standin:
    process = await spawn("standin", logs, "-m", "tests.standin_process")
    where = json.loads(await first_line(process))
    return Standin(process, http=http, **where)


async def start_simulator(logs: Path, agents: list[Agent]) -> tuple[Process, str]:
    devices = ",".join(a.extension for a in agents)
    process = await spawn(
        "simulator", logs, "-m", "proxy.simulator", "--port", "0", "--devices", devices
    )
    line = await first_line(process)  # "simulator serving http://127.0.0.1:PORT/sim"
    return process, line.rsplit(" ", 1)[1]


@asynccontextmanager
async def running_cluster(
    nodes: int = 3, *, agents: int = 20, tls: bool = True, **settings: str
) -> AsyncIterator[Cluster]:
    """The whole cluster (see the module), with `nodes` nodes started; `settings` are more
    SOFTPHONE_* values for every node, by their names without the prefix (wrap_up_seconds=...)."""
    logs = Path(tempfile.mkdtemp(prefix="softphone-cluster-"))
    team = roster(agents)
    env = {f"SOFTPHONE_{k.upper()}": v for k, v in settings.items()}
    started: list[Process] = []
    server_tls, client_tls = _balancer_tls() if tls else (None, None)
    balancer = Forwarder("balancer", tls=server_tls)
    balancer.start()
    try:
        async with (
            postgres_url() as database_url,
            redis_prefix() as prefix,
            httpx.AsyncClient(timeout=10, verify=client_tls or True) as http,
        ):
            sim_task = asyncio.create_task(start_simulator(logs, team))
            sf_task = asyncio.create_task(start_standin(logs, http))
            try:
                await seed_roster(database_url, team)
            finally:
                sim, sf = await asyncio.gather(sim_task, sf_task, return_exceptions=True)
                started += [sim[0]] if isinstance(sim, tuple) else []
                started += [sf.process] if isinstance(sf, Standin) else []
            for failed in (sim, sf):
                if isinstance(failed, BaseException):
                    raise failed
            assert isinstance(sim, tuple) and isinstance(sf, Standin)
            cluster = Cluster(
                logs,
                database_url,
                redis_bus_url(prefix),
                sim[0],
                sim[1],
                sf,
                balancer,
                team,
                http,
                client_tls,
                env,
            )
            try:
                if nodes:
                    await cluster.add_nodes(nodes)
                yield cluster
            except BaseException:
                cluster.failed = True
                raise
            finally:
                if cluster.failed:
                    print(f"cluster logs in {logs}\n{cluster.tails()}", file=sys.stderr)
                await asyncio.gather(*(p.stop() for p in cluster.spawned))
                for cable in cluster.cables:
                    cable.close()
        if not cluster.failed:
            shutil.rmtree(logs, ignore_errors=True)
    finally:
        await asyncio.gather(*(p.stop() for p in started))
        balancer.close()
