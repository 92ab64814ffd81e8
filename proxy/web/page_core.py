"""What a page's socket asks of the core, carried out here or by the cluster's link holder.

The core (calls, agent state, call logs, the numbering of each agent's updates) runs on one
node: the only one, or in a cluster the link holder. A socket on any node asks it through a
`PageCore`:

- `LocalCore` carries the request out in this process (this node runs the core);
- `RemoteCore` sends it over the cluster line (proxy/cluster/line.py) to the holder, whose
  `CoreRequests` carries it out with a `LocalCore` of its own and answers.

`core_for(services)` picks one per request, so a node that takes the link over serves its own
pages locally from that moment. What any node can do by itself (answer a ping, search
Salesforce) never crosses the line; what changes an agent's numbered updates always does.

The holder keeps every page of the cluster in its `Pages` (which page pops) and `VoiceSeats`
(who is a Voice agent): each node tells it which pages opened and closed, tells a new holder all
of its pages at once (`present`), and a node that stops reporting in has its pages dropped.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Protocol

from pydantic import BaseModel

from proxy.agents.commands import AgentCommand
from proxy.agents.seating import Seating
from proxy.agents.states import AgentProfile
from proxy.cluster.holder import LinkHolder
from proxy.cluster.line import NODE_GONE_SECONDS, CoreLine, Holder, NoHolder, Refused
from proxy.errors import LinkCommandFailed, LinkError, LinkUnavailable
from proxy.seams import BackgroundLoop, Resource
from proxy.store import AgentRecord
from softphone.errors import CommandRefused, ProtocolError
from softphone.messages.from_page import (
    Active,
    FavoriteAdd,
    FavoriteRemove,
    PickRecord,
    Popped,
    QuickNoteEdit,
    SaveNotes,
    SaveSettings,
    SetCodes,
    WrapUp,
    parse_client_message,
)
from softphone.messages.to_page import AgentView, ErrorMessage, Welcome, WrapUpView

if TYPE_CHECKING:
    from proxy.services import Services

log = logging.getLogger(__name__)

Reply = BaseModel | str
# How long a page's request waits for the link holder: longer than a PBX command may take
# (5 s, the links' own limit) plus the lease's check (1 s), so the PBX's own refusal reaches the
# page; and longer than a takeover (about 1 s after the lease is free), so a request made
# meanwhile is carried out by the new holder.
ASK_SECONDS = 8.0
# A node silent this long is taken off the cluster's list (/admin), pages or not.
FORGET_AFTER_SECONDS = 5 * NODE_GONE_SECONDS
NO_HOLDER = ErrorMessage(
    code="no_link_holder",
    message="The phone system is not reachable right now; try again in a moment",
)


class PageCore(Protocol):
    async def open(self, agent: AgentRecord, page: str, voice: bool) -> tuple[int, Reply]:
        """The page joins its agent's pages (the one in use); its welcome and the number of
        the last update the welcome reflects."""
        ...

    async def welcome(self, agent: AgentRecord, page: str) -> tuple[int, Reply]: ...

    async def act(self, agent: AgentRecord, page: str, message: BaseModel) -> list[Reply]:
        """Carry out the page's message for its own agent; what to tell the page (a refusal)."""
        ...

    async def close(self, agent: AgentRecord, page: str, voice: bool) -> None: ...


def wrap_up_view(services: Services) -> WrapUpView:
    rules = services.settings.wrap_up_rules()
    return WrapUpView(
        actions=rules.actions,
        classification_codes=rules.classification_codes,
        account_codes=rules.account_codes,
        classification_required=rules.classification_required,
    )


