"""The Asterisk Manager Interface wire format, without any I/O.

After a banner line (`Asterisk Call Manager/x.y`) both sides send messages: `Key: value` lines
ending in CRLF, a blank line ending the message. `AmiParser` takes bytes as they arrive and hands
out whole messages as dicts; a message still missing its blank line waits for more bytes. A broken
message (a line that is not `Key: value`, a new message starting before the last one ended, more
than `MAX_BLOCK_BYTES`) raises `AmiProtocolError` naming the call it belongs to when it can, and
the parser carries on with the next message: one bad message never costs the ones after it.

Also here: `ami://` addresses (credentials and options) and the mapping from Asterisk's error
texts to the proxy's error codes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote, urlsplit

from proxy.errors import LinkProtocolError
from proxy.links.base import split_urls

BANNER_PREFIX = "Asterisk Call Manager/"
MAX_BLOCK_BYTES = 64 * 1024
DEFAULT_PORT = 5038
# Header names Asterisk uses: letters, digits and a little punctuation (`Cause-txt`).
_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_\-().@/]{0,127}$")
# Keys that open a message: a second one in the same block means the first lost its blank line.
_OPENERS = ("Event", "Response", "Action")
_CALL_KEYS = ("Uniqueid", "Linkedid", "DestUniqueid", "TransfererUniqueid")


class AmiProtocolError(LinkProtocolError):
    """An AMI message that breaks the wire format; `call_id` is its Uniqueid/Linkedid or "-"."""

    def __init__(self, message: str, call_id: str = "-") -> None:
        super().__init__(message)
        self.call_id = call_id or "-"


def call_id_of(message: dict[str, str]) -> str:
    """The call a (possibly broken) message is about, for log lines; "-" when it names none."""
    return next((message[k] for k in _CALL_KEYS if message.get(k)), "-")


class AmiParser:
    """Incremental AMI message parser: `feed()` bytes, then `next_message()` until None."""

    def __init__(self, max_block: int = MAX_BLOCK_BYTES) -> None:
        self.max_block = max_block
        self._buffer = bytearray()
        self._fields: dict[str, str] = {}
        self._size = 0
        self._broken = ""  # why the message being read is already known to be bad
        self._skipping = False  # past an oversized message: drop lines until its end

    def feed(self, data: bytes) -> None:
        self._buffer += data

    def next_message(self) -> dict[str, str] | None:
        """The next complete message, None until more bytes come; `AmiProtocolError` for a bad
        one (already consumed, so the next call goes on with what follows it)."""
        while True:
            end = self._buffer.find(b"\n")
            if end < 0:
                if len(self._buffer) + self._size > self.max_block:
                    self._buffer.clear()
                    raise self._oversized()
                return None
            raw = bytes(self._buffer[:end])
            del self._buffer[: end + 1]
            line = raw.rstrip(b"\r").decode("utf-8", errors="replace")
            if not line.strip():
                message = self._end_block()
                if message is not None:
                    return message
                continue
            if self._skipping:
                continue
            self._size += len(raw) + 1
            if self._size > self.max_block:
                raise self._oversized()
            key, sep, value = line.partition(":")
            key = key.strip()
            if not sep or not _KEY.match(key):
                self._broken = self._broken or f"not a 'Key: value' line: {line[:60]!r}"
                continue
            if self._opens_message(key):
                # The previous message never got its blank line: report it, keep this one.
                unfinished = AmiProtocolError(
                    f"message without its blank line: {_describe(self._fields)}",
                    call_id_of(self._fields),
                )
                self._reset()
                self._fields[key] = value.strip()
                self._size = len(raw) + 1
                raise unfinished
            self._fields[key] = value.strip()

    def _opens_message(self, key: str) -> bool:
        """Whether header `key` can only be the start of a new message. `Response` after
        `Event` is not one: OriginateResponse events carry both."""
        if key not in _OPENERS:
            return False
        if key in self._fields:
            return True
        return key != "Response" and any(k in self._fields for k in _OPENERS)

    def close(self) -> None:
        """The stream ended: a message cut off without its blank line is reported, not lost."""
        leftover = self._buffer.decode("utf-8", errors="replace").strip()
        self._buffer.clear()
        fields, broken = self._fields, self._broken
        self._reset()
        if fields or leftover or broken:
            raise AmiProtocolError(
                f"stream ended inside a message: {_describe(fields) or leftover[:60]!r}",
                call_id_of(fields),
            )

    def _end_block(self) -> dict[str, str] | None:
        fields, broken, skipping = self._fields, self._broken, self._skipping
        self._reset()
        if skipping or not (fields or broken):
            return None  # the tail of an oversized message, or a stray blank line
        if broken:
            raise AmiProtocolError(f"{broken} in {_describe(fields)}", call_id_of(fields))
        return fields

    def _oversized(self) -> AmiProtocolError:
        error = AmiProtocolError(
            f"message longer than {self.max_block} bytes: {_describe(self._fields)}",
            call_id_of(self._fields),
        )
        self._reset()
        self._skipping = True
        return error

    def _reset(self) -> None:
        self._fields = {}
        self._size = 0
        self._broken = ""
        self._skipping = False


def _describe(fields: dict[str, str]) -> str:
    for key in _OPENERS:
        if key in fields:
            return f"{key} {fields[key][:40]!r}"
    return "a message with no Event or Response"


def parse_banner(line: bytes) -> str:
    """The server's greeting, e.g. `Asterisk Call Manager/7.0.3`; anything else is not AMI."""
    text = line.decode("utf-8", errors="replace").strip()
    if not text.startswith(BANNER_PREFIX):
        raise AmiProtocolError(f"not an Asterisk manager: it greeted with {text[:60]!r}")
    return text


