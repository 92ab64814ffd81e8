"""The app factory: builds every piece from settings, owns them, and closes them in order."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from proxy.agents.admission import Admission
from proxy.agents.auth import Authenticator, hash_password
from proxy.agents.commands import Commands
from proxy.agents.desk import AgentDesk
from proxy.agents.feed import AgentFeed
from proxy.agents.journal import CallJournal
from proxy.agents.lookups import Lookups
from proxy.agents.pages import Pages
from proxy.agents.recall import CallMemory, NoMemory
from proxy.agents.roster import RosterWatcher
from proxy.agents.seating import Seating
from proxy.agents.signin import SignIns
from proxy.agents.states import AgentStates
from proxy.agents.switchboard import Switchboard
from proxy.agents.views import AgentViews
from proxy.agents.voice import VoiceJournal, VoiceSeats
from proxy.bus import BUSES, open_bus
from proxy.cluster import check_cluster
from proxy.cluster.answers import open_answers
from proxy.cluster.budget import SharedBudget
from proxy.cluster.holder import LinkHolder
from proxy.cluster.line import CoreLine
from proxy.cluster.recall import RedisCallMemory
from proxy.cluster.tickets import open_tickets
from proxy.collector import Collector
from proxy.links import LINKS, CtiLink, open_link, split_urls
from proxy.links.fenced import FencedLink
from proxy.salesforce import SALESFORCE, open_salesforce
from proxy.salesforce.base import SalesforceApi
from proxy.salesforce.lookup import RecordMatcher
from proxy.salesforce.oauth import PendingLogins, SingleSignOn, single_sign_on
from proxy.salesforce.standin.org import StandinOrg, demo_org, demo_user_id
from proxy.salesforce.tasks import TaskWriter
from proxy.salesforce.voice import check_voice_settings, telephony_api
from proxy.salesforce.voice_writer import VoiceCallWriter
from proxy.seams import AsyncResource
from proxy.services import Services
from proxy.settings import Settings
from proxy.simulator.api import create_simulator_app
from proxy.simulator.pbx import SimulatedPbx
from proxy.store import STORES, AgentRecord, Store, open_store
from proxy.store.base import AgentKind
from proxy.store.retention import Retention
from proxy.web.admin import admin_router
from proxy.web.headers import SecurityHeaders, allowed_sources
from proxy.web.metrics import Metrics
from proxy.web.origins import CrossSiteGuard, origin_check
from proxy.web.page_core import CoreRequests, CoreSeats, NodePages, sync_pages
from proxy.web.routes import api_router, mount_demo, mount_static
from proxy.web.sso import sso_router
from proxy.web.voice import SCV_PACKAGE, mount_voice, voice_router
from softphone.identities import Identities

log = logging.getLogger(__name__)
DEMO_AGENTS = [
    ("1001", "Alex Morgan"),
    ("1002", "Sam Rivera"),
    ("1003", "Jordan Lee"),
    ("1004", "Taylor Kim"),
    ("1005", "Casey Novak"),
]
# As real rosters are: sign-in addresses that are not extensions, and a hot-desk agent who
# picks a phone at sign-in (their own, 2301, when they pick none).
DEMO_MORE_AGENTS: list[tuple[str, str, str, AgentKind]] = [
    ("maria@demo.example", "Maria Lindqvist", "2201", "regular"),
    ("desk@demo.example", "Dana Whitfield", "2301", "hot_desk"),
]
DEMO_PASSWORD = "demo"  # noqa: S105 - the documented demo password, demo mode only


async def seed_demo_agents(store: Store) -> None:
    password_hash = hash_password(DEMO_PASSWORD)
    for i, (extension, name) in enumerate(DEMO_AGENTS, start=1):
        await store.put_agent(
            AgentRecord(extension, name, extension, "acd", password_hash, demo_user_id(i))
        )
    for address, name, extension, kind in DEMO_MORE_AGENTS:
        await store.put_agent(AgentRecord(address, name, extension, kind, password_hash))


def check_seams(settings: Settings) -> None:
    """Fail at start, naming the known schemes, when a seam's URL has an unknown scheme (and
    when Salesforce credentials cannot make a token source, or a shared bus has a local store)."""
    for url in split_urls(settings.cti_url):
        LINKS.scheme(url)
    BUSES.scheme(settings.bus_url)
    STORES.scheme(settings.database_url)
    check_cluster(settings)
    check_voice_settings(settings)
    if SALESFORCE.scheme(settings.salesforce_url) == "https":
        import requests

        from proxy.salesforce.auth import token_source

        token_source(settings, settings.salesforce_url, requests.Session())


# The org's object list is fetched at start (IVR checks then cost no API call); a slow org
# holds up the start, or a takeover, this long at most (the fetch goes on behind).
WARM_UP_SECONDS = 3.0
# How long a new core waits for the PBX's first snapshot before it serves pages.
FIRST_SNAPSHOT_SECONDS = 5.0
_behind: set[asyncio.Task[None]] = set()


async def _soon(work: Coroutine[Any, Any, None], within: float) -> None:
    """`work`, waited for up to `within` seconds, then left to finish behind."""
    task = asyncio.ensure_future(work)
    _behind.add(task)
    task.add_done_callback(_behind.discard)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.shield(task), within)


async def _enter(stack: AsyncExitStack, *parts: AsyncResource | None) -> None:
    """Start each part that is there, in order (closed in reverse with `stack`)."""
    for part in parts:
        if part is not None:
            await stack.enter_async_context(part)


async def _single_sign_on(
    stack: AsyncExitStack, settings: Settings, org: StandinOrg | None
) -> SingleSignOn | None:
    """ "Sign in with Salesforce", its sign-ins in progress kept where every node sees them
    (the callback may reach another node than the start did)."""
    sso = single_sign_on(settings, org)
    if sso is not None:
        tickets = await stack.enter_async_context(open_tickets(settings.bus_url, "sso"))
        sso.pending = PendingLogins(tickets)
    return sso


async def _api_usage(
    stack: AsyncExitStack, settings: Settings, api: SalesforceApi | None
) -> Callable[[], tuple[int, int] | None] | None:
    """In a cluster, the org's API use as the node that called Salesforce last read it."""
    if api is None or BUSES.scheme(settings.bus_url) == "memory":
        return None
    budget = SharedBudget(settings.bus_url, lambda: api.api_usage)
    await stack.enter_async_context(budget)
    return budget.usage