class LocalCore:
    """A page's requests carried out in this process, which runs the core."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.wrap_up = wrap_up_view(services)

    async def open(self, agent: AgentRecord, page: str, voice: bool) -> tuple[int, Reply]:
        self.join(agent, page, voice, active=True)
        return await self.welcome(agent, page)

    def join(self, agent: AgentRecord, page: str, voice: bool, *, active: bool) -> None:
        s = self.services
        s.states.register(agent.address, AgentProfile(agent.kind, agent.salesforce_user_id))
        if active:
            s.pages.active(agent.address, page)  # a page just opened is the one in use
        else:
            s.pages.present(agent.address, page)
        if voice and s.voice_seats is not None:
            s.voice_seats.opened(agent.address)

    async def welcome(self, agent: AgentRecord, page: str) -> tuple[int, Reply]:
        s, address = self.services, agent.address
        await s.views.feed.ready(address)
        # Calls, logs and status are read in one step with the sequence number they reflect;
        # the agent data is read after it, so a change racing the read arrives as an update
        # (the socket holds updates back until the welcome is out).
        seq, calls = s.views.snapshot(address)
        logs = s.journal.views(address)
        status = s.views.status_view(address)
        data = await s.desk.data(address)
        # A hot-desk agent's extension is the one they signed in at today.
        extension = s.seating.device_of(address) or agent.extension
        view = AgentView(address=address, name=agent.name, extension=extension)
        welcome = Welcome(
            agent=view,
            seq=seq,
            calls=calls,
            status=status,
            logs=logs,
            data=data,
            wrap_up=self.wrap_up,
            now=time.time(),
            page=page,
        )
        return seq, welcome

    async def act(self, agent: AgentRecord, page: str, message: BaseModel) -> list[Reply]:
        call_id = getattr(message, "call_id", None)
        try:
            await self.carry_out(agent.address, page, message)
        except CommandRefused as exc:
            return [ErrorMessage(code=exc.code, message=exc.message, call_id=call_id)]
        except LinkError as exc:
            return [ErrorMessage(code=exc.code, message=str(exc), call_id=call_id)]
        return []

    async def carry_out(self, me: str, page: str, message: BaseModel) -> None:
        """One command for the page's own agent (never another's)."""
        s = self.services
        if isinstance(message, Popped):
            await s.commands.popped(me, message.call_id)
        elif isinstance(message, Active):
            s.pages.active(me, page)
        elif isinstance(message, AgentCommand):
            await s.commands.command(me, message)
        elif isinstance(message, SaveNotes | PickRecord | WrapUp | SetCodes):
            await self._log(me, message)
        else:
            await self._desk(me, message)

    async def _log(self, me: str, message: SaveNotes | PickRecord | WrapUp | SetCodes) -> None:
        """The agent's call log: notes, the record it is about, codes, the wrap-up."""
        journal = self.services.journal
        if isinstance(message, SaveNotes):
            await journal.save_notes(me, message.call_id, message.notes, message.quick_notes)
        elif isinstance(message, PickRecord):
            await journal.pick(me, message.call_id, message.record)
        elif isinstance(message, WrapUp):
            await journal.wrap_up(
                me, message.call_id, message.action, message.classification, message.account_code
            )
        else:
            await journal.set_codes(
                me, message.call_id, message.classification, message.account_code
            )

    async def _desk(self, me: str, message: BaseModel) -> None:
        """The agent's own lists and settings."""
        desk = self.services.desk
        if isinstance(message, SaveSettings):
            await desk.save_settings(me, message.settings)
        elif isinstance(message, FavoriteAdd):
            await desk.add_favorite(me, message.favorite)
        elif isinstance(message, FavoriteRemove):
            await desk.remove_favorite(me, message.number)
        elif isinstance(message, QuickNoteEdit):
            if message.type == "quick_note_add":
                await desk.add_quick_note(me, message.text)
            else:
                await desk.remove_quick_note(me, message.text)
        else:
            raise CommandRefused("bad_message", f"{type(message).__name__} is not a command")

    async def close(self, agent: AgentRecord, page: str, voice: bool) -> None:
        s = self.services
        if s.core_requests is not None and s.core_requests.owns(page):
            # A page this node told itself of when it took the link: counted once, there.
            s.core_requests.forget(s.node, page)
            return
        s.pages.closed(agent.address, page)
        if voice and s.voice_seats is not None:
            s.voice_seats.closed(agent.address)


