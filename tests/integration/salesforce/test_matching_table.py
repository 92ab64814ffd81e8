"""Screen-pop matching, case by case, through the real client against the stand-in org.

Each row: what rings (caller ID, dialled number, IVR data), the pop settings, and the pop an
agent must see. Then the API calls each kind of caller costs.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import pytest_asyncio

from proxy.salesforce import SalesforceApi, open_salesforce
from proxy.salesforce.lookup import RecordMatcher
from proxy.salesforce.standin.org import StandinOrg, demo_org, demo_user_id
from proxy.settings import Settings
from softphone.calls import Call
from softphone.events import CallState, Direction
from softphone.matching import MatchSettings

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def org_api() -> AsyncIterator[tuple[StandinOrg, SalesforceApi]]:
    org = demo_org()
    # Shares Contoso's number and is newer; owned by another user than Contoso.
    org.insert(
        "Contact",
        {
            "FirstName": "Zoe",
            "LastName": "Park",
            "Phone": "(415) 555-0100",
            "OwnerId": demo_user_id(3),
            "LastModifiedDate": "2026-11-30T00:00:00+00:00",
        },
    )
    async with open_salesforce(Settings(salesforce_url="standin://"), org) as api:
        assert api is not None
        yield org, api


@dataclass(frozen=True)
class Case:
    name: str
    ani: str = ""
    ivr: tuple[str, ...] = ()
    dnis: str = ""
    settings: dict[str, Any] = field(default_factory=dict)
    owner: str = ""
    kind: str = "record"
    rule: str = "ani"
    names: tuple[str, ...] = ()
    phone: str = ""  # the new Contact's pre-filled Phone


MARIA = ("Maria Chen",)
CASES = [
    # Caller ID in every format, against numbers stored in every format.
    Case("e164", "+16504508810", names=MARIA),
    Case("national digits", "6504508810", names=MARIA),
    Case("national formatted", "(650) 450-8810", names=MARIA),
    Case("dotted", "650.450.8810", names=MARIA),
    Case("spaced with 1", "1 650 450 8810", names=MARIA),
    Case("dashed international", "+1-650-450-8810", names=MARIA),
    Case("leading 1 no plus", "16504508810", names=MARIA),
    Case("stored dotted", "+16504508811", names=("James Okafor",)),
    Case("stored spaced", "+16504508812", names=("Priya Raman",)),
    Case("stored with x extension", "+16504508813", names=("Tomas Lindqvist",)),
    Case("stored as e164", "+16504508814", names=("Aiko Tanaka",)),
    Case("stored with leading 1", "+16504508815", names=("Luis Fernandez",)),
    Case("stored with ext. extension", "+14155550132", names=("Noah Williams",)),
    Case("stored dashed international", "+14155550191", names=("Hannah Schmidt",)),
    Case("international e164 stored", "+442079460958", names=("Olivia Brown",)),
    Case(
        "stored with national 0",
        "+442079460959",
        settings={"region": "GB"},
        names=("Ethan Murphy",),
    ),
    Case(
        "caller with national 0",
        "020 7946 0959",
        settings={"region": "GB"},
        names=("Ethan Murphy",),
    ),
    Case("germany", "+493090182201", names=("Lucas Meyer",)),
    Case("france", "+33142685301", names=("Emma Dubois",)),
    Case("lead", "+14085550201", names=("Ava Nguyen",)),
    Case("lead with extension", "+14085550210", names=("Jack Thompson",)),
    # Shared numbers: every match, the agent's own first, then the most recently modified.
    Case("shared, newest first", "+16504508800", names=("Ana Silva", "Northwind Traders")),
    Case("shared, newest first 2", "+14155550100", names=("Zoe Park", "Contoso Pharmaceuticals")),
    Case(
        "shared, owned first",
        "+14155550100",
        owner=demo_user_id(2),
        names=("Contoso Pharmaceuticals", "Zoe Park"),
    ),
    # Which objects caller ID searches.
    Case(
        "accounts only",
        "+16504508800",
        settings={"phone_objects": ("Account",)},
        names=("Northwind Traders",),
    ),
    Case(
        "leads only misses a contact",
        "+16504508810",
        settings={"phone_objects": ("Lead",)},
        kind="new_record",
        rule="new_contact",
        phone="+1 650-450-8810",
    ),
    Case(
        "contacts only misses a lead",
        "+14085550201",
        settings={"phone_objects": ("Contact",)},
        kind="new_record",
        rule="new_contact",
        phone="+1 408-555-0201",
    ),
    # No match, no number, extensions, near misses.
    Case(
        "unknown caller",
        "+14155550000",
        kind="new_record",
        rule="new_contact",
        phone="+1 415-555-0000",
    ),
    Case(
        "one digit off",
        "+16504508819",
        kind="new_record",
        rule="new_contact",
        phone="+1 650-450-8819",
    ),
    Case(
        "same last seven, other area",
        "+13104508810",
        kind="new_record",
        rule="new_contact",
        phone="+1 310-450-8810",
    ),
    Case("withheld", "", kind="none", rule=""),
    Case("anonymous", "anonymous", kind="none", rule=""),
    Case("internal extension", "2001", kind="none", rule=""),
    # IVR data.
    Case("ivr exact", ivr=("Case.CaseNumber=00001027",), rule="ivr", names=("00001027",)),
    Case(
        "ivr start with",
        ivr=("Case.CaseNumber=0000102",),
        settings={"ivr_start_with": True},
        rule="ivr",
        names=tuple(f"0000{n}" for n in range(1020, 1030)),
    ),
    Case("ivr exact needs whole value", ivr=("Case.CaseNumber=0000102",), kind="none", rule=""),
    Case(
        "several ivr entries",
        ivr=("Case.CaseNumber=99999999", "Case.CaseNumber=00001030"),
        rule="ivr",
        names=("00001030",),
    ),
    Case("ivr unknown object", ivr=("Bogus__c.Number__c=1",), kind="none", rule=""),
    Case("ivr unknown field", ivr=("Case.Bogus__c=1",), kind="none", rule=""),
    Case("ivr non-filterable field", ivr=("Case.Description=broken",), kind="none", rule=""),
    Case("ivr malformed", ivr=("CaseNumber=00001027",), kind="none", rule=""),
    Case(
        "ivr quote injection",
        ivr=("Case.CaseNumber=1' OR CaseNumber LIKE '%",),
        kind="none",
        rule="",
    ),
    Case(
        "ivr wildcard injection",
        ivr=("Case.CaseNumber=%",),
        settings={"ivr_start_with": True},
        kind="none",
        rule="",
    ),
    Case("ivr backslash injection", ivr=("Case.CaseNumber=\\' OR Id != '",), kind="none", rule=""),
    # SOSL injection through caller ID: braces and backslashes never reach the query.
    Case("sosl brace injection", "6504508810} RETURNING User(Id", names=MARIA),
    Case("sosl backslash", "650\\450\\8810", names=MARIA),
    # Pop order.
    Case("caller id before ivr", "+16504508810", ivr=("Case.CaseNumber=00001027",), names=MARIA),
    Case(
        "ivr first when ordered",
        "+16504508810",
        ivr=("Case.CaseNumber=00001027",),
        settings={"pop_order": ("ivr", "ani", "new_contact")},
        rule="ivr",
        names=("00001027",),
    ),
    Case(
        "ani in do-not-pop bucket",
        "+16504508810",
        settings={"pop_order": ("ivr", "new_contact")},
        kind="new_record",
        rule="new_contact",
        phone="+1 650-450-8810",
    ),
    Case(
        "no new contact when bucketed",
        "+14155550000",
        settings={"pop_order": ("ani",)},
        kind="none",
        rule="",
    ),
    Case(
        "unknown caller falls to ivr",
        "+14155550000",
        ivr=("Case.CaseNumber=00001027",),
        rule="ivr",
        names=("00001027",),
    ),
    # Dialled number to campaign.
    Case(
        "dnis by campaign phone field",
        dnis="8005550100",
        settings={"campaign_phone_field": "Phone__c"},
        rule="dnis",
        names=("Spring Renewal 2026",),
    ),
    Case(
        "dnis by admin mapping",
        dnis="800-555-0101",
        settings={"dnis_campaigns": {"8005550101": "701Dm0000000002AAA"}},
        rule="dnis",
        names=("Campaign 800-555-0101",),
    ),
    Case(
        "dnis unknown",
        dnis="8005559999",
        settings={"campaign_phone_field": "Phone__c"},
        kind="none",
        rule="",
    ),
    Case(
        "caller id before campaign",
        "+16504508810",
        dnis="8005550100",
        settings={"campaign_phone_field": "Phone__c"},
        names=MARIA,
    ),
]


def ringing(case: Case) -> Call:
    return Call(
        "c1",
        "1001",
        Direction.INBOUND,
        CallState.RINGING,
        ani=case.ani,
        dnis=case.dnis,
        ivr=case.ivr,
    )


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_pop(case: Case, org_api: tuple[StandinOrg, SalesforceApi]) -> None:
    """The pop an agent sees for this call and these settings."""
    _, api = org_api
    matcher = RecordMatcher(api, cache_seconds=0)
    pop = await matcher.match(ringing(case), MatchSettings(**case.settings), case.owner)
    assert (pop.kind, pop.rule) == (case.kind, case.rule)
    assert tuple(m.name for m in pop.matches) == case.names
    if case.phone:
        assert pop.object == "Contact" and pop.defaults == {"Phone": case.phone}


async def test_table_is_large_enough() -> None:
    """The issue asks for at least 40 cases."""
    assert len(CASES) >= 40


async def calls_spent(org: StandinOrg, work: Any) -> int:
    before = org.api_calls
    await work
    return org.api_calls - before


async def test_new_caller_costs_one_call_repeat_costs_none(
    org_api: tuple[StandinOrg, SalesforceApi],
) -> None:
    """A new caller is one SOSL request; the same caller again within the TTL is free."""
    org, api = org_api
    matcher = RecordMatcher(api, cache_seconds=300)
    await matcher.warm_up()
    call = ringing(Case("", "+16504508811"))
    assert await calls_spent(org, matcher.match(call, MatchSettings())) == 1
    assert await calls_spent(org, matcher.match(call, MatchSettings())) == 0


async def test_twenty_simultaneous_calls_from_one_number_cost_one_call(
    org_api: tuple[StandinOrg, SalesforceApi],
) -> None:
    """Identical lookups in flight share one request."""
    org, api = org_api
    matcher = RecordMatcher(api, cache_seconds=300)
    await matcher.warm_up()
    work = asyncio.gather(
        *(matcher.match(ringing(Case("", "+16504508812")), MatchSettings()) for _ in range(20))
    )
    assert await calls_spent(org, work) == 1


async def test_caller_id_campaign_and_ivr_together_cost_one_call(
    org_api: tuple[StandinOrg, SalesforceApi],
) -> None:
    """An unknown caller with a campaign number and IVR data: one composite request."""
    org, api = org_api
    matcher = RecordMatcher(api, cache_seconds=300)
    await matcher.warm_up()
    await matcher.match(ringing(Case("", ivr=("Case.CaseNumber=1",))), MatchSettings())
    call = ringing(Case("", "+14155550077", ivr=("Case.CaseNumber=00001027",), dnis="8005559999"))
    settings = MatchSettings(campaign_phone_field="Phone__c")
    before = org.api_calls
    pop = await matcher.match(call, settings)
    assert org.api_calls - before == 1
    assert pop.rule == "ivr"


async def test_unknown_ivr_object_costs_no_call_after_start(
    org_api: tuple[StandinOrg, SalesforceApi],
) -> None:
    """With the object list fetched at start, an unknown IVR object costs nothing."""
    org, api = org_api
    matcher = RecordMatcher(api, cache_seconds=300)
    await matcher.warm_up()
    call = ringing(Case("", ivr=("Bogus__c.Number__c=1",)))
    assert await calls_spent(org, matcher.match(call, MatchSettings())) == 0


async def test_below_budget_floor_the_page_searches(
    org_api: tuple[StandinOrg, SalesforceApi],
) -> None:
    """Once fewer calls are left than the floor, the server stops searching: a search pop."""
    org, api = org_api
    matcher = RecordMatcher(api, cache_seconds=0, budget_floor=org.api_limit)
    await matcher.warm_up()  # reads the usage header: limit - used < floor
    call = ringing(Case("", "+16504508810"))
    before = org.api_calls
    pop = await matcher.match(call, MatchSettings())
    assert (pop.kind, pop.search) == ("search", "+1 650-450-8810")
    assert org.api_calls == before


async def test_without_integration_user_every_pop_is_a_browser_search() -> None:
    """`browser://`: no API at all, the page searches the caller's number itself."""
    async with open_salesforce(Settings(salesforce_url="browser://")) as api:
        matcher = RecordMatcher(api, cache_seconds=0)
        pop = await matcher.match(ringing(Case("", "6504508810")), MatchSettings(pop_at="answer"))
    assert (pop.kind, pop.search, pop.when) == ("search", "+1 650-450-8810", "answer")


async def test_pop_at_answer_is_carried_on_the_pop(
    org_api: tuple[StandinOrg, SalesforceApi],
) -> None:
    """An agent who pops at answer gets the pop marked for answer, so the page waits."""
    _, api = org_api
    pop = await RecordMatcher(api, cache_seconds=0).match(
        ringing(Case("", "+16504508810")), MatchSettings(pop_at="answer")
    )
    assert (pop.kind, pop.when) == ("record", "answer")
