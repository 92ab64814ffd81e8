"""Fuzzing the OIG answer and event parser: random, mutated and well-formed-but-wrong XML.

Whatever a gateway (or something pretending to be one) sends, reading it may only end in our
own errors: `ProtocolError` for a document we cannot use, `OigFault` (the proxy's
`LinkCommandFailed`) for a SOAP Fault. Nothing else may escape into the link's poll loop.
"""

from __future__ import annotations

import contextlib
import logging

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proxy.links.oig.events import CALL_KINDS, QUIET_CALL_TYPES, OigCalls
from proxy.links.oig.soap import (
    OigFault,
    call_id_of,
    parse_xml,
    payload,
    returned,
)
from softphone.errors import ProtocolError
from tests.integration.links.peers.oig_peer import envelope
from tests.integration.links.test_oig_link import BOMB

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
EVENT = (
    '<ns:return result="true" eventNumber="7"><cc:eventType>CALL_EVENT</cc:eventType>'
    '<cc:callEvent localCallId="4711" objectId="501"><cc:type>CALL_DELIVERED</cc:type>'
    "<cc:device><cc:deviceName>CALLING_DEVICE</cc:deviceName><cc:deviceAttribute>"
    "<cc:attributeName>NUMBER</cc:attributeName><cc:attributeValue>+16504508810"
    "</cc:attributeValue></cc:deviceAttribute></cc:device></cc:callEvent></ns:return>"
)
SEED = envelope("getNumberedEvent", "StandardCCService", EVENT)
TYPES = [*sorted(CALL_KINDS), *sorted(QUIET_CALL_TYPES), "WORK_TIMER_EXPIRED", ""]
TYPES += ["DO_NOT_DISTURB", "MAKE_BUSY", "ACD_AGENT", "JOIN_GROUP", "LEAVE_GROUP"]


def read(raw: bytes) -> None:
    """What the poll loop does with one answer: unwrap it and translate its event."""
    calls = OigCalls(["1001"])
    calls.bind("501", "1001")
    record = returned(payload(raw), check=False)
    calls.translate(record)
    calls.status("1001", record)
    call_id_of(raw)


def survives(raw: bytes) -> None:
    with contextlib.suppress(ProtocolError, OigFault):
        read(raw)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(SEED)
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["insert", "delete", "replace", "truncate"]))
        chunk = draw(st.binary(min_size=1, max_size=12) | st.sampled_from(
            [b"<", b">", b"&", b"&lol;", b"<!DOCTYPE x>", b"]]>", b"\x00", b"\xff\xfe", b'"']
        ))  # fmt: skip
        if action == "insert":
            data[at:at] = chunk
        elif action == "delete":
            del data[at : at + len(chunk)]
        elif action == "replace":
            data[at : at + len(chunk)] = chunk
        else:
            del data[at:]
    return bytes(data)


text = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=80
)


@st.composite
def wrong_events(draw: st.DrawFn) -> bytes:
    """Well-formed documents with any type, ids, numbers and devices, present or not."""
    from xml.sax.saxutils import escape, quoteattr

    def attr(name: str, *likely: str) -> str:
        value = draw(st.none() | st.sampled_from(likely or ("",)) | text)
        return "" if value is None else f" {name}={quoteattr(value)}"

    devices = "".join(
        f"<cc:device><cc:deviceName>{escape(name)}</cc:deviceName><cc:deviceAttribute>"
        f"<cc:attributeName>{escape(key)}</cc:attributeName><cc:attributeValue>{escape(value)}"
        "</cc:attributeValue></cc:deviceAttribute></cc:device>"
        for name, key, value in draw(
            st.lists(
                st.tuples(
                    st.sampled_from(["CALLING_DEVICE", "CALLED_DEVICE", "GROUP_DEVICE"]) | text,
                    st.sampled_from(["NUMBER", "NAME"]) | text,
                    text,
                ),
                max_size=4,
            )
        )
    )
    kind = escape(draw(st.sampled_from(TYPES) | text))
    element = draw(st.sampled_from(["callEvent", "featureEvent", "systemEvent", "other"]))
    body = (
        f"<ns:return{attr('result', 'true', 'false')}{attr('eventNumber', '8')}>"
        f"<cc:{element}{attr('localCallId', '4711', 'x' * 65)}{attr('objectId', '501')}>"
        f"<cc:type>{kind}</cc:type><cc:eventType>{kind}</cc:eventType>"
        f"<cc:callState>{escape(draw(text))}</cc:callState>{devices}</cc:{element}></ns:return>"
    )
    return envelope("getNumberedEvent", "StandardCCService", body)


@FUZZ
@given(st.binary(max_size=400))
def test_random_bytes_only_raise_our_errors(raw: bytes) -> None:
    """Any bytes at all are read or refused with ProtocolError / OigFault."""
    survives(raw)


@FUZZ
@given(mutated())
def test_mutated_event_documents_only_raise_our_errors(raw: bytes) -> None:
    """A real event document with bytes inserted, deleted or cut is read or refused cleanly."""
    survives(raw)


@FUZZ
@given(wrong_events())
def test_well_formed_but_wrong_events_only_raise_our_errors(raw: bytes) -> None:
    """Unknown types, missing or huge ids and odd devices are read or refused cleanly."""
    logging.disable(logging.ERROR)  # status() logs each bad entry; thousands are noise here
    try:
        survives(raw)
    finally:
        logging.disable(logging.NOTSET)


def test_seed_document_reads_as_a_call_event() -> None:
    """The seed the mutations start from is itself a good event (so mutations test something)."""
    calls = OigCalls(["1001"])
    calls.bind("501", "1001")
    (event,) = calls.translate(returned(payload(SEED), check=False))
    assert (event.kind, event.call_id, event.ani) == ("delivered", "4711", "+16504508810")  # type: ignore[union-attr]


def test_xml_bomb_is_refused_before_it_expands() -> None:
    """Billion laughs is refused as a ProtocolError for its DTD, before any entity expands."""
    try:
        parse_xml(BOMB)
    except ProtocolError as exc:
        assert "DTD" in str(exc) or "Forbidden" in str(exc)
    else:
        raise AssertionError("the bomb was parsed")
    assert call_id_of(BOMB) == "c77"


def test_soap_fault_reads_as_a_clear_code() -> None:
    """A Fault becomes OigFault with a snake_case code; result=false with a known text too."""
    fault = (
        b'<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"><e:Body><e:Fault>'
        b"<faultcode>e:Server.userException</faultcode><faultstring>boom</faultstring>"
        b"</e:Fault></e:Body></e:Envelope>"
    )
    try:
        payload(fault)
    except OigFault as exc:
        assert (exc.code, str(exc)) == ("server_user_exception", "boom")
    else:
        raise AssertionError("a Fault was read as an answer")
    refused = envelope(
        "holdCall",
        "StandardCCService",
        '<ns:return result="false"><cc:errorDescription>Invalid localCallId 12'
        "</cc:errorDescription></ns:return>",
    )
    try:
        returned(payload(refused))
    except OigFault as exc:
        assert exc.code == "no_such_call" and not exc.session_lost
    else:
        raise AssertionError("result=false was read as success")
