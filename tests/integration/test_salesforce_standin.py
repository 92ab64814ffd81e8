"""The real simple-salesforce client against the stand-in over HTTPS, and the matcher on top."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from simple_salesforce.api import Salesforce

from proxy.errors import SalesforceError
from proxy.salesforce import SalesforceApi, open_salesforce
from proxy.salesforce.client import SimpleSalesforceApi, http_session
from proxy.salesforce.lookup import RecordMatcher
from proxy.salesforce.standin.org import StandinOrg, demo_org
from proxy.salesforce.standin.server import StandinServer
from proxy.settings import Settings
from softphone.calls import Call
from softphone.events import CallState, Direction
from softphone.matching import MatchSettings


@pytest.fixture
async def org_api() -> AsyncIterator[tuple[StandinOrg, SalesforceApi]]:
    org = demo_org()
    async with open_salesforce(Settings(salesforce_url="standin://"), org) as api:
        yield org, api


def ringing(ani: str = "", ivr: tuple[str, ...] = (), call_id: str = "c1") -> Call:
    return Call(call_id, "1001", Direction.INBOUND, CallState.RINGING, ani=ani, ivr=ivr)


async def test_unescaped_sosl_is_malformed_search(
    org_api: tuple[StandinOrg, SalesforceApi],
) -> None:
    """The stand-in refuses reserved characters as a real org does, so query bugs surface."""
    _, api = org_api
    with pytest.raises(SalesforceError) as refused:
        await api.search("FIND {650-450} IN PHONE FIELDS RETURNING Contact(Id)")
    assert refused.value.code == "MALFORMED_SEARCH"


async def test_usage_header_is_read_after_each_call(
    org_api: tuple[StandinOrg, SalesforceApi],
) -> None:
    """Sforce-Limit-Info reaches the client, so the API budget is known after any request."""
    org, api = org_api
    await api.object_names()
    assert api.api_usage == (1, org.api_limit)
    await api.describe("Case")
    assert api.api_usage == (2, org.api_limit)


async def test_describe_reports_filterable_fields_and_name_field(
    org_api: tuple[StandinOrg, SalesforceApi],
) -> None:
    """Describe gives the Case's name field and leaves long text out of the filterable set."""
    _, api = org_api
    case = await api.describe("Case")
    assert case.name_field == "CaseNumber"
    assert "CaseNumber" in case.filterable and "Description" not in case.filterable


async def test_twenty_simultaneous_calls_from_one_number_cost_one_search(
    org_api: tuple[StandinOrg, SalesforceApi],
) -> None:
    """Identical lookups in flight share one request: 20 ringing calls, 1 API call."""
    org, api = org_api
    matcher = RecordMatcher(api, MatchSettings(), cache_seconds=60)
    calls = [ringing("+16504508810", call_id=f"c{i}") for i in range(20)]
    pops = await asyncio.gather(*(matcher.match(c) for c in calls))
    assert {p.caller_name for p in pops} == {"Maria Chen"}
    assert org.api_calls == 1


async def test_non_filterable_ivr_field_costs_no_query(
    org_api: tuple[StandinOrg, SalesforceApi],
) -> None:
    """An IVR entry on a long text field is refused after describe, before any query is sent."""
    org, api = org_api
    matcher = RecordMatcher(api, MatchSettings(), cache_seconds=60)
    pop = await matcher.match(ringing(ivr=("Case.Description=broken",)))
    assert pop.kind == "none"
    assert org.api_calls == 2  # describe global + describe Case, both cached from now on
    await matcher.match(ringing(ivr=("Case.Description=again",), call_id="c2"))
    assert org.api_calls == 2


async def test_wrong_session_is_invalid_session_id() -> None:
    """A client with a session the org does not know gets INVALID_SESSION_ID, not data."""
    async with StandinServer(demo_org()) as server:
        session = http_session(5, ca_file=server.ca_file)
        sf = Salesforce(instance_url=server.instance_url, session_id="stolen", session=session)
        with pytest.raises(SalesforceError) as refused:
            await SimpleSalesforceApi(sf).query("SELECT Id FROM Case LIMIT 1")
        session.close()
    assert refused.value.code == "INVALID_SESSION_ID"