def encode(fields: dict[str, str]) -> bytes:
    """One AMI message. A value with a line break would smuggle in another action: refused."""
    lines = []
    for key, value in fields.items():
        if "\r" in value or "\n" in value or not _KEY.match(key):
            raise ValueError(f"AMI field {key!r} cannot carry a line break")
        lines.append(f"{key}: {value}\r\n")
    try:
        return ("".join(lines) + "\r\n").encode()
    except UnicodeEncodeError:  # a lone surrogate, which JSON lets through
        raise ValueError("AMI fields must be valid text") from None


# Asterisk answers a failed action with `Response: Error` and a sentence; the proxy wants a code.
_ERROR_CODES = (
    ("no such channel", "no_such_call"),
    ("channel not found", "no_such_call"),
    ("channel does not exist", "no_such_call"),
    ("channel not existent", "no_such_call"),
    ("permission denied", "not_permitted"),
    ("authentication failed", "not_permitted"),
    ("interface not found", "no_such_agent"),
    ("not there", "no_such_agent"),
    ("already there", "already_member"),
    ("no such queue", "no_such_queue"),
    ("invalid", "invalid_request"),
    ("not specified", "invalid_request"),
)


def error_code(message: str) -> str:
    """The proxy's code for an Asterisk error text; "refused" when the text is not known."""
    lowered = message.lower()
    return next((code for text, code in _ERROR_CODES if text in lowered), "refused")


@dataclass(frozen=True)
class AmiTarget:
    """One Asterisk to log in to. `masked` is the address as logs may show it."""

    host: str
    port: int
    username: str
    secret: str = field(repr=False)
    masked: str


@dataclass(frozen=True)
class AmiOptions:
    """What the link needs to know about the dialplan and the agents' phones (see the docs)."""

    devices: tuple[str, ...] = ()  # monitored `TECH/resource`s; empty: any numeric resource
    # Set once the proxy hands its roster (monitor()): then only `devices` count, none if empty.
    listed_only: bool = False
    tech: str = "PJSIP"  # for agents not listed in `devices`
    context: str = "from-internal"  # where Originate, Redirect and transfers dial
    ivr_prefix: str = "SF_IVR"  # channel variables carrying `Object.Field=value`
    heartbeat: float = 1.0  # seconds between Pings
    phone_control: str = "notify"  # answer/hold/retrieve by SIP NOTIFY to the phone, or "none"


def mask_url(url: str) -> str:
    """`url` with its password replaced, fit for a log line."""
    parts = urlsplit(url.strip())
    if parts.password is None:
        return url.strip()
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def parse_ami_urls(url: str) -> tuple[list[AmiTarget], AmiOptions]:
    """`ami://user:pass@host:5038?options`, or `primary,standby`; options from the primary.

    Several devices are separated by `,` or `;`, or given as repeated `devices=` (a comma
    starts the standby address only where `ami://` follows: see `split_urls`).
    """
    targets: list[AmiTarget] = []
    addresses = split_urls(url)
    for one in addresses:
        parts = urlsplit(one)
        if parts.scheme != "ami" or not parts.hostname or not parts.username:
            raise ValueError(
                f"AMI address must be ami://user:password@host[:port], got {mask_url(one)!r}"
            )
        targets.append(
            AmiTarget(
                host=parts.hostname,
                port=parts.port or DEFAULT_PORT,
                username=unquote(parts.username),
                secret=unquote(parts.password or ""),
                masked=mask_url(one),
            )
        )
    if not targets:
        raise ValueError("an AMI link needs at least one ami:// address")
    query = parse_qsl(urlsplit(addresses[0]).query)
    values: dict[str, str] = {}
    devices: list[str] = []
    for key, value in query:
        if key == "devices":
            devices.extend(d.strip() for d in re.split(r"[,;]", value) if d.strip())
        else:
            values[key] = value
    try:
        options = AmiOptions(
            devices=tuple(devices),
            tech=values.get("tech", "PJSIP"),
            context=values.get("context", "from-internal"),
            ivr_prefix=values.get("ivr_prefix", "SF_IVR"),
            heartbeat=float(values.get("heartbeat", "1.0")),
            phone_control=values.get("phone_control", "notify"),
        )
    except ValueError:
        raise ValueError(
            f"AMI option heartbeat must be seconds, got {values['heartbeat']!r}"
        ) from None
    if options.phone_control not in ("notify", "none") or not 0.05 <= options.heartbeat <= 30:
        raise ValueError("AMI options: phone_control is notify or none; heartbeat 0.05-30 s")
    return targets, options
