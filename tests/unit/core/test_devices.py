"""Vendor device identifiers become a dialable number and a display; call data splits from IVR."""

from __future__ import annotations

from dataclasses import replace

import pytest

from softphone.calllog import CallLog, description, log_from_dict, log_to_dict
from softphone.devices import DeviceNumber, number_of, read_device, with_numbers
from softphone.events import CallEvent, Direction, Party
from softphone.ivr import read_call_data

# "urn:nena:uid:callid:…" as OpenScape Voice sends it in correlatorData: hex, not IVR data.
NENA_HEX = "75726E3A6E656E613A7569643A63616C6C69643A4254" + "4F43696C6A7332344D2E6F737663"


# --- Unify OpenScape Voice -------------------------------------------------------------------
def test_openscape_caller_with_line_display_number_and_uid() -> None:
    """`N<digits>Line…;displayNumber=…;uid=…`: the digits dial, displayNumber is shown."""
    raw = "N<6504508810>Line71001;displayNumber=6504508810;uid=FF00010000000000EC6114647E570000"
    assert read_device(raw) == DeviceNumber("6504508810", "6504508810")


def test_openscape_display_number_differs_from_the_dialable_number() -> None:
    """An international number in the brackets dials; a differently written display is shown."""
    raw = "N<+16504508810>Line71001;displayNumber=(650) 450-8810"
    assert read_device(raw) == DeviceNumber("+16504508810", "(650) 450-8810")


def test_openscape_own_extension_with_nature_of_address() -> None:
    """`N<1001>;noa=nk`, an OpenScape extension, is device 1001."""
    assert read_device("N<1001>;noa=nk") == DeviceNumber("1001", "1001")


def test_openscape_bare_international_number() -> None:
    """`N<+16504508810>` with nothing after the brackets keeps its plus."""
    assert read_device("N<+16504508810>") == DeviceNumber("+16504508810", "+16504508810")


def test_openscape_empty_brackets_fall_back_to_the_display_number() -> None:
    """No number in the brackets: the displayNumber, when it is a number, is the number."""
    assert number_of("N<>;displayNumber=6504508810") == "6504508810"
    assert read_device("N<>;noa=nk").withheld


# --- SIP and tel URIs ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "number"),
    [
        ("sip:+16504508810@pbx.example.com;user=phone", "+16504508810"),
        ("sips:6504508810@pbx.example.com", "6504508810"),
        ("SIP:1001@10.0.0.5:5060;transport=tcp", "1001"),
        ("<sip:+16504508810@pbx.example.com>", "+16504508810"),
        ('"Maria Chen" <sip:+16504508810@pbx.example.com;user=phone>', "+16504508810"),
        ("sip:%2A67@pbx.example.com", "*67"),
        ("tel:+1-650-450-8810", "+16504508810"),
        ("tel:8810;phone-context=+1650450", "8810"),
    ],
)
def test_sip_and_tel_uris_give_their_number(raw: str, number: str) -> None:
    """The user part of a SIP URI, or a tel URI without its separators, is the number."""
    assert read_device(raw) == DeviceNumber(number, number)


def test_sip_uri_of_a_name_is_shown_but_never_a_number() -> None:
    """`sip:alice@example.com` reads as alice@example.com and has no number to search."""
    assert read_device("sip:alice@example.com;transport=tls") == DeviceNumber(
        "", "alice@example.com"
    )


# --- Avaya AE Services -----------------------------------------------------------------------
def test_avaya_device_id_is_its_extension() -> None:
    """`digits:switch:ip:0` (a DMCC device id) dials as its first part."""
    assert read_device("6504508810:CM1:10.0.0.1:0") == DeviceNumber("6504508810", "6504508810")
    assert number_of("1001:S8300:192.168.1.10:0") == "1001"


def test_avaya_device_id_without_digits_has_no_number() -> None:
    """An Avaya device id whose extension part is empty is no caller."""
    assert read_device(":CM1:10.0.0.1:0").withheld


