"""Fuzzing the CSTA frame decoder and event parser: whatever the bytes, only ProtocolError."""

from __future__ import annotations

import contextlib
import struct

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proxy.links.csta.codec import FrameDecoder, FrameError, parse_document
from proxy.links.csta.events import CstaCalls
from softphone.errors import ProtocolError
from tests.integration.links.peers.csta_peer import FIXTURES, CstaPeer, frame

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
_peer = CstaPeer()
VALID = [
    _peer.event_xml(kind, "f1", "1001", ani="+16504508810", dnis="1002", number="1003")
    for kind in (
        *("delivered", "established", "held", "retrieved", "cleared", "transferred"),
        *("diverted", "originated", "failed", "queued"),
    )
]
TRANSCRIPTS = [(FIXTURES / name).read_bytes() for name in ("conference.xml", "inbound_call.xml")]


def decode_all(decoder: FrameDecoder, data: bytes) -> list[tuple[int, bytes]]:
    """Every frame in `data`, skipping the bad ones the stream survives, as the link does."""
    decoder.feed(data)
    frames = []
    while True:
        try:
            found = decoder.next_frame()
        except FrameError as exc:
            if exc.fatal:
                return frames
            continue
        if found is None:
            return frames
        frames.append(found)


def translate(raw: bytes) -> None:
    """The link's path for one document: parse, then turn it into our events."""
    calls = CstaCalls(["1001"])
    calls.monitors["M1001"] = "1001"
    with contextlib.suppress(ProtocolError):  # ours is the one error allowed out
        calls.translate(parse_document(raw))


@FUZZ
@given(st.lists(st.binary(max_size=300), max_size=8))
def test_random_chunks_only_ever_raise_protocol_error(chunks: list[bytes]) -> None:
    """Random byte chunks fed to the decoder raise nothing but our FrameError."""
    decoder = FrameDecoder()
    for chunk in chunks:
        for _, body in decode_all(decoder, chunk):
            translate(body)


@FUZZ
@given(
    st.sampled_from(VALID),
    st.lists(st.tuples(st.integers(0, 2000), st.integers(0, 255)), max_size=6),
    st.integers(1, 64),
)
def test_mutated_frames_only_ever_raise_protocol_error(
    xml: str, flips: list[tuple[int, int]], split: int
) -> None:
    """Valid event frames with flipped bytes, fed in pieces, raise nothing but ours."""
    data = bytearray(frame(9999, xml) * 2)
    for at, value in flips:
        data[at % len(data)] = value
    decoder = FrameDecoder()
    for start in range(0, len(data), split):
        for _, body in decode_all(decoder, bytes(data[start : start + split])):
            translate(body)


@FUZZ
@given(st.sampled_from(VALID + [t.decode() for t in TRANSCRIPTS]), st.data())
def test_mutated_documents_only_ever_raise_protocol_error(xml: str, data: st.DataObject) -> None:
    """Event documents with text cut, inserted or replaced never escape as anything else."""
    raw = xml.encode()
    at = data.draw(st.integers(0, len(raw)))
    cut = data.draw(st.integers(0, 40))
    insert = data.draw(st.binary(max_size=40) | st.sampled_from([b"<", b"&lol;", b"<!DOCTYPE x>"]))
    translate(raw[:at] + insert + raw[at + cut :])


@FUZZ
@given(st.integers(0, 0xFFFF), st.binary(min_size=4, max_size=4), st.binary(max_size=64))
def test_any_header_is_a_frame_a_wait_or_a_frame_error(
    length: int, invoke: bytes, body: bytes
) -> None:
    """Every 8-byte header either frames, waits for more, or raises FrameError."""
    decoder = FrameDecoder()
    decoder.feed(b"\x00\x00" + struct.pack(">H", length) + invoke + body)
    try:
        found = decoder.next_frame()
    except FrameError as exc:
        assert exc.fatal if length < 8 else not exc.fatal and not invoke.isdigit()
        return
    if found is not None:
        assert 8 + len(found[1]) == length
