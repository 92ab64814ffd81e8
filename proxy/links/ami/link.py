"""The Asterisk link: the proxy as a client of the Asterisk Manager Interface (AMI, TCP 5038).

Each connection: read the banner, `Login` (with `Events: on`), then `CoreShowChannels` to
rebuild the agents' calls, reported as a `Snapshot` before any live event (events that arrive
during the resync wait for it). A `Ping` goes out every `heartbeat` seconds (1 s by default); a
manager that sends nothing for 2.5 heartbeats is dropped on the spot, so a standby
(`ami://...,ami://...`) takes over within 3 s. Actions are matched to their responses by
ActionID and given 5 s. Malformed or unknown input is logged at ERROR with its call id and
skipped. The password never reaches a log: the link knows its addresses only masked.

Asterisk sends every channel's events on one manager session, so monitoring is a filter here:
`monitor()` sets which devices count (the roster's extensions as `tech/extension`, and the
`devices` extras), then a fresh `CoreShowChannels` brings in calls already at a new device.

See `ami.legs` for the channel -> agent rule and the call ids, `ami.commands` for what each
command becomes, docs/links.md for the Asterisk side.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import logging
from typing import Any

from proxy.errors import LinkCommandFailed, LinkUnavailable
from proxy.links.ami.calls import AmiCalls, AmiUnknownEvent
from proxy.links.ami.commands import capabilities, plan
from proxy.links.ami.protocol import (
    AmiOptions,
    AmiParser,
    AmiProtocolError,
    AmiTarget,
    encode,
    error_code,
    parse_ami_urls,
    parse_banner,
)
from proxy.links.base import LinkCommand
from proxy.links.session import ReconnectingLink
from softphone.capabilities import LinkCapabilities

log = logging.getLogger(__name__)

COMMAND_TIMEOUT_SECONDS = 5.0
CONNECT_TIMEOUT_SECONDS = 2.0
Message = dict[str, str]


class AmiLoginRefused(LinkUnavailable):
    """Asterisk refused the manager user or its secret (manager.conf)."""


class AmiLink(ReconnectingLink):
    """A `CtiLink` to one Asterisk, or a primary and standby pair, over the manager interface."""

    kind = "ami link"

    def __init__(self, targets: list[AmiTarget], options: AmiOptions | None = None) -> None:
        super().__init__([t.masked for t in targets])
        self.targets = targets
        self.options = options or AmiOptions()
        self.stale_seconds = 2.5 * self.options.heartbeat
        self.stable_seconds = self.stale_seconds
        self.calls = AmiCalls(self.options)
        self.extras = frozenset(self.options.devices)
        self.messages = 0  # messages read, all connections: for the bench
        self._writer: asyncio.StreamWriter | None = None
        self._ids = itertools.count(1)
        self._lists: dict[str, list[Message]] = {}
        self._held_back: list[Message] | None = None  # live events waiting for the snapshot
        self._reported: set[str] = set()  # unknown event names already logged once

    @property
    def capabilities(self) -> LinkCapabilities:
        return capabilities(self.options)

    # --- commands ------------------------------------------------------------------------
    async def send(self, command: LinkCommand) -> str:
        writer = self._writer
        if writer is None:
            raise LinkUnavailable("The phone system is not connected; try again in a moment")
        steps = plan(command, self.calls)
        placing = steps.actions[0].get("ChannelId", "") if command.op == "dial" else ""
        for action in steps.actions:
            action_id = self._next_id()
            if placing:  # its events may come before its response: the call must be known
                self.calls.expect_placed(placing, command.number, action_id)
            try:
                reply = await self._action(writer, action, action_id)
            except BaseException:
                self.calls.forget_placed(placing)
                raise
            if reply.get("Response") != "Success":
                self.calls.forget_placed(placing)
                message = reply.get("Message", "") or "refused by Asterisk"
                log.warning(
                    "AMI %s refused [call_id=%s]: %s",
                    action["Action"],
                    command.call_id or placing or "-",
                    message,
                )
                raise LinkCommandFailed(error_code(message), message)
        if steps.consult_of:
            for event in self.calls.start_consult(steps.consult_of, steps.call_id, command.number):
                self.emit(event)
        for event in self.calls.end_consult(steps.ends_consult) if steps.ends_consult else ():
            self.emit(event)
        return steps.call_id

    async def _monitor_live(self) -> None:
        writer = self._writer
        if writer is None:
            return
        # Live events wait while the resync runs, so none is overtaken by an older snapshot.
        self._held_back = self._held_back if self._held_back is not None else []
        try:
            entries = await self._list(writer, {"Action": "CoreShowChannels"})
            self.emit(self.calls.resync(entries))
        finally:
            held_back, self._held_back = self._held_back or [], None
            for message in held_back:
                self._apply(message)

    async def monitor(self, devices: frozenset[str]) -> None:
        """Count exactly these devices' channels (and the extras) from now on."""
        tech = self.options.tech
        listed = {d if "/" in d else f"{tech}/{d}" for d in devices if d} | set(self.extras)
        self.calls.options = dataclasses.replace(
            self.options, devices=tuple(sorted(listed)), listed_only=True
        )
        await super().monitor(devices)

    def _next_id(self) -> str:
        return f"sp-{next(self._ids)}"

    async def _action(
        self, writer: asyncio.StreamWriter, fields: Message, action_id: str = ""
    ) -> Message:
        action_id = action_id or self._next_id()
        try:
            data = encode({**fields, "ActionID": action_id})
        except ValueError as exc:
            raise LinkCommandFailed("invalid_request", str(exc)) from None
        future: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._pending[action_id] = future
        try:
            writer.write(data)
            await writer.drain()
            return await asyncio.wait_for(future, COMMAND_TIMEOUT_SECONDS)
        except (TimeoutError, ConnectionError):
            raise LinkUnavailable("The phone system did not answer; try again") from None
        finally:
            self._pending.pop(action_id, None)

    async def _list(self, writer: asyncio.StreamWriter, fields: Message) -> list[Message]:
        """The events of a list action (e.g. CoreShowChannels), up to its `...Complete`."""
        action_id = self._next_id()
        done: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._lists[action_id] = []
        self._pending[(action_id, "complete")] = done
        try:
            reply = await self._action(writer, fields, action_id)
            if reply.get("Response") != "Success":
                # Not a command's failure: without the list the connection cannot be resynced.
                message = f"{fields['Action']} refused: {reply.get('Message', '')}"
                raise LinkUnavailable(message)
            await asyncio.wait_for(done, COMMAND_TIMEOUT_SECONDS)
            return self._lists[action_id]
        finally:
            self._lists.pop(action_id, None)
            self._pending.pop((action_id, "complete"), None)

    # --- connection ----------------------------------------------------------------------
    async def _serve(self, url: str) -> None:
        target = self.targets[self.urls.index(url)]
        # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation that
        # lands as its awaitable completes, and aclose() would then wait forever.
        async with asyncio.timeout(CONNECT_TIMEOUT_SECONDS):
            reader, writer = await asyncio.open_connection(target.host, target.port)
        try:
            async with asyncio.timeout(self.stale_seconds):
                banner = parse_banner(await reader.readline())
            parser = AmiParser()
            await self._login(reader, writer, parser, target, url)
            self._reported.clear()
            self._held_back = []  # before the reader starts: nothing may overtake the snapshot
            self._writer = writer
            self._connected(url, banner)
            await self._until_switch(
                asyncio.create_task(self._read(reader, writer, parser)),
                asyncio.create_task(self._session(writer)),
            )
        finally:
            self._writer = None
            self._held_back = None
            writer.transport.abort()  # a dead or silent peer would not answer a polite close

    async def _login(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        parser: AmiParser,
        target: AmiTarget,
        url: str,
    ) -> None:
        # Read inline, not by the reader task: Asterisk hangs up right after refusing a login,
        # and the refusal must be read (and logged) before that hang-up ends the connection.
        action_id = self._next_id()
        login = {"Action": "Login", "Username": target.username, "Secret": target.secret}
        writer.write(encode({**login, "Events": "on", "ActionID": action_id}))
        await writer.drain()
        async with asyncio.timeout(COMMAND_TIMEOUT_SECONDS):
            while True:
                message = await self._next(reader, parser)
                if message.get("ActionID") == action_id:
                    break
        if message.get("Response") != "Success":
            reason = message.get("Message", "") or "no reason given"
            log.error(
                "AMI login refused for user %r at %s: %s (check manager.conf)",
                target.username,
                url,
                reason,
            )
            raise AmiLoginRefused(f"login refused: {reason}")

    async def _next(self, reader: asyncio.StreamReader, parser: AmiParser) -> Message:
        """The next good message during the login (bad ones logged and skipped)."""
        while True:
            try:
                message = parser.next_message()
            except AmiProtocolError as exc:
                log.error("AMI message skipped [call_id=%s]: %s", exc.call_id, exc)
                continue
            if message is not None:
                return message
            data = await reader.read(65536)
            if not data:
                raise LinkUnavailable("Asterisk closed the connection during login")
            parser.feed(data)

    async def _session(self, writer: asyncio.StreamWriter) -> None:
        heartbeat = asyncio.create_task(self._heartbeat(writer))
        try:
            async with self.monitoring:  # a roster change waits for this resync
                entries = await self._list(writer, {"Action": "CoreShowChannels"})
                self.emit(self.calls.resync(entries))
                held_back, self._held_back = self._held_back or [], None
                for message in held_back:
                    self._apply(message)
            await heartbeat
        finally:
            heartbeat.cancel()

    async def _heartbeat(self, writer: asyncio.StreamWriter) -> None:
        # The answer is not awaited: any message read keeps the connection alive (see _read).
        while True:
            writer.write(encode({"Action": "Ping", "ActionID": self._next_id()}))
            await writer.drain()
            await asyncio.sleep(self.options.heartbeat)

    async def _read(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, parser: AmiParser
    ) -> None:
        while True:
            try:
                async with asyncio.timeout(self.stale_seconds):
                    data = await reader.read(65536)
            except TimeoutError:
                writer.transport.abort()
                raise LinkUnavailable(f"silent for {self.stale_seconds:g} s") from None
            if not data:
                try:
                    parser.close()
                except AmiProtocolError as exc:
                    log.error("AMI message skipped [call_id=%s]: %s", exc.call_id, exc)
                raise LinkUnavailable("Asterisk closed the connection")
            parser.feed(data)
            while True:
                try:
                    message = parser.next_message()
                except AmiProtocolError as exc:
                    log.error("AMI message skipped [call_id=%s]: %s", exc.call_id, exc)
                    continue
                if message is None:
                    break
                self.messages += 1
                self._dispatch(message)

    def _dispatch(self, message: Message) -> None:
        action_id = message.get("ActionID", "")
        if "Event" in message:
            collected = self._lists.get(action_id)
            if collected is None:
                if self._held_back is not None:
                    self._held_back.append(message)
                else:
                    self._apply(message)
            elif message.get("EventList", "").lower() == "complete" or message["Event"].endswith(
                "Complete"
            ):
                self._resolve((action_id, "complete"), message)
            else:
                collected.append(message)
        elif "Response" in message:
            self._resolve(action_id, message)  # unmatched: a Ping's answer, or a late one
        else:
            log.error("AMI message with neither Event nor Response skipped: %s", list(message))

    def _resolve(self, key: Any, message: Message) -> None:
        future = self._pending.get(key)
        if future is not None and not future.done():
            future.set_result(message)

    def _apply(self, message: Message) -> None:
        try:
            events = self.calls.apply(message)
        except AmiProtocolError as exc:
            name = message.get("Event", "")
            if isinstance(exc, AmiUnknownEvent):
                # Once per name and connection: a newer Asterisk must not flood the log.
                if name in self._reported:
                    return
                self._reported.add(name)
            log.error("AMI event skipped [call_id=%s]: %s", exc.call_id, exc)
            return
        for event in events:
            self.emit(event)


def open_ami_link(url: str, *, self_url: str) -> AmiLink:
    """`ami://user:password@host:5038?options`, or `primary,standby` (see docs/links.md)."""
    targets, options = parse_ami_urls(url)
    return AmiLink(targets, options)