# --- digits, and no number -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "number"),
    [
        ("*67", "*67"),
        ("1001#", "1001#"),
        ("*8#2001", "*8#2001"),
        ("+1 (650) 450-8810", "+16504508810"),
    ],
)
def test_star_and_hash_are_digits_and_separators_are_dropped(raw: str, number: str) -> None:
    """`*` and `#` stay in the number; spaces, dashes, dots and brackets go."""
    assert number_of(raw) == number


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "anonymous",
        "Anonymous",
        "PRIVATE",
        "restricted",
        "unknown",
        "<unknown>",
        "unavailable",
        "sip:anonymous@anonymous.invalid",
        '"Anonymous" <sip:anonymous@anonymous.invalid>',
        "N<anonymous>",
        "N<>",
    ],
)
def test_empty_private_and_restricted_callers_have_no_number(raw: str) -> None:
    """A withheld or missing caller is no number and no display, never a searchable string."""
    assert read_device(raw) == DeviceNumber("", "", withheld=True)


@pytest.mark.parametrize("raw", ["Support", "T5061#2", "+", "12345678901234567890123456789012345"])
def test_other_identifiers_are_shown_but_have_no_number(raw: str) -> None:
    """A name, a trunk tag, a lone plus or an overlong string is never a number."""
    read = read_device(raw)
    assert read.number == "" and not read.withheld and read.display


# --- correlatorData --------------------------------------------------------------------------
def test_ivr_entries_as_text_are_ivr_data() -> None:
    """`Object.Field=value` entries separated by `|` are IVR entries, nothing left over."""
    assert read_call_data("Case.CaseNumber=00001027|Account.AccountNumber=A-9") == (
        ("Case.CaseNumber=00001027", "Account.AccountNumber=A-9"),
        "",
    )


def test_ivr_entries_as_hex_are_ivr_data() -> None:
    """The same entries hex encoded (as some switches send any correlatorData) decode to IVR."""
    raw = b"Case.CaseNumber=00001027".hex().upper()
    assert read_call_data(raw) == (("Case.CaseNumber=00001027",), "")


def test_hex_that_is_not_ivr_data_is_call_data_never_digits() -> None:
    """OpenScape's hex NENA call id, even split over lines, is call data, decoded; no IVR."""
    spread = "\n".join([*NENA_HEX[:6], NENA_HEX[6:]])
    entries, data = read_call_data(spread)
    assert entries == ()
    assert data == "urn:nena:uid:callid:BTOCiljs24M.osvc"


def test_binary_correlator_data_is_kept_as_its_hex() -> None:
    """Bytes that are not text stay as the hex they came as, for the log."""
    assert read_call_data("00FF10") == ((), "00FF10")


def test_mixed_correlator_data_keeps_both_parts() -> None:
    """An IVR entry beside other data: the entry is IVR, the rest is call data."""
    assert read_call_data("Case.CaseNumber=1|tag=7|x") == (("Case.CaseNumber=1",), "tag=7 | x")


def test_call_data_reaches_the_task_description_and_survives_the_store() -> None:
    """Non-IVR call data is written in the Task's Description and kept in the stored log."""
    log = CallLog("c1", "1001", Direction.INBOUND, False, "+16504508810", 0.0, queue="Support")
    log = replace(log, call_data="urn:nena:uid:callid:BTOC")
    assert description(log) == "Queue: Support\n\nCall data: urn:nena:uid:callid:BTOC"
    assert log_from_dict(log_to_dict(log)).call_data == log.call_data


def test_a_bridge_event_gets_numbers_for_its_identifiers() -> None:
    """A bridge's raw ANI, DNIS and parties become numbers; a clean event is left as it is."""
    raw = CallEvent(
        kind="delivered",
        call_id="c1",
        agent="1001",
        ani="6504508810:CM1:10.0.0.1:0",
        dnis="tel:+1-800-555-0100",
        parties=(Party(number="anonymous"), Party(number="sip:alice@example.com")),
    )
    read = with_numbers(raw)
    assert (read.ani, read.dnis) == ("6504508810", "+18005550100")
    assert [p.number for p in read.parties] == ["", "alice@example.com"]
    clean = CallEvent(kind="delivered", call_id="c2", agent="1001", ani="+16504508810")
    assert with_numbers(clean) is clean
