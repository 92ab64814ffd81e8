"""Fuzzing the AMI parser and event translator: whatever arrives, only our ProtocolError escapes."""

from __future__ import annotations

import contextlib
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from proxy.links.ami.calls import AmiCalls
from proxy.links.ami.protocol import AmiParser, encode
from softphone.errors import ProtocolError

FIXTURES = Path(__file__).resolve().parents[2] / "integration" / "links" / "fixtures" / "ami"
SAMPLES = [
    "\r\n".join(line for line in path.read_text().splitlines() if not line.startswith("#"))
    .replace("$caller", "1700000000.16")
    .replace("$agent", "1700000000.42")
    .encode()
    for path in sorted(FIXTURES.glob("*.txt"))
]
EVENTS = [
    "Newchannel",
    "Newstate",
    "DialBegin",
    "DialEnd",
    "BridgeEnter",
    "Hangup",
    "Hold",
    "Unhold",
    "BlindTransfer",
    "AttendedTransfer",
    "VarSet",
    "AgentCalled",
    "AgentConnect",
    "QueueMemberPause",
    "OriginateResponse",
    "Bogus",
]
KEYS = [
    "Channel",
    "Uniqueid",
    "Linkedid",
    "ChannelState",
    "ConnectedLineNum",
    "CallerIDNum",
    "Exten",
    "DestChannel",
    "DestUniqueid",
    "DestLinkedid",
    "DialStatus",
    "Result",
    "TransfererChannel",
    "TransfererUniqueid",
    "OrigTransfererChannel",
    "OrigTransfererUniqueid",
    "Variable",
    "Value",
    "Queue",
    "Interface",
    "Paused",
    "PausedReason",
    "ActionID",
    "Response",
    "Reason",
]
CHANNELS = st.sampled_from(
    ["PJSIP/1001-0000002a", "PJSIP/1002-1", "SIP/1001", "Local/1001@q-1;2", "PJSIP/trunk-9", "x"]
)
VALUES = st.one_of(CHANNELS, st.sampled_from(["4", "5", "6", "Success", "1", "BUSY"]), st.text())


def drain(parser: AmiParser, calls: AmiCalls | None = None) -> int:
    """Read every message out of `parser` (feeding them to `calls`), our errors tolerated."""
    read = 0
    while True:
        try:
            message = parser.next_message()
        except ProtocolError:
            continue
        if message is None:
            return read
        read += 1
        if calls is not None:
            with contextlib.suppress(ProtocolError):
                calls.apply(message)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=200), max_size=12))
def test_random_bytes_in_any_chunks(chunks: list[bytes]) -> None:
    """Arbitrary bytes, arbitrarily split, raise nothing but our ProtocolError."""
    parser, calls = AmiParser(max_block=1024), AmiCalls()
    for chunk in chunks:
        parser.feed(chunk)
        drain(parser, calls)
    with contextlib.suppress(ProtocolError):
        parser.close()


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(SAMPLES),
    st.lists(
        st.tuples(
            st.sampled_from(["delete", "insert", "duplicate"]),
            st.integers(min_value=0, max_value=10_000),
            st.sampled_from([b"\r\n", b"\n", b":", b"\r\n\r\n", b"\x00", b"\xff", b"Event: X"]),
        ),
        max_size=8,
    ),
    st.integers(min_value=1, max_value=64),
)
def test_mutated_call_flows(
    sample: bytes, mutations: list[tuple[str, int, bytes]], step: int
) -> None:
    """Real call flows with bytes deleted, inserted or repeated: only ProtocolError escapes."""
    data = bytearray(sample)
    for kind, at, piece in mutations:
        at %= max(len(data), 1)
        if kind == "delete":
            del data[at : at + len(piece)]
        elif kind == "insert":
            data[at:at] = piece
        else:
            data[at:at] = data[at : at + 40]
    parser, calls = AmiParser(), AmiCalls()
    for start in range(0, len(data), step):
        parser.feed(bytes(data[start : start + step]))
        drain(parser, calls)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(EVENTS), st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=10)
        ),
        max_size=20,
    )
)
def test_translator_takes_any_fields(events: list[tuple[str, dict[str, str]]]) -> None:
    """Known events with missing, odd or hostile fields: only ProtocolError escapes."""
    calls = AmiCalls()
    for name, fields in events:
        with contextlib.suppress(ProtocolError):
            calls.apply({"Event": name, **fields})


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.dictionaries(
            st.sampled_from(KEYS),
            st.text(alphabet=st.characters(exclude_characters="\r\n", exclude_categories=["Cs"])),
        ).filter(bool),
        max_size=5,
    ),
    st.integers(min_value=1, max_value=50),
)
def test_well_formed_messages_survive_any_split(messages: list[dict[str, str]], step: int) -> None:
    """Whatever chunks they arrive in, encoded messages come out as they went in (values
    trimmed of the spaces around them, as AMI does)."""
    data = b"".join(encode({"Event": "UserEvent", **m}) for m in messages)
    parser = AmiParser()
    out: list[dict[str, str]] = []
    for start in range(0, len(data), step):
        parser.feed(data[start : start + step])
        while (message := parser.next_message()) is not None:
            out.append(message)
    assert out == [{"Event": "UserEvent", **{k: v.strip() for k, v in m.items()}} for m in messages]