def open_call_memory(bus_url: str) -> CallMemory:
    """Calls' facts for the next link holder: the cluster's Redis, or nowhere on one node."""
    if BUSES.scheme(bus_url) == "memory":
        return NoMemory()
    return RedisCallMemory(bus_url)


def _node_name(settings: Settings) -> str:
    return settings.node_name or f"{socket.gethostname()}-{os.getpid()}"


def _link(settings: Settings, self_url: str, holders: list[LinkHolder]) -> CtiLink:
    """The CTI link; in a cluster, one whose every command first proves that this node still
    holds the link's lease (`holders`, filled once the holder is made)."""
    link = open_link(settings.cti_url, self_url=self_url)
    if BUSES.scheme(settings.bus_url) == "memory":
        return link
    return FencedLink(link, fence=lambda: holders[0].lease.fence())


async def _core_or_contention(
    stack: AsyncExitStack,
    app: FastAPI,
    settings: Settings,
    node: str,
    node_pages: NodePages,
    run_core: Callable[[AsyncExitStack], Awaitable[None]],
    link: CtiLink,
) -> tuple[CoreLine | None, LinkHolder | None]:
    """On a single node, the core started now; in a cluster, this node's line to the others and
    its contention for the link, which starts the core when it wins (not started yet)."""
    if BUSES.scheme(settings.bus_url) == "memory":
        await run_core(stack)
        return None, None

    def services() -> Services:
        built: Services = app.state.services
        return built

    line = CoreLine(
        settings.bus_url,
        node,
        status=node_pages.counts,
        holder_changed=lambda holder: sync_pages(services(), holder),
        on_beat=lambda: _owed_pages(services()),
    )

    async def handle(op: str, who: str, body: dict[str, Any]) -> Any:
        requests = services().core_requests
        assert requests is not None
        return await requests.handle(op, who, body)

    holder = LinkHolder(
        settings.database_url,
        node,
        line,
        run_core,
        handle,
        retire=lambda reason: _retire(app, reason),
        silence=link.cut if isinstance(link, FencedLink) else None,
    )
    return line, holder


async def _join_cluster(
    stack: AsyncExitStack, services: Services, line: CoreLine | None, holder: LinkHolder | None
) -> None:
    if line is None or holder is None:
        return
    requests = services.core_requests = CoreRequests(services, line, services.node)
    await stack.enter_async_context(line)
    await stack.enter_async_context(requests)
    # Last in, first out: at shutdown the link goes before the line that serves the others.
    await stack.enter_async_context(holder)


async def _owed_pages(services: Services) -> None:
    """After a page's close failed to reach the link holder, or the holder took this node for
    gone (and dropped its pages), it hears all our pages again."""
    line = services.line
    if line is not None and (services.node_pages.unsynced or line.rejoined):
        line.rejoined = False
        await sync_pages(services, line.holder)


