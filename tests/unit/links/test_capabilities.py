"""Link capabilities: each link's honest set, and the refusal of what a link cannot do."""

from __future__ import annotations

import pytest

from proxy.links.ami.commands import capabilities as ami_capabilities
from proxy.links.ami.protocol import AmiOptions
from softphone.capabilities import EVERYTHING, LinkCapabilities
from softphone.errors import CommandRefused
from softphone.messages.to_page import StatusView


def test_asterisk_lacks_conference_dnd_work_timer_phone_login_and_recall() -> None:
    """Asterisk's manager has no conference, DND, work timer, phone login or hold recall."""
    caps = ami_capabilities(AmiOptions())
    missing = {name for name, can in caps.model_dump().items() if not can}
    assert missing == {"conference", "dnd", "cancel_work", "phone_login", "hold_recall"}


def test_asterisk_without_phone_control_cannot_answer_or_hold() -> None:
    """With phone_control=none the page cannot answer or hold an Asterisk call."""
    caps = ami_capabilities(AmiOptions(phone_control="none"))
    assert not caps.answer and not caps.hold and caps.transfer


@pytest.mark.parametrize(
    ("op", "state"),
    [
        ("conference", ""),
        ("cancel_work", ""),
        ("login", ""),
        ("logout", ""),
        ("set_state", "dnd"),
    ],
)
def test_what_a_link_cannot_do_is_refused_plainly(op: str, state: str) -> None:
    """Each missing capability refuses its command with code not_supported and a sentence."""
    with pytest.raises(CommandRefused) as refused:
        ami_capabilities(AmiOptions()).require(op, state)
    assert refused.value.code == "not_supported"
    assert refused.value.message.startswith("This phone system cannot ")


@pytest.mark.parametrize(
    ("op", "state"),
    [("dial", ""), ("hangup", ""), ("set_state", "ready"), ("set_state", "busy"), ("dtmf", "")],
)
def test_what_a_link_can_do_passes(op: str, state: str) -> None:
    """Dial, hang up, ready, make busy and tones pass on Asterisk."""
    ami_capabilities(AmiOptions()).require(op, state)


def test_retrieve_needs_hold_and_complete_transfer_needs_consult() -> None:
    """Retrieve is refused with hold, and complete_transfer with consult."""
    with pytest.raises(CommandRefused):
        LinkCapabilities(hold=False).require("retrieve")
    with pytest.raises(CommandRefused):
        LinkCapabilities(consult=False).require("complete_transfer")
    EVERYTHING.require("conference")


def test_capabilities_are_frozen_and_reject_unknown_names() -> None:
    """A capability set cannot be changed after it is made, nor hold a name it does not know."""
    with pytest.raises(ValueError):
        EVERYTHING.conference = False  # type: ignore[misc]
    with pytest.raises(ValueError):
        LinkCapabilities.model_validate({"teleport": True})


def test_status_view_carries_the_capabilities_on_the_wire() -> None:
    """The agent's status sends the link's capabilities to the page as booleans by name."""
    view = StatusView(
        kind="regular",
        state="ready",
        reason="",
        groups=(),
        work_seconds=0,
        reason_codes=(),
        acd_groups=(),
        capabilities=ami_capabilities(AmiOptions()),
    )
    wire = view.model_dump(mode="json")["capabilities"]
    assert wire["conference"] is False and wire["transfer"] is True
