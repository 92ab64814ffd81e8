"""IVR entries are read strictly and every value reaches SOQL/SOSL escaped."""

from __future__ import annotations

import pytest

from softphone.errors import InvalidIvrTag
from softphone.ivr import IvrEntry, parse_ivr
from softphone.soql import (
    escape_soql,
    escape_soql_like,
    escape_sosl,
    soql_field_equals,
    soql_field_in,
    sosl_phone_search,
)


def test_parse_standard_and_custom_names() -> None:
    """Standard and custom (__c) objects and fields are accepted, value trimmed."""
    assert parse_ivr("Case.CaseNumber=00001027") == IvrEntry(
        object="Case", field="CaseNumber", value="00001027"
    )
    assert parse_ivr(" Order__c.Ref_Id__c = 77 ").field == "Ref_Id__c"


@pytest.mark.parametrize(
    "tag",
    [
        "Case.CaseNumber",
        "CaseNumber=1",
        "Case.=1",
        ".CaseNumber=1",
        "Case.CaseNumber=",
        "Case;DROP.x=1",
        "Case.Case Number=1",
        "1Case.CaseNumber=1",
        "Case.Name) OR (Id=1",
        "Case.CaseNumber=" + "9" * 81,
    ],
)
def test_malformed_entries_are_refused_with_reason(tag: str) -> None:
    """Anything that is not Object.Field=value with API names is refused before any query."""
    with pytest.raises(InvalidIvrTag):
        parse_ivr(tag)


def test_soql_escaping_neutralises_quotes_and_backslashes() -> None:
    """A quote cannot end the literal and a backslash cannot escape the closing quote."""
    assert escape_soql("1' OR Name LIKE '%") == "1\\' OR Name LIKE \\'%"
    assert escape_soql("a\\") == "a\\\\"
    assert escape_soql("line\nbreak") == "line\\nbreak"
    assert escape_soql_like("50%_off") == "50\\%\\_off"


def test_sosl_escaping_covers_every_reserved_character() -> None:
    """Each SOSL reserved character gets a backslash; digits and letters do not."""
    reserved = "?&|!{}[]()^~*:\\\"'+-"
    assert escape_sosl(reserved) == "".join("\\" + c for c in reserved)
    assert escape_sosl("6504508810") == "6504508810"


def test_soql_builder_exact_and_start_with() -> None:
    """The builder makes an exact or start-with query with the value escaped."""
    exact = soql_field_equals(
        "Case", ("Id", "CaseNumber"), "CaseNumber", "1' OR '1'='1", start_with=False, limit=10
    )
    assert exact == (
        "SELECT Id, CaseNumber FROM Case WHERE CaseNumber = '1\\' OR \\'1\\'=\\'1' LIMIT 10"
    )
    prefix = soql_field_equals("Case", ("Id",), "CaseNumber", "0000_", start_with=True, limit=5)
    assert prefix == "SELECT Id FROM Case WHERE CaseNumber LIKE '0000\\_%' LIMIT 5"


def test_builders_refuse_names_that_are_not_api_names() -> None:
    """Object and field names are never interpolated unchecked."""
    with pytest.raises(ValueError, match="not a Salesforce API name"):
        soql_field_equals("Case WHERE", ("Id",), "X", "1", start_with=False, limit=1)
    with pytest.raises(ValueError, match="not a Salesforce API name"):
        sosl_phone_search(("1",), {"Contact(Id)": ("Id",)})


def test_sosl_phone_search_shape() -> None:
    """One request: all variants ORed, every object with its fields."""
    sosl = sosl_phone_search(
        ("16504508810", "6504508810"), {"Contact": ("Id", "Name"), "Lead": ("Id",)}
    )
    assert sosl == (
        'FIND {"16504508810" OR "6504508810"} IN PHONE FIELDS RETURNING Contact(Id, Name), Lead(Id)'
    )


def test_field_in_splits_long_lists_and_escapes_each_value() -> None:
    """Hundreds of values become several queries, each WHERE short enough for Salesforce,
    with every value escaped and none lost."""
    values = [f"call-{n:04d}@10'01" for n in range(300)]
    queries = soql_field_in("Task", ("Id", "CallObject"), "CallObject", values)
    assert len(queries) > 1
    assert all(len(q.split(" WHERE ", 1)[1]) < 4000 for q in queries)
    assert all(
        q.startswith("SELECT Id, CallObject FROM Task WHERE CallObject IN (") for q in queries
    )
    joined = "".join(queries)
    assert all(f"'call-{n:04d}@10\\'01'" in joined for n in range(300))
    with pytest.raises(ValueError):
        soql_field_in("Task", ("Id",), "Call Object", ["x"])