def _record(agent: AgentRecord) -> dict[str, str]:
    return {
        "address": agent.address,
        "name": agent.name,
        "extension": agent.extension,
        "kind": agent.kind,
        "salesforce_user_id": agent.salesforce_user_id,
    }


def _agent(body: dict[str, str]) -> AgentRecord:
    kind = body.get("kind", "acd")
    return AgentRecord(
        str(body["address"]),
        str(body.get("name", "")),
        str(body.get("extension", "")),
        kind if kind in ("acd", "regular", "hot_desk") else "acd",  # type: ignore[arg-type]
        "",
        str(body.get("salesforce_user_id", "")),
    )


class RemoteCore:
    """A page's requests sent to the cluster's link holder and answered from there."""

    def __init__(self, line: CoreLine, node_pages: NodePages) -> None:
        self.line = line
        self.node_pages = node_pages

    async def open(self, agent: AgentRecord, page: str, voice: bool) -> tuple[int, Reply]:
        body = {"agent": _record(agent), "page": page, "voice": voice}
        return _welcome(await self.line.ask("open", body, ASK_SECONDS))

    async def welcome(self, agent: AgentRecord, page: str) -> tuple[int, Reply]:
        body = {"agent": _record(agent), "page": page}
        return _welcome(await self.line.ask("welcome", body, ASK_SECONDS))

    async def act(self, agent: AgentRecord, page: str, message: BaseModel) -> list[Reply]:
        call_id = getattr(message, "call_id", None)
        body = {"agent": _record(agent), "page": page, "message": message.model_dump_json()}
        try:
            await self.line.ask("act", body, ASK_SECONDS)
        except Refused as exc:
            return [ErrorMessage(code=exc.code, message=exc.message, call_id=call_id)]
        except NoHolder:
            return [NO_HOLDER.model_copy(update={"call_id": call_id})]
        return []

    async def close(self, agent: AgentRecord, page: str, voice: bool) -> None:
        body = {"agent": _record(agent), "page": page, "voice": voice}
        try:
            await self.line.ask("close", body, ASK_SECONDS)
        except Exception:  # Redis too: whatever the reason, the holder must hear it later
            # Told again with all this node's pages at its next report (`sync_pages`).
            self.node_pages.unsynced = True


def _welcome(answer: object) -> tuple[int, Reply]:
    if not isinstance(answer, dict):
        raise NoHolder("the link holder's welcome was not understood")
    return int(answer["seq"]), str(answer["text"])


def core_for(services: Services) -> PageCore:
    """Where this socket's request is carried out now: here, or at the link holder."""
    holder, line = services.holder, services.line
    if holder is None or line is None or holder.holding:
        return services.local_core
    return RemoteCore(line, services.node_pages)


class NodePages:
    """The pages whose sockets are open on this node: told to every new link holder."""

    def __init__(self) -> None:
        self.open: dict[str, tuple[AgentRecord, bool]] = {}
        self.unsynced = False  # a page's close did not reach the holder: tell it all again

    def counts(self) -> dict[str, int]:
        agents = {agent.address for agent, _ in self.open.values()}
        return {"sockets": len(self.open), "agents": len(agents)}


