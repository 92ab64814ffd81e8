"""Browser and bridge messages are validated at the edge with errors a person can read."""

from __future__ import annotations

import pytest

from softphone.bridge import BridgeEvent, Command, parse_from_bridge, parse_to_bridge
from softphone.calls import Call
from softphone.errors import ProtocolError
from softphone.events import CallState, Direction
from softphone.messages.from_page import CallCommand, Hello, NumberCommand, parse_client_message
from softphone.messages.to_page import CallView


def test_client_messages_parse_by_type() -> None:
    """Each message type becomes its model."""
    assert parse_client_message('{"type":"answer","call_id":"c1"}') == CallCommand(
        type="answer", call_id="c1"
    )
    assert parse_client_message(
        '{"type":"transfer","call_id":"c1","number":"1002"}'
    ) == NumberCommand(type="transfer", call_id="c1", number="1002")
    assert parse_client_message('{"type":"hello","last_seq":4}') == Hello(type="hello", last_seq=4)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("{", "message is not valid JSON"),
        ('{"type":"nuke"}', "unknown message type"),
        ("[]", "invalid message: Input should be an object"),
        ('{"type":"answer"}', "invalid call_id: Field required"),
        ('{"type":"answer","call_id":""}', "invalid call_id"),
        ('{"type":"answer","call_id":"c1","extra":1}', "invalid extra"),
        ('{"type":"hello","v":1}', "invalid v"),
        ('{"type":"transfer","call_id":"c1"}', "invalid number: Field required"),
        ('{"type":"set_state","state":"asleep"}', "invalid state"),
        ('{"type":"hello","last_seq":-1}', "invalid last_seq"),
    ],
)
def test_bad_client_messages_say_what_is_wrong(raw: str, reason: str) -> None:
    """Bad messages raise ProtocolError naming the problem."""
    with pytest.raises(ProtocolError) as error:
        parse_client_message(raw)
    assert str(error.value).startswith(reason)


def test_call_view_shows_number_for_people() -> None:
    """The view formats the number and says a lookup is still running."""
    call = Call("c1", "1001", Direction.INBOUND, CallState.RINGING, ani="6504508810")
    view = CallView.of(call, "US")
    assert view.ani_display == "+1 650-450-8810" and view.matching and view.caller_name == ""


def test_bridge_frames_round_trip_and_refuse_garbage() -> None:
    """Frames the simulator sends parse back; malformed ones raise ProtocolError."""
    frame = parse_from_bridge(
        '{"type":"event","event":{"kind":"delivered","call_id":"c1","agent":"1001"}}'
    )
    assert isinstance(frame, BridgeEvent) and frame.event.call_id == "c1"
    command = Command(type="command", req_id=1, op="answer", call_id="c1", agent="1001")
    assert parse_to_bridge(command.model_dump_json()) == command
    for raw in [
        "",
        "{}",
        '{"type":"event","event":{"kind":"boom","call_id":"c","agent":"1"}}',
        '{"type":"event","event":{"kind":"cleared","call_id":"c","agent":"1",'
        '"ivr":' + str(["a=b"] * 17).replace("'", '"') + "}}",
    ]:
        with pytest.raises(ProtocolError):
            parse_from_bridge(raw)