# The exit status of a node that let go of the PBX link (EX_TEMPFAIL): not 0, so a supervisor
# told to restart on failure does (systemd's Restart=on-failure, Docker's on-failure), and not
# death by SIGTERM, which PID 1 in a container ignores and systemd counts as clean.
RETIRED_EXIT = 75


def _retire(app: FastAPI, reason: str) -> None:
    """A node that held the link and let it go ends: its call state is stale, and its
    supervisor starts it again as a plain node (docs/operations.md)."""
    log.error("this node let go of the PBX link (%s): stopping, to be started again", reason)
    app.state.retired = reason
    server = getattr(app.state, "server", None)
    if server is not None:
        server.should_exit = True  # a graceful stop: pages hear 1012 and reconnect elsewhere
    else:
        os.kill(os.getpid(), signal.SIGTERM)


def exit_status(app: FastAPI) -> int:
    """What the process exits with once the server has stopped."""
    return RETIRED_EXIT if getattr(app.state, "retired", "") else 0


def create_app(settings: Settings, *, self_url: str) -> FastAPI:
    """The proxy as an ASGI app; `self_url` is where it listens (the simulator link dials it)."""
    check_seams(settings)
    simulated = LINKS.scheme(settings.cti_url) == "sim"
    pbx = SimulatedPbx(
        hold_timeout=settings.sim_hold_timeout_seconds,
        transfer_recall=settings.sim_transfer_recall_seconds,
        work_seconds=settings.sim_work_seconds,
    )
    org = demo_org() if settings.salesforce_url.startswith("standin:") else None

    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            await stack.enter_async_context(metrics.loop_watch)
            store = await stack.enter_async_context(open_store(settings.database_url))
            if settings.demo:
                await seed_demo_agents(store)
            api = await stack.enter_async_context(open_salesforce(settings, org))
            bus = await stack.enter_async_context(open_bus(settings.bus_url))
            feed = AgentFeed(bus)
            desk = AgentDesk(
                store,
                feed,
                settings.agent_defaults(),
                quick_notes=tuple(settings.quick_notes),
                log_missed=settings.log_missed,
                log_redirected=settings.log_redirected,
                region=settings.phone_region,
            )
            writer = None
            if api is not None:
                writer = await stack.enter_async_context(
                    TaskWriter(
                        store,
                        api,
                        external_id_field=settings.task_external_id_field,
                        max_attempts=settings.task_max_attempts,
                        base_delay=settings.task_retry_seconds,
                        # An org gets six times the client's patience to finish a create.
                        settle_seconds=6 * settings.salesforce_timeout_seconds,
                        # SQLite is one node's; PostgreSQL may be shared by a cluster's.
                        shared_store=not settings.database_url.startswith("sqlite"),
                    )
                )
            else:
                log.warning("no Salesforce integration user: call logs are kept, not written")
            # Salesforce Voice: agents with the Voice connector open, and their VoiceCalls.
            voice_seats = VoiceSeats()
            voice_writer, voice = None, None
            telephony = telephony_api(settings, org)
            if telephony is not None:
                voice_writer = await stack.enter_async_context(
                    VoiceCallWriter(
                        store,
                        telephony,
                        max_attempts=settings.voice_max_attempts,
                        base_delay=settings.task_retry_seconds,
                        settle_seconds=6 * settings.salesforce_timeout_seconds,
                    )
                )
                # Started with the core (it resumes the VoiceCalls left open).
                voice = VoiceJournal(
                    store,
                    voice_seats,
                    call_center=telephony.credentials.call_center,
                    queued=voice_writer.wake,
                )
            retention = await stack.enter_async_context(Retention(store, settings.retention_days))
            node = _node_name(settings)
            holders: list[LinkHolder] = []
            link = _link(settings, self_url, holders)
            matcher = RecordMatcher(
                api,
                cache_seconds=settings.lookup_cache_seconds,
                budget_floor=settings.api_budget_floor,
                answers=await stack.enter_async_context(open_answers(settings.bus_url)),
                usage=await _api_usage(stack, settings, api),
            )
            # The switchboard's parts, each built once from the ones it needs.
            identities = Identities()
            states = AgentStates()
            pages = Pages()
            journal = CallJournal(
                store,
                feed,
                desk,
                rules=settings.wrap_up_rules(),
                wrap_up_seconds=settings.wrap_up_seconds,
                region=settings.phone_region,
                in_work=states.in_work,
                queued=writer.wake if writer is not None else lambda: None,
                voice_call=voice.is_voice_call if voice is not None else None,
            )
            views = AgentViews(
                states,
                pages,
                feed,
                journal,
                link,
                region=settings.phone_region,
                reason_codes=tuple(settings.reason_codes),
                acd_groups=tuple(settings.acd_groups),
                voice=voice,
                memory=await stack.enter_async_context(open_call_memory(settings.bus_url)),
            )
            lookups = Lookups(
                matcher,
                settings.match_settings(),
                states,
                views,
                desk,
                pop_decided=metrics.pop_seconds.observe,
            )
            commands = Commands(
                link,
                identities,
                states,
                views,
                journal,
                dialing=settings.dialing_options(),
                reason_codes=tuple(settings.reason_codes),
            )
            seating = Seating(identities, link, store, states, views, lookups, journal)
            board = Switchboard(link, identities, states, views, lookups, journal, seating)

            async def roster_changed(agents: Sequence[AgentRecord]) -> None:
                # Agents added while the proxy runs join the simulator too (it keeps the rest).
                for agent in agents if simulated else ():
                    # ACD agents start in the first group, so queued calls find them.
                    groups = tuple(settings.acd_groups[:1]) if agent.kind == "acd" else ()
                    pbx.add_agent(agent.extension, groups)
                # Devices change hands, and the link is told what to monitor.
                await seating.roster_changed(agents)

            async def run_core(core: AsyncExitStack) -> None:
                """The link and what follows its events: on a single node at start, in a
                cluster on the node that takes the link's lease, when it does."""
                # Entered before the link starts, so its first connect monitors the roster.
                await core.enter_async_context(RosterWatcher(store, roster_changed))
                await core.enter_async_context(link)
                await _soon(matcher.warm_up(), WARM_UP_SECONDS)
                await _enter(core, journal, voice, lookups, board)
                # A new link holder serves pages once the calls are rebuilt from the PBX's
                # snapshot (or the PBX is slow to give one: then as they come).
                await board.settled(FIRST_SNAPSHOT_SECONDS if holders else 0)

            node_pages = NodePages()
            line, holder = await _core_or_contention(
                stack, app, settings, node, node_pages, run_core, link
            )
            holders.extend(filter(None, [holder]))
            if settings.gc_freeze:
                await stack.enter_async_context(Collector(quiet=lambda: not states.busy()))
            auth = Authenticator(
                store,
                settings.session_hours,
                max_agents=settings.max_agents,
                lockout_attempts=settings.lockout_attempts,
                lockout_minutes=settings.lockout_minutes,
                hash_workers=settings.hash_workers,
                sign_ins_waiting=settings.sign_ins_waiting,
            )
            stack.callback(auth.close)
            app.state.services = Services(
                settings=settings,
                store=store,
                bus=bus,
                link=link,
                salesforce=api,
                auth=auth,
                signins=SignIns(auth, CoreSeats(seating, holder, line), store),
                identities=identities,
                states=states,
                pages=pages,
                views=views,
                lookups=lookups,
                commands=commands,
                seating=seating,
                desk=desk,
                journal=journal,
                writer=writer,
                retention=retention,
                pbx=pbx if simulated else None,
                org=org,
                metrics=metrics,
                sso=await _single_sign_on(stack, settings, org),
                openings=Admission(settings.openings_at_once, settings.openings_waiting),
                voice_seats=voice_seats,
                voice=voice,
                voice_writer=voice_writer,
                node=node,
                line=line,
                holder=holder,
                node_pages=node_pages,
            )
            await _join_cluster(stack, app.state.services, line, holder)
            yield

    app = FastAPI(title="softphone-proxy", version="0.1.0", lifespan=lifespan)
    app.include_router(api_router())
    app.include_router(admin_router())
    app.include_router(sso_router())
    app.include_router(voice_router())
    mount_static(app, settings.static_dir)
    library = settings.voice_connector_library or settings.static_dir.parent / SCV_PACKAGE
    mount_voice(app, settings.static_dir, Path(library), wanted=bool(settings.voice_scrt_url))
    if simulated:
        app.mount("/sim", create_simulator_app(pbx))
    if settings.demo:
        mount_demo(app, settings.static_dir, org, public_url=settings.public_url)
    # The last added runs first: the security headers also go on a refused cross-site request.
    # (The forwarded headers are read, and the agents' sockets served, in front of the app:
    # proxy/server.py.)
    app.add_middleware(CrossSiteGuard, origins=origin_check(settings))
    app.add_middleware(
        SecurityHeaders,
        sources=allowed_sources(settings.salesforce_my_domains, demo=settings.demo),
        console=settings.demo,
    )
    return app
