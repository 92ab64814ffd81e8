"""Agent state commands and dialing prefixes, checked in the core before the PBX sees them."""

from __future__ import annotations

import pytest

from softphone.agents import AgentStatus, check_agent_command
from softphone.dialing import DialingOptions, dial_string
from softphone.errors import CommandRefused
from softphone.events import AgentState


@pytest.mark.parametrize(
    ("number", "options", "dialled"),
    [
        ("(650) 450-8810", DialingOptions(), "916504508810"),
        ("+1 650 450 8810", DialingOptions(), "916504508810"),
        ("+44 20 7946 0958", DialingOptions(), "9011442079460958"),
        ("2001", DialingOptions(), "2001"),
        ("020 7946 0958", DialingOptions(region="GB", international_prefix="00"), "902079460958"),
        ("+16504508810", DialingOptions(region="GB", international_prefix="00"), "90016504508810"),
        ("6504508810", DialingOptions(outside_prefix=""), "16504508810"),
    ],
)
def test_prefixes_for_local_long_distance_international(
    number: str, options: DialingOptions, dialled: str
) -> None:
    """Outside line, long distance and international prefixes as the call center sets them."""
    assert dial_string(number, options) == dialled


@pytest.mark.parametrize("number", ["", "call me", "1-800-FLOWERS", "12345678901234567890123"])
def test_numbers_that_cannot_be_dialled_are_refused(number: str) -> None:
    with pytest.raises(CommandRefused) as refused:
        dial_string(number, DialingOptions())
    assert refused.value.code == "bad_number"


def test_make_busy_needs_a_known_reason() -> None:
    """Make busy without a reason, or with one not on the list, is refused; DND needs none."""
    ready = AgentStatus()
    with pytest.raises(CommandRefused, match="Choose a reason"):
        check_agent_command("acd", ready, "set_state", state="busy")
    with pytest.raises(CommandRefused, match="not one of the reason codes"):
        check_agent_command(
            "acd", ready, "set_state", state="busy", reason="Nap", reason_codes=("Lunch",)
        )
    check_agent_command(
        "acd", ready, "set_state", state="busy", reason="Lunch", reason_codes=("Lunch",)
    )
    check_agent_command("acd", ready, "set_state", state="dnd")


def test_groups_are_for_acd_agents_only() -> None:
    """Regular users have no ACD groups; ACD agents join and leave each group once."""
    with pytest.raises(CommandRefused, match="Only ACD agents"):
        check_agent_command("regular", AgentStatus(), "acd_login", group="Support")
    in_support = AgentStatus(groups=("Support",))
    with pytest.raises(CommandRefused, match="Already logged in to Support"):
        check_agent_command("acd", in_support, "acd_login", group="Support")
    with pytest.raises(CommandRefused, match="Not logged in to Sales"):
        check_agent_command("acd", in_support, "acd_logout", group="Sales")
    check_agent_command("acd", in_support, "acd_logout", group="Support")


def test_work_timer_and_logout_rules() -> None:
    """Cancel work only while it runs; desk phone users never log out."""
    with pytest.raises(CommandRefused, match="no work timer"):
        check_agent_command("acd", AgentStatus(), "cancel_work")
    check_agent_command("acd", AgentStatus(state=AgentState.WORK), "cancel_work")
    with pytest.raises(CommandRefused, match="does not log out"):
        check_agent_command("regular", AgentStatus(), "logout")
    check_agent_command("hot_desk", AgentStatus(), "logout")


def test_log_in_and_out_of_the_phone() -> None:
    """Hot-desk and ACD agents log out and back in; each only from the other state."""
    check_agent_command("hot_desk", AgentStatus(), "logout")
    with pytest.raises(CommandRefused, match="Already logged out"):
        check_agent_command("acd", AgentStatus(state=AgentState.LOGGED_OUT), "logout")
    check_agent_command("acd", AgentStatus(state=AgentState.LOGGED_OUT), "login")
    with pytest.raises(CommandRefused, match="Already logged in"):
        check_agent_command("hot_desk", AgentStatus(), "login")
    with pytest.raises(CommandRefused, match="always logged in"):
        check_agent_command("regular", AgentStatus(), "login")
