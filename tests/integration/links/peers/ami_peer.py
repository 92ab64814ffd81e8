"""The PBX side of the Asterisk Manager Interface, for the link contract and the AMI tests.

An asyncio TCP server speaking AMI as Asterisk does: the banner, `Login`, `Ping`,
`CoreShowChannels` as an event list, and a `Response` for every action. It reads messages with its
own strict CRLF framing (not the link's parser, so a parser bug cannot hide on both sides). The
actions it receives are translated back into the contract's command dicts (`op`, `agent`,
`call_id`, `number`, `digits`, `state`, `reason`, `group`); events it is told to emit become the
channel events Asterisk would send. Scripted call flows live in `fixtures/ami/*.txt`.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from string import Template
from typing import Any

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ami"
BANNER = b"Asterisk Call Manager/9.0.0\r\n"
# The texts Asterisk answers with, for the codes the contract tests refuse with.
MESSAGES = {"no_such_call": "No such channel", "not_permitted": "Permission denied"}
_STATES = {"originated": ("4", "Ring"), "delivered": ("5", "Ringing")}


def encode(*fields: tuple[str, str]) -> bytes:
    return ("".join(f"{k}: {v}\r\n" for k, v in fields) + "\r\n").encode()


def fixture(name: str, **values: str) -> bytes:
    """A scripted flow: `#` lines are notes, `$names` are filled in, LF becomes CRLF."""
    text = Template((FIXTURES / name).read_text()).substitute(values)
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    return ("\r\n".join(lines).strip("\r\n") + "\r\n\r\n").encode()


class AmiPeer:
    """An Asterisk manager on a loopback port, driven by the link contract and the AMI tests."""

    def __init__(self, username: str = "proxy", secret: str = "s3cret") -> None:
        self.username, self.secret = username, secret
        self.url = ""
        self.port = 0
        self.commands: list[dict[str, Any]] = []
        self.actions: list[dict[str, str]] = []  # every action, as received
        self.connections = 0
        self.refused_logins = 0
        self._snapshot: list[dict[str, Any]] = []
        self._refusals: dict[str, str] = {}
        self._writer: asyncio.StreamWriter | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[None]] = set()
        self._silent = False
        self._ready = asyncio.Event()
        self._channels: dict[str, str] = {}  # call id -> the agent's channel
        self._calls: dict[str, str] = {}  # any channel of a call -> call id
        self._held: set[str] = set()
        self._consulting: set[str] = set()
        self._numbers = itertools.count(0x2A)

    @asynccontextmanager
    async def running(self, port: int = 0) -> AsyncIterator[AmiPeer]:
        server = await asyncio.start_server(self._handler, "127.0.0.1", port)
        self.port = server.sockets[0].getsockname()[1]
        self.url = f"ami://{self.username}:{self.secret}@127.0.0.1:{self.port}"
        try:
            yield self
        finally:
            server.close()
            for writer in list(self._writers):
                writer.transport.abort()
            # Python 3.11's wait_closed does not wait for the connections' handlers: end them
            # here, or the loop's shutdown cancels them and logs it as an error.
            await asyncio.gather(*self._handlers, return_exceptions=True)
            await server.wait_closed()

    # --- the wire --------------------------------------------------------------------------
    async def _handler(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        task.add_done_callback(self._handlers.discard)
        self._silent = False
        self._writers.add(writer)
        writer.write(BANNER)
        try:
            while True:
                block = await reader.readuntil(b"\r\n\r\n")
                lines = block.decode().split("\r\n")
                action = dict(line.split(": ", 1) for line in lines if line)
                self.actions.append(action)
                if not await self._answer(action, writer):
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self._writers.discard(writer)
            if self._writer is writer:
                self._writer = None
                self._ready.clear()
            writer.close()

    def _send(self, writer: asyncio.StreamWriter, data: bytes) -> None:
        if not self._silent and not writer.is_closing():
            writer.write(data)

    async def _answer(self, action: dict[str, str], writer: asyncio.StreamWriter) -> bool:
        name, action_id = action.get("Action", ""), ("ActionID", action.get("ActionID", ""))
        if name == "Login":
            if (action.get("Username"), action.get("Secret")) != (self.username, self.secret):
                self.refused_logins += 1
                self._send(
                    writer,
                    encode(("Response", "Error"), action_id, ("Message", "Authentication failed")),
                )
                await writer.drain()
                return False  # Asterisk hangs up on a failed login
            self._send(
                writer,
                encode(("Response", "Success"), action_id, ("Message", "Authentication accepted")),
            )
            self._send(
                writer,
                encode(
                    ("Event", "FullyBooted"),
                    ("Privilege", "system,all"),
                    ("Status", "Fully Booted"),
                ),
            )
        elif name == "Ping":
            self._send(
                writer,
                encode(
                    ("Response", "Success"),
                    action_id,
                    ("Ping", "Pong"),
                    ("Timestamp", "1700000000.000000"),
                ),
            )
        elif name == "CoreShowChannels":
            self._send(
                writer,
                encode(
                    ("Response", "Success"),
                    action_id,
                    ("EventList", "start"),
                    ("Message", "Channels will follow"),
                ),
            )
            for call in self._snapshot:
                self._send(writer, self._show_channel(call, action_id[1]))
            self._send(
                writer,
                encode(
                    ("Event", "CoreShowChannelsComplete"),
                    action_id,
                    ("EventList", "Complete"),
                    ("ListItems", str(len(self._snapshot))),
                ),
            )
            self._writer = writer
            self._ready.set()
        else:
            command = self._command(action)
            code = self._refusals.get(command["call_id"]) if command else "unknown_action"
            if code:
                message = MESSAGES.get(code, code)
                self._send(writer, encode(("Response", "Error"), action_id, ("Message", message)))
            else:
                self._send(
                    writer, encode(("Response", "Success"), action_id, ("Message", f"{name} done"))
                )
        await writer.drain()
        return True

    def _command(self, action: dict[str, str]) -> dict[str, Any] | None:
        """The contract's command for an action (None: not one a link should send)."""
        name, channel = action.get("Action", ""), action.get("Channel", "")
        call_id = self._calls.get(channel, channel)
        command = dict.fromkeys(("number", "digits", "state", "reason", "group"), "")
        command |= {"call_id": call_id, "agent": _agent(self._channels.get(call_id, channel))}
        if name == "PJSIPNotify":
            event = action.get("Variable", "").removeprefix("Event=")
            op = {"hold": "hold"}.get(event, "retrieve" if call_id in self._held else "answer")
        elif name == "Hangup":
            op = "complete_transfer" if call_id in self._consulting else "hangup"
        elif name in ("Redirect", "BlindTransfer", "Atxfer"):
            op = {"Redirect": "redirect", "BlindTransfer": "transfer", "Atxfer": "consult"}[name]
            command["number"] = action.get("Exten", "")
            if op == "consult":
                self._consulting.add(call_id)
        elif name == "Originate":
            op, command["number"] = "dial", action.get("Exten", "")
            command["call_id"] = action.get("ChannelId", "")
        elif name == "PlayDTMF":
            last = self.commands[-1] if self.commands else {}
            # Asterisk plays one digit per action: a run of them on one call is one command.
            if last.get("op") == "dtmf" and last.get("call_id") == call_id:
                last["digits"] += action.get("Digit", "")
                return last
            op, command["digits"] = "dtmf", action.get("Digit", "")
        elif name == "QueuePause":
            busy = action.get("Paused") == "true"
            op, command["state"] = "set_state", "busy" if busy else "ready"
            command["reason"] = action.get("Reason", "")
            command["call_id"], command["agent"] = "", _agent(action.get("Interface", ""))
        elif name in ("QueueAdd", "QueueRemove"):
            op = "acd_login" if name == "QueueAdd" else "acd_logout"
            command["group"], command["call_id"] = action.get("Queue", ""), ""
            command["agent"] = _agent(action.get("Interface", ""))
        else:
            return None
        command["op"] = op
        self.commands.append(command)
        return command

    def _show_channel(self, call: dict[str, Any], action_id: str) -> bytes:
        channel = self._channel(call["call_id"], call.get("agent", "1001"))
        state, desc = _STATES.get(call["kind"], ("6", "Up"))
        return encode(
            ("Event", "CoreShowChannel"),
            ("ActionID", action_id),
            *self._fields(call["call_id"], channel, state, desc),
            ("Application", "Dial"),
            ("ApplicationData", ""),
            ("Duration", "00:00:07"),
            ("BridgeId", ""),
        )

    # --- what the tests drive --------------------------------------------------------------
    async def connected(self) -> asyncio.StreamWriter:
        await asyncio.wait_for(self._ready.wait(), 10)
        assert self._writer is not None
        return self._writer

    async def send_raw(self, data: bytes) -> None:
        writer = await self.connected()
        writer.write(data)
        await writer.drain()

    async def play(self, name: str, **values: str) -> None:
        """Send a scripted flow from fixtures/ami, as Asterisk would."""
        await self.send_raw(fixture(name, **values))

    async def emit(self, kind: str, call_id: str, agent: str = "1001", **fields: Any) -> None:
        channel = self._channel(call_id, agent)
        ani, dnis = str(fields.get("ani", "")), str(fields.get("dnis", ""))
        caller = f"PJSIP/carrier-{next(self._numbers):08x}"
        self._calls[caller] = call_id
        linked = ("Linkedid", f"{call_id}-in")
        blocks: list[bytes] = []
        if kind == "originated":
            blocks.append(self._event("Newchannel", call_id, channel, "4", "Ring", exten=dnis))
        elif kind == "delivered":
            for n, tag in enumerate(fields.get("ivr", ())):
                blocks.append(
                    encode(
                        ("Event", "VarSet"),
                        ("Channel", caller),
                        ("Uniqueid", f"{call_id}-in"),
                        linked,
                        ("Variable", f"SF_IVR_{n}"),
                        ("Value", tag),
                    )
                )
            if fields.get("queue"):
                blocks.append(
                    encode(
                        ("Event", "AgentCalled"),
                        ("Channel", caller),
                        linked,
                        ("DestChannel", channel),
                        ("DestUniqueid", call_id),
                        ("Queue", fields["queue"]),
                        ("Interface", f"PJSIP/{agent}"),
                    )
                )
            blocks.append(self._event("Newchannel", call_id, channel, "0", "Down"))
            blocks.append(
                encode(
                    ("Event", "DialBegin"),
                    ("Channel", caller),
                    ("Uniqueid", f"{call_id}-in"),
                    ("CallerIDNum", ani or "<unknown>"),
                    linked,
                    *self._fields(call_id, channel, "0", "Down", "Dest"),
                    ("DialString", agent),
                )
            )
            blocks.append(self._event("Newstate", call_id, channel, "5", "Ringing", ani=ani))
        elif kind == "established":
            blocks.append(self._event("Newstate", call_id, channel, "6", "Up", ani=ani))
        elif kind in ("held", "retrieved"):
            (self._held.add if kind == "held" else self._held.discard)(call_id)
            blocks.append(
                self._event("Hold" if kind == "held" else "Unhold", call_id, channel, "6", "Up")
            )
        elif kind == "cleared":
            blocks.append(self._event("Hangup", call_id, channel, "6", "Up", Cause="16"))
        elif kind == "transferred":
            blocks.append(
                encode(
                    ("Event", "BlindTransfer"),
                    ("Result", "Success"),
                    *self._fields(call_id, channel, "6", "Up", "Transferer"),
                    ("IsExternal", "No"),
                    ("Context", "from-internal"),
                    ("Extension", dnis or "1002"),
                )
            )
        else:
            raise ValueError(f"the AMI peer cannot emit {kind!r}")
        await self.send_raw(b"".join(blocks))

    def set_snapshot(self, calls: list[dict[str, Any]]) -> None:
        self._snapshot = calls

    def refuse(self, call_id: str, code: str) -> None:
        self._refusals[call_id] = code

    async def drop(self) -> None:
        writer = await self.connected()
        self._ready.clear()
        writer.close()

    async def restart(self) -> None:
        """Asterisk restarts: the manager connection drops, every channel is forgotten (the
        link's next CoreShowChannels lists none), and call ids used before may come again."""
        self._snapshot = []
        for calls in (self._channels, self._calls, self._held, self._consulting):
            calls.clear()
        await self.drop()

    def silence(self) -> None:
        self._silent = True

    async def send_garbage(self, call_id: str) -> None:
        await self.send_raw(
            f"Event: Newstate\r\nUniqueid: {call_id}\r\nthis line is no header\r\n\r\n".encode()
        )

    # --- channels ----------------------------------------------------------------------------
    def _channel(self, call_id: str, agent: str) -> str:
        if call_id not in self._channels:
            channel = f"PJSIP/{agent}-{next(self._numbers):08x}"
            self._channels[call_id] = channel
            self._calls[channel] = call_id
        return self._channels[call_id]

    def _fields(
        self, call_id: str, channel: str, state: str, desc: str, prefix: str = "", ani: str = ""
    ) -> tuple[tuple[str, str], ...]:
        return tuple(
            (prefix + key, value)
            for key, value in (
                ("Channel", channel),
                ("ChannelState", state),
                ("ChannelStateDesc", desc),
                ("CallerIDNum", _agent(channel)),
                ("CallerIDName", "<unknown>"),
                ("ConnectedLineNum", ani or "<unknown>"),
                ("ConnectedLineName", "<unknown>"),
                ("Language", "en"),
                ("AccountCode", ""),
                ("Context", "from-internal"),
                ("Exten", ""),
                ("Priority", "1"),
                ("Uniqueid", call_id),
                ("Linkedid", f"{call_id}-in"),
            )
        )

    def _event(
        self,
        name: str,
        call_id: str,
        channel: str,
        state: str,
        desc: str,
        *,
        ani: str = "",
        exten: str = "",
        **extra: str,
    ) -> bytes:
        fields = dict(self._fields(call_id, channel, state, desc, ani=ani))
        if exten:
            fields["Exten"] = exten
        fields |= extra
        return encode(("Event", name), ("Privilege", "call,all"), *fields.items())


def _agent(channel: str) -> str:
    """`PJSIP/1001-0000002a` or `PJSIP/1001` -> `1001`."""
    resource = channel.partition("/")[2]
    return resource.rsplit("-", 1)[0] if "-" in resource else resource


NAME = "ami"
PEER = AmiPeer