class CoreRequests(Resource):
    """The link holder's side of the line: every node's page requests, carried out here.

    Remote pages are kept per node, so a node that stops reporting in (killed, cut off) has its
    pages dropped: they no longer pop, and their agents are not Voice agents through them."""

    def __init__(self, services: Services, line: CoreLine, node: str) -> None:
        self.services = services
        self.line = line
        self.node = node
        self.core = services.local_core
        self.remote: dict[str, dict[str, tuple[str, bool]]] = {}
        # Pages closed lately: a request of theirs still on its way must not open them again.
        self._closed: dict[str, float] = {}
        self._sweep = BackgroundLoop("cluster pages sweep", self._sweep_gone, log=log)

    async def start(self) -> None:
        await self._sweep.start()

    async def aclose(self) -> None:
        await self._sweep.aclose()

    async def handle(self, op: str, node: str, body: dict[str, object]) -> object:
        handler = self._ops.get(op)
        if handler is None:
            raise Refused("refused", "bad_request", f"unknown request {op!r}")
        return await handler(self, node, body)

    async def _open(self, node: str, body: dict[str, object]) -> object:
        agent, page = _agent(body["agent"]), str(body["page"])  # type: ignore[arg-type]
        voice = bool(body.get("voice"))
        if page in self._closed:
            raise Refused("refused", "page_closed", "This page has closed")
        pages = self.remote.setdefault(node, {})
        if page in pages:
            # Already told (a new holder heard of it opening): it only becomes the one in use.
            self.services.pages.active(agent.address, page)
            seq, welcome = await self.core.welcome(agent, page)
        else:
            pages[page] = (agent.address, voice)
            seq, welcome = await self.core.open(agent, page, voice)
        return {"seq": seq, "text": _text(welcome)}

    async def _welcome(self, node: str, body: dict[str, object]) -> object:
        agent, page = _agent(body["agent"]), str(body["page"])  # type: ignore[arg-type]
        seq, welcome = await self.core.welcome(agent, page)
        return {"seq": seq, "text": _text(welcome)}

    async def _act(self, node: str, body: dict[str, object]) -> object:
        agent, page = _agent(body["agent"]), str(body["page"])  # type: ignore[arg-type]
        try:
            message = parse_client_message(str(body["message"]))
        except ProtocolError as exc:
            raise Refused("refused", "bad_message", str(exc)) from None
        if isinstance(message, Active) and page not in self.remote.get(node, {}):
            return None  # a page this holder does not count (closed) never becomes the one in use
        try:
            await self.core.carry_out(agent.address, page, message)
        except CommandRefused as exc:
            raise Refused("refused", exc.code, exc.message) from None
        except LinkError as exc:
            raise Refused("link", exc.code, str(exc)) from None
        return None

    async def _close(self, node: str, body: dict[str, object]) -> object:
        self.forget(node, str(body["page"]))
        return None

    async def _present(self, node: str, body: dict[str, object]) -> object:
        """A node's whole list of pages (to a new holder): joined, and the rest dropped."""
        entries = body.get("pages")
        if not isinstance(entries, list):
            raise Refused("refused", "bad_request", "present: no list of pages")
        told: dict[str, tuple[AgentRecord, bool]] = {}
        for entry in entries:
            try:
                told[str(entry["page"])] = (_agent(entry["agent"]), bool(entry["voice"]))
            except (KeyError, TypeError, ValueError):
                log.warning("node %s told a page this holder cannot read: skipped", node)
        pages = self.remote.setdefault(node, {})
        for page, (address, voice) in list(pages.items()):
            if page not in told:
                self._forget(node, page, address, voice)
        for page, (agent, voice) in told.items():
            if page in pages or page in self._closed:
                continue  # counted already, or closed since the list was made
            pages[page] = (agent.address, voice)
            if page not in self.services.pages.open.get(agent.address, ()):
                self.core.join(agent, page, voice, active=False)
        return None

    async def _seat(self, node: str, body: dict[str, object]) -> object:
        seating = self.services.seating
        address = str(body["address"])
        try:
            if body.get("action") == "sit":
                return await seating.sit(address, str(body.get("extension", "")))
            if body.get("action") == "free":
                await seating.free_seats()
                return ""
        except CommandRefused as exc:
            raise Refused("refused", exc.code, exc.message) from None
        except LinkError as exc:
            raise Refused("link", exc.code, str(exc)) from None
        return seating.device_of(address)

    _ops: dict[str, Callable[[CoreRequests, str, dict[str, object]], Awaitable[object]]] = {
        "open": _open,
        "welcome": _welcome,
        "act": _act,
        "close": _close,
        "present": _present,
        "seat": _seat,
    }

    def owns(self, page: str) -> bool:
        """Whether `page` is one this holder was told of by its own node."""
        return page in self.remote.get(self.node, {})

    def forget(self, node: str, page: str) -> None:
        address, voice = self.remote.get(node, {}).get(page, ("", False))
        if address:
            self._forget(node, page, address, voice)

    def _forget(self, node: str, page: str, address: str, voice: bool) -> None:
        pages = self.remote.get(node, {})
        if pages.pop(page, None) is not None:
            self.services.pages.closed(address, page)
            if voice and self.services.voice_seats is not None:
                self.services.voice_seats.closed(address)
        now = time.monotonic()
        self._closed[page] = now
        if len(self._closed) > 10_000:
            self._closed = {p: t for p, t in self._closed.items() if now - t < 60}

    async def _sweep_gone(self) -> None:
        await asyncio.sleep(NODE_GONE_SECONDS / 2)
        if self.services.holder is not None and not self.services.holder.holding:
            return
        reports = await self.line.nodes()
        for report in reports:
            if report["age"] > FORGET_AFTER_SECONDS:
                await self.line.forget(str(report["node"]))  # a node long gone leaves /admin
        alive = {n["node"] for n in reports if n["age"] < NODE_GONE_SECONDS}
        for node in [n for n in self.remote if n not in alive and n != self.node]:
            log.warning("node %s stopped reporting in: its pages are dropped", node)
            for page, (address, voice) in list(self.remote[node].items()):
                self._forget(node, page, address, voice)
            del self.remote[node]


