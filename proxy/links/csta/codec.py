"""CSTA XML on the wire: ECMA-323 Annex J.2 framing over TCP, and safe XML in and out.

Every document travels behind an 8-byte header: two zero bytes, the total length (header
included, in bytes) as a big-endian uint16, then the invoke id as four ASCII digits (`9999`
marks an unsolicited event). Documents are parsed with the rules of defusedxml: no DTD, no
entities, no network, no huge trees, so an XML bomb is refused before it can expand.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator, Sequence
from typing import Final

from lxml import etree

from proxy.errors import LinkProtocolError
from softphone.errors import ProtocolError

HEADER_BYTES: Final = 8
EVENT_INVOKE_ID: Final = 9999
# The length field is 16 bits: no frame can be longer, whatever a peer claims.
MAX_FRAME_BYTES: Final = 0xFFFF
NAMESPACES: Final = {
    "3": "http://www.ecma-international.org/standards/ecma-323/csta/ed3",
    "4": "http://www.ecma-international.org/standards/ecma-323/csta/ed4",
}
_CALL_ID = re.compile(rb"<(?:[\w.-]+:)?callID>\s*([^<\s]{1,64})\s*<")
# A DTD is how every entity attack starts; CSTA never needs one, so its mere presence is refused.
_DTD = re.compile(rb"<!\s*(?:DOCTYPE|ENTITY)", re.IGNORECASE)
Element = etree._Element


class FrameError(LinkProtocolError):
    """A frame that breaks the framing rules.

    `fatal`: the length header itself is broken, so where the next frame starts is unknown and
    the connection must be dropped; otherwise the bad frame was skipped and the stream goes on.
    """

    def __init__(self, message: str, *, fatal: bool) -> None:
        super().__init__(message)
        self.fatal = fatal


class FrameDecoder:
    """Cuts a TCP byte stream into `(invoke_id, xml_bytes)` frames; partial frames wait."""

    def __init__(self, max_frame_bytes: int = MAX_FRAME_BYTES) -> None:
        self.max_frame_bytes = max_frame_bytes
        self._buffer = bytearray()
        self._broken: FrameError | None = None

    def feed(self, data: bytes) -> None:
        self._buffer += data

    def next_frame(self) -> tuple[int, bytes] | None:
        """The next whole frame, None until more bytes arrive; `FrameError` for a bad one."""
        if self._broken is not None:
            raise self._broken  # a lost frame boundary stays lost
        buffer = self._buffer
        if len(buffer) < HEADER_BYTES:
            return None
        if buffer[0] or buffer[1]:
            raise self._break(f"frame header must start with two zero bytes, got {buffer[:2]!r}")
        (length,) = struct.unpack_from(">H", buffer, 2)
        if length < HEADER_BYTES:
            raise self._break(f"frame length {length} is shorter than its own header")
        if length > self.max_frame_bytes:
            raise self._break(f"frame length {length} exceeds {self.max_frame_bytes}")
        if len(buffer) < length:
            return None
        invoke, body = bytes(buffer[4:HEADER_BYTES]), bytes(buffer[HEADER_BYTES:length])
        del buffer[:length]
        if not invoke.isdigit() or not invoke.isascii():
            raise FrameError(f"invoke id {invoke!r} is not four digits", fatal=False)
        return int(invoke), body

    def frames(self, data: bytes = b"") -> Iterator[tuple[int, bytes]]:
        """Feed `data` and yield every whole frame; stops at (and raises) the first bad one."""
        self.feed(data)
        while (frame := self.next_frame()) is not None:
            yield frame

    def _break(self, message: str) -> FrameError:
        self._broken = FrameError(message, fatal=True)
        self._buffer.clear()
        return self._broken


def encode_frame(invoke_id: int, xml: bytes) -> bytes:
    """One framed document; `ValueError` when it cannot be framed (our own bug, not the peer's)."""
    if not 0 <= invoke_id <= EVENT_INVOKE_ID:
        raise ValueError(f"invoke id {invoke_id} is not four digits")
    length = HEADER_BYTES + len(xml)
    if length > MAX_FRAME_BYTES:
        raise ValueError(f"a {length}-byte frame does not fit the 16-bit length field")
    return b"\x00\x00" + struct.pack(">H", length) + b"%04d" % invoke_id + xml


_PARSER = etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    huge_tree=False,
    load_dtd=False,
    dtd_validation=False,
    remove_comments=True,
    remove_pis=True,
)


def parse_document(raw: bytes) -> Element:
    """The root element of one received document; `ProtocolError` for anything unsafe or bad."""
    if _DTD.search(raw):
        raise ProtocolError("document with a DTD or entity declarations refused")
    try:
        root = etree.fromstring(raw, _PARSER)
    except (etree.LxmlError, ValueError) as exc:
        raise ProtocolError(f"invalid XML: {exc}") from None
    if root is None or root.getroottree().docinfo.internalDTD is not None:
        raise ProtocolError("document with a DTD refused")
    return root


def call_id_of(raw: bytes) -> str:
    """The first callID in a document we could not use, for the log line; "-" when none."""
    found = _CALL_ID.search(raw)
    return found.group(1).decode("utf-8", "replace") if found else "-"


# --- reading -------------------------------------------------------------------------------
def local(element: Element) -> str:
    """An element's name without its namespace: ed3, ed4 and no namespace read the same."""
    tag = element.tag
    if not isinstance(tag, str):  # comments and processing instructions
        return ""
    return tag.rpartition("}")[2]


def child(element: Element | None, *path: str) -> Element | None:
    """The first element down `path` (local names), or None."""
    for name in path:
        if element is None:
            return None
        element = next((c for c in element.iterchildren() if local(c) == name), None)
    return element


def children(element: Element | None, name: str) -> list[Element]:
    if element is None:
        return []
    return [c for c in element.iterchildren() if local(c) == name]


def text(element: Element | None, *path: str) -> str:
    found = child(element, *path)
    return (found.text or "").strip() if found is not None else ""


def descendant(element: Element | None, name: str) -> Element | None:
    if element is None:
        return None
    return next((e for e in element.iter() if local(e) == name), None)


def device(element: Element | None, name: str) -> str:
    """A device named by `name`: `<x><deviceIdentifier>1001</…>` or `<x>1001</x>`; "" if unknown."""
    found = child(element, name)
    if found is None:
        return ""
    inner = child(found, "deviceIdentifier")
    if inner is None:
        inner = child(found, "deviceID")
    return ((inner if inner is not None else found).text or "").strip()


def connection(element: Element | None, name: str) -> tuple[str, str]:
    """`(callID, deviceID)` of the connection named `name`; empty strings when absent."""
    found = child(element, name)
    return text(found, "callID"), text(found, "deviceID")


# --- writing -------------------------------------------------------------------------------
Fields = Sequence[tuple[str, "str | Fields"]]


def build(namespace: str, name: str, fields: Fields) -> bytes:
    """A request document: `fields` are (child, text) or (child, nested fields), in order."""
    # The default namespace, as every CSTA sample has it (no prefixes for picky switches).
    root = etree.Element(f"{{{namespace}}}{name}", nsmap={None: namespace})  # type: ignore[dict-item]
    _fill(root, namespace, fields)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def _fill(parent: Element, namespace: str, fields: Fields) -> None:
    for name, value in fields:
        element = etree.SubElement(parent, f"{{{namespace}}}{name}")
        if isinstance(value, str):
            element.text = value
        else:
            _fill(element, namespace, value)


def conn(call_id: str, device_id: str) -> Fields:
    """The fields of a ConnectionID."""
    return [("callID", call_id), ("deviceID", device_id)]
