"""The Mitel MiVoice Business link: SOAP 1.1 web services of the Open Integration Gateway (OIG).

`oig+https://oig.example.com/axis2/services?user=Company&password=LocalPw&app=App`
(`oig+http://` for a loopback test peer; `primary,standby` as two such addresses, the options
from the first that gives them). A session is `loginEx` (SessionService), `getIcpId`, then per
device (the roster's extensions, from `monitor()`, and the `devices` extras) `getPhoneNumberId`
and `monitorObject` (StandardCCService); a `getCallStatus` per device
becomes the `Snapshot` the proxy rebuilds from. Two tasks then serve the session: a long poll
on `getNumberedEvent` (a jump in event numbers means events were lost: resync) and
`resetSessionTimer` every 3 s, since the gateway drops a session not reset within 10 s. A poll
or keep-alive that gets no answer for 2.5 s ends the session, so the standby takes over within
3 s. The HA partner a gateway announces (oig_ha.py) is added to the addresses and moved to.

URL options (query):
- `user`: the company name of the application registration; `app`: its application name
  (default SoftphoneProxy); `app_password`: its application password; `password`: the local
  password the OIG administrator created for it; `version`: WSDL version (default 4.0).
- `devices`: extra extensions to monitor beyond the roster's (a supervisor's phone), separated
  by `;` or `+` (`,` only outside SOFTPHONE_CTI_URL, whose check reads a comma as "standby"),
  ranges allowed (1001-1010).

A roster change reaches the live session: a new device is monitored (and the calls resynced)
at once. A removed one ends the session and a new one starts without it: the link uses no
stop-monitor operation, and a fresh session is what the gateway is sure to honour.
- `icp`: the MiVoice Business address as the OIG knows it (getIcpId); empty asks for the only one.
- `busy_codes`: make busy reasons to MiVoice reason codes, `Lunch:1;Break:2` (digits pass as is).
- `ca`: a PEM file to trust for the gateway's certificate; `verify=0` trusts any (lab only).
- `keepalive` (s, default 3, below 10), `poll` (s, default 1.5): timing.
- `ha_callback`: `http://<this host>:<port>/<path>` to hear the HA pair switch over.
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from proxy.errors import LinkUnavailable
from proxy.links.base import LinkCommand
from proxy.links.oig.commands import Step, command_steps, state_steps
from proxy.links.oig.events import OigCalls
from proxy.links.oig.ha import HaCallbackListener
from proxy.links.oig.options import POLL_SECONDS, STALE_SECONDS, OigOptions, parse_oig_urls
from proxy.links.oig.soap import (
    COMMAND_TIMEOUT_SECONDS,
    HA_ADDRESS,
    Element,
    OigFault,
    SoapSession,
    call_id_of,
    child,
    descendant_text,
    is_no_event,
    payload,
    refused,
    returned,
)
from proxy.links.session import ReconnectingLink
from softphone.capabilities import EVERYTHING, LinkCapabilities
from softphone.errors import ProtocolError
from softphone.events import CallEvent, Snapshot

log = logging.getLogger(__name__)

LOGOUT_TIMEOUT_SECONDS = 0.5
# A refused poll (not a lost session) is retried after this pause, never in a busy loop.
ERROR_PAUSE_SECONDS = 0.25
_PARTNER = re.compile(r"^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::\d{1,5})?$")


class OigLink(ReconnectingLink):
    """A `CtiLink` to an OIG, or to a primary and standby pair (service root URLs)."""

    kind = "OIG link"
    stable_seconds = STALE_SECONDS

    def __init__(self, endpoints: list[str], options: OigOptions) -> None:
        super().__init__(endpoints)
        self.options = options
        self.calls = OigCalls(options.devices)
        self.extras = frozenset(options.devices)
        self.resyncs = 0
        self._watched: set[str] = set()  # the devices this session monitors
        self._session: SoapSession | None = None
        self._ha = (
            HaCallbackListener(options.ha_callback, self.partner_announced)
            if options.ha_callback
            else None
        )

    async def start(self) -> None:
        if self._ha is not None:
            await self._ha.start()
        await super().start()

    async def aclose(self) -> None:
        await super().aclose()
        if self._ha is not None:
            await self._ha.aclose()

    def partner_announced(self, address: str) -> None:
        """The gateway says `address` now holds our session: add it and move there."""
        address = address.strip()
        if not _PARTNER.match(address):
            log.error("OIG HA partner address %r ignored: not host or host:port", address[:80])
            return
        current = urlsplit(self.active_url)
        # An HA pair serves on one port, so a bare address keeps ours (a test peer adds one).
        netloc = address
        if not re.search(r":\d+$", address) and current.port:
            netloc = f"{address}:{current.port}"
        partner = urlunsplit(current._replace(netloc=netloc))
        if partner not in self.urls:
            self.urls.append(partner)
        log.warning("OIG HA partner %s announced: moving there", partner)
        self.prefer(self.urls.index(partner))

    @property
    def capabilities(self) -> LinkCapabilities:
        # StandardCCService and the ACD "adv" services cover every command, and a held call
        # that rings back is reported as a recall.
        return EVERYTHING

    @property
    def watched(self) -> frozenset[str]:
        return frozenset(self._watched) if self._up else frozenset()

    # --- commands ----------------------------------------------------------------------------
    async def send(self, command: LinkCommand) -> str:
        session = self._session
        if session is None:
            raise LinkUnavailable("The phone system is not connected; try again in a moment")
        lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        key = object()
        self._pending[key] = lost
        work = asyncio.create_task(self._carry_out(session, command))
        try:
            racers: set[asyncio.Future[Any]] = {work, lost}
            done, _ = await asyncio.wait(
                racers, timeout=COMMAND_TIMEOUT_SECONDS, return_when=asyncio.FIRST_COMPLETED
            )
            if work not in done:
                raise LinkUnavailable("The phone system did not answer; try again")
            return work.result()
        except (TimeoutError, ConnectionError, ProtocolError) as exc:
            log.warning("OIG %s for %s failed: %s", command.op, command.agent, exc)
            raise LinkUnavailable("The phone system did not answer; try again") from None
        except OigFault as fault:
            if fault.session_lost:
                raise LinkUnavailable("The phone system session was lost; try again") from None
            raise
        finally:
            self._pending.pop(key, None)
            if lost.done():
                lost.exception()  # consumed: the loss is reported as LinkUnavailable above
            else:
                lost.cancel()
            work.cancel()

    async def _carry_out(self, session: SoapSession, command: LinkCommand) -> str:
        steps = await self._steps(session, command)
        if command.op == "consult":
            self.calls.consult_started(command.agent, command.call_id)
        try:
            for operation, fields in steps:
                await session.call(operation, session.with_id(*fields))
        except BaseException:
            if command.op == "consult":
                self.calls.consult_failed(command.agent)
            raise
        # makeCall and consultationCall answer only "done": the new call's id arrives with
        # its CALL_ORIGINATED event.
        return ""

    async def _steps(self, session: SoapSession, command: LinkCommand) -> list[Step]:
        """The OIG requests (without sessionId) that carry out `command`, in order."""
        device = await self._object(session, command.agent)
        if command.op == "set_state":
            record = self.calls.agent(command.agent)
            return state_steps(command, device, record, self.options.busy_codes)
        phone = ""
        if command.op == "login":
            phone = await self._object(session, command.number or command.agent)
        return command_steps(command, device, phone)

    async def _object(self, session: SoapSession, device: str) -> str:
        """The gateway's objectId for `device`: known from the monitors, else looked up."""
        known = self.calls.object_of(device)
        if known is not None:
            return known
        found = await session.call(
            "getPhoneNumberId",
            [("primeDn", device)],
            {"sessionId": session.id, "icpId": session.icp},
        )
        object_id = found.get("objectId", "").strip()
        if not object_id:
            raise ProtocolError(f"getPhoneNumberId for {device} without an objectId")
        self.calls.bind(object_id, device)
        return object_id

    # --- the session -----------------------------------------------------------------------------
    async def _serve(self, url: str) -> None:
        options = self.options
        limits = httpx.Limits(max_connections=16, max_keepalive_connections=8)
        # Headers and body leave in two writes; with Nagle's algorithm the body waits for the
        # peer's delayed ACK, 40 ms on every request. Small SOAP requests want no delay.
        transport = httpx.AsyncHTTPTransport(
            verify=options.verify,
            limits=limits,
            socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
        )
        async with httpx.AsyncClient(transport=transport) as client:
            session = SoapSession(client, url)
            await self._login(session)
            try:
                async with self.monitoring:  # a roster change waits until these are up
                    self._watched = set()
                    await asyncio.gather(*(self._monitor(session, d) for d in self.devices))
                    self._session = session
                    self._connected(url, f"{options.company or '-'}/{options.app}")
                    await self._resync(session)
                await self._until_switch(
                    asyncio.create_task(self._poll(session)),
                    asyncio.create_task(self._keep_alive(session)),
                )
            finally:
                self._session = None
                await self._logout(session)

    async def _login(self, session: SoapSession) -> None:
        options = self.options
        credentials = [
            ("applicationName", options.app),
            ("companyName", options.company),
            ("applicationPassword", options.app_password),
            ("localPassword", options.password),
            ("version", options.version),
        ]
        answer = await session.call("loginEx", credentials, wait=STALE_SECONDS)
        session.id = answer.get("sessionId", "").strip()
        if not session.id:
            raise ProtocolError("loginEx answered without a sessionId")
        self.calls.forget()
        icp = await session.call(
            "getIcpId", [("icpIpAddress", options.icp)], {"sessionId": session.id}
        )
        session.icp = icp.get("icpId", "").strip()
        if self._ha is not None:
            await session.call(
                "registerHAClientCallback", session.with_id(("callbackUri", self._ha.uri))
            )

    async def _monitor(self, session: SoapSession, device: str) -> None:
        try:
            object_id = await self._object(session, device)
            await session.call("monitorObject", session.with_id(("objectId", object_id)))
        except OigFault as fault:
            if fault.session_lost:
                raise
            # One unknown extension must not cost the other devices their monitors.
            log.error("OIG monitor of %s refused (%s): %s", device, fault.code, fault)
            return
        self._watched.add(device)

    async def _monitor_live(self) -> None:
        session = self._session
        if session is None:
            return  # between sessions: the next login monitors `self.devices`
        wanted = self.devices
        removed = self._watched - wanted
        if removed:
            log.info("OIG devices removed: starting a new session without them")
            for object_id, device in list(self.calls.objects.items()):
                if device in removed:  # events still on their way are skipped
                    del self.calls.objects[object_id]
            self._reconnect()
            return
        added = wanted - self._watched
        if added:
            await asyncio.gather(*(self._monitor(session, d) for d in added))
            # A new device may already be ringing: a full resync brings its calls in.
            await self._resync(session)
            log.info("OIG monitors now %d devices (%d new)", len(self._watched), len(added))

    async def _logout(self, session: SoapSession) -> None:
        if not session.id:
            return
        try:
            await session.call("logout", session.with_id(), wait=LOGOUT_TIMEOUT_SECONDS)
        except (TimeoutError, ConnectionError, ProtocolError, OigFault) as exc:
            log.info("OIG logout: %s", exc)  # the gateway ends the session by itself in 10 s

    async def _resync(self, session: SoapSession) -> None:
        """Every monitored device's calls as the gateway has them now, as one `Snapshot`."""

        async def status(device: str) -> list[CallEvent]:
            object_id = self.calls.object_of(device)
            if object_id is None:
                return []
            answer = await session.call(
                "getCallStatus", session.with_id(("objectId", object_id)), check=False
            )
            return self.calls.status(device, answer)

        found = await asyncio.gather(*(status(d) for d in sorted(self._watched)))
        self.resyncs += 1
        self.emit(Snapshot(calls=tuple(e for calls in found for e in calls)))

    async def _keep_alive(self, session: SoapSession) -> None:
        while True:
            await asyncio.sleep(self.options.keepalive)
            await session.call("resetSessionTimer", session.with_id(), wait=STALE_SECONDS)

    async def _poll(self, session: SoapSession) -> None:
        timeout_ms = str(round(self.options.poll * 1000))
        grace = self.options.poll + STALE_SECONDS - POLL_SECONDS
        last = 0
        while True:
            fields = session.with_id(("timeout", timeout_ms), ("eventNumber", str(last + 1)))
            raw = await session.post("getNumberedEvent", fields, wait=grace)
            try:
                record = returned(payload(raw), check=False)
            except ProtocolError as exc:
                log.error("OIG event skipped [call_id=%s]: %s", call_id_of(raw), exc)
                continue
            except OigFault as fault:
                if fault.session_lost:
                    raise
                log.error("OIG getNumberedEvent refused (%s): %s", fault.code, fault)
                await asyncio.sleep(ERROR_PAUSE_SECONDS)
                continue
            if record.get("result", "true").strip().lower() == "false":
                if is_no_event(record):
                    continue
                refusal = refused(record)
                if refusal.session_lost:
                    raise refusal
                log.error("OIG getNumberedEvent refused (%s): %s", refusal.code, refusal)
                await asyncio.sleep(ERROR_PAUSE_SECONDS)
                continue
            number = _int(record.get("eventNumber"))
            if last and number and number <= last:
                log.warning("OIG event %d repeated (last was %d): skipped", number, last)
                continue
            previous, last = last, number or last
            self._apply(record)
            if previous and number > previous + 1:
                # Events in between were lost (a bad document, a gateway hiccup): what they
                # changed is only known from the gateway's own account, after this event.
                log.warning("OIG event numbers jumped from %d to %d: resyncing", previous, number)
                await self._resync(session)

    def _apply(self, record: Element) -> None:
        partner = descendant_text(record, HA_ADDRESS)
        if partner:
            self.partner_announced(partner)
            return
        try:
            events = self.calls.translate(record)
        except ProtocolError as exc:
            call = child(record, "callEvent")
            call_id = call.get("localCallId", "-") if call is not None else "-"
            log.error("OIG event skipped [call_id=%s]: %s", call_id, exc)
            return
        for event in events:
            self.emit(event)


def _int(value: str | None) -> int:
    try:
        return max(0, int((value or "0").strip()))
    except ValueError:
        return 0


def open_oig_link(url: str, *, self_url: str) -> OigLink:
    """`oig+https://host[:port][/path]?options`, or `primary,standby`: see the module docstring."""
    endpoints, options = parse_oig_urls(url)
    return OigLink(endpoints, options)