def _text(reply: Reply) -> str:
    return reply if isinstance(reply, str) else reply.model_dump_json()


async def sync_pages(services: Services, holder: Holder | None) -> None:
    """The link holder hears of every page open on this node: a new holder (the old one's list
    is gone), or the same one after a page's close did not reach it."""
    line = services.line
    if holder is None or line is None:
        return
    services.node_pages.unsynced = False
    pages = [
        {"agent": _record(agent), "page": page, "voice": voice}
        for page, (agent, voice) in services.node_pages.open.items()
    ]
    try:
        requests = services.core_requests
        if services.holder is not None and services.holder.holding and requests is not None:
            await requests.handle("present", line.node, {"pages": pages})
        else:
            await line.ask("present", {"pages": pages}, ASK_SECONDS)
    except (NoHolder, Refused) as exc:
        services.node_pages.unsynced = True
        log.warning("the link holder %s did not take this node's pages: %s", holder.node, exc)


class CoreSeats:
    """Hot-desk seats for sign-in: the seating here, or the link holder's."""

    def __init__(self, seating: Seating, holder: LinkHolder | None, line: CoreLine | None) -> None:
        self.seating = seating
        self.holder = holder
        self.line = line

    def _here(self) -> bool:
        return self.holder is None or self.line is None or self.holder.holding

    async def seated(self, address: str) -> str:
        if self._here():
            return self.seating.device_of(address)
        return str(await self._ask({"action": "seated", "address": address}))

    async def sit(self, address: str, extension: str) -> str:
        if self._here():
            return await self.seating.sit(address, extension)
        body = {"action": "sit", "address": address, "extension": extension}
        return str(await self._ask(body))

    async def free_seats(self) -> None:
        if self._here():
            await self.seating.free_seats()
        else:
            await self._ask({"action": "free", "address": ""})

    async def _ask(self, body: dict[str, str]) -> object:
        assert self.line is not None
        try:
            return await self.line.ask("seat", body, ASK_SECONDS)
        except NoHolder as exc:
            raise LinkUnavailable(str(exc)) from None
        except Refused as exc:
            if exc.kind == "link":
                raise LinkCommandFailed(exc.code, exc.message) from None
            raise CommandRefused(exc.code, exc.message) from None
