"""The demo org's data and schema: who calls, and which of their records pop."""

from __future__ import annotations

import base64
import hashlib
import itertools
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from proxy.salesforce.standin.telephony import StandinTelephony
from softphone.phone import same_number

Record = dict[str, Any]

KEY_PREFIXES = {
    "Account": "001",
    "Contact": "003",
    "Lead": "00Q",
    "Case": "500",
    "Campaign": "701",
    "Task": "00T",
    "Contract": "800",
}


@dataclass(frozen=True)
class FieldSchema:
    type: str
    filterable: bool = True
    name_field: bool = False


def _schema(name_field: str, **fields: str) -> dict[str, FieldSchema]:
    schema = {"Id": FieldSchema("id"), "LastModifiedDate": FieldSchema("datetime")}
    for name, kind in fields.items():
        # Long text areas cannot filter in Salesforce either; the matcher must notice.
        schema[name] = FieldSchema(
            kind, filterable=kind != "textarea", name_field=name == name_field
        )
    return schema


SCHEMA: dict[str, dict[str, FieldSchema]] = {
    "Account": _schema(
        "Name", Name="string", Phone="phone", OwnerId="reference", Description="textarea"
    ),
    "Contact": _schema(
        "Name",
        Name="string",
        FirstName="string",
        LastName="string",
        Phone="phone",
        MobilePhone="phone",
        HomePhone="phone",
        OtherPhone="phone",
        Email="email",
        Title="string",
        AccountId="reference",
        OwnerId="reference",
        Description="textarea",
    ),
    "Lead": _schema(
        "Name",
        Name="string",
        FirstName="string",
        LastName="string",
        Company="string",
        Phone="phone",
        MobilePhone="phone",
        Status="picklist",
        OwnerId="reference",
    ),
    "Case": _schema(
        "CaseNumber",
        CaseNumber="string",
        Subject="string",
        Status="picklist",
        ContactId="reference",
        AccountId="reference",
        Description="textarea",
    ),
    "Campaign": _schema(
        "Name", Name="string", Phone__c="phone", Status="picklist", OwnerId="reference"
    ),
    "Contract": _schema("ContractNumber", ContractNumber="string", AccountId="reference"),
    "Task": _schema(
        "Subject",
        Subject="string",
        Status="picklist",
        ActivityDate="date",
        CallType="picklist",
        CallDurationInSeconds="int",
        CallObject="string",
        CallDisposition="string",
        Description="textarea",
        WhoId="reference",
        WhatId="reference",
        TaskSubtype="picklist",
        OwnerId="reference",
        # A custom external id field an admin may create for idempotent upserts.
        Softphone_Call_Id__c="string",
    ),
}

_ACCOUNTS = [
    ("Northwind Traders", "(650) 450-8800"),
    ("Contoso Pharmaceuticals", "415.555.0100"),
    ("Fabrikam Energy", "+1 212 555 0147"),
    ("Tailspin Toys", "312-555-0199"),
    ("Wingtip Outfitters", "+44 20 7946 0000"),
    ("Adatum Insurance", "(206) 555-0110"),
    ("Litware Logistics", "+49 30 901820"),
    ("Proseware Health", "617 555 0123"),
    ("Lucerne Publishing", "+33 1 42 68 53 00"),
    ("Alpine Ski House", "(303) 555-0177"),
]
# Phones are stored the way people type them: the matcher must find them all.
_CONTACTS = [
    ("Maria", "Chen", "(650) 450-8810", 0),
    ("James", "Okafor", "650.450.8811", 0),
    ("Priya", "Raman", "+1 650 450 8812", 1),
    ("Tomas", "Lindqvist", "650-450-8813 x204", 1),
    ("Aiko", "Tanaka", "+16504508814", 2),
    ("Luis", "Fernandez", "1 (650) 450-8815", 2),
    ("Fatima", "Haddad", "(415) 555-0131", 3),
    ("Noah", "Williams", "415 555 0132 ext. 7", 3),
    ("Olivia", "Brown", "+44 20 7946 0958", 4),
    ("Ethan", "Murphy", "020 7946 0959", 4),
    ("Sofia", "Rossi", "(206) 555-0141", 5),
    ("Lucas", "Meyer", "+49 30 9018 2201", 6),
    ("Emma", "Dubois", "+33 1 42 68 53 01", 8),
    ("Liam", "Walsh", "617.555.0151", 7),
    ("Chloe", "Martin", "(303) 555-0161", 9),
    ("Mateo", "Garcia", "303-555-0162", 9),
    ("Grace", "Kim", "(212) 555-0171", 2),
    ("Daniel", "Cohen", "312 555 0181", 3),
    ("Hannah", "Schmidt", "+1-415-555-0191", 1),
    ("Yusuf", "Demir", "(650) 555-0101", 0),
    ("Isabel", "Santos", "650 555 0102", 5),
    ("Kenji", "Sato", "+1 (650) 555-0103", 6),
    # Shares Northwind's main number: a shared number pops every match, ranked.
    ("Ana", "Silva", "650-450-8800", 0),
]
_LEADS = [
    ("Ava", "Nguyen", "Blue Yonder Airlines", "(408) 555-0201"),
    ("Ben", "Carter", "Coho Winery", "408.555.0202"),
    ("Clara", "Novak", "Humongous Insurance", "+1 408 555 0203"),
    ("Diego", "Alvarez", "Margie's Travel", "408-555-0204"),
    ("Elif", "Yilmaz", "Trey Research", "(408) 555-0205"),
    ("Felix", "Braun", "Woodgrove Bank", "+49 89 555 0206"),
    ("Gina", "Russo", "Relecloud", "408 555 0207"),
    ("Hugo", "Lefevre", "VanArsdel", "+33 4 55 55 02 08"),
    ("Ines", "Costa", "Southridge Video", "(408) 555-0209"),
    ("Jack", "Thompson", "Fourth Coffee", "408.555.0210 x3"),
]
_CAMPAIGNS = [
    ("Spring Renewal 2026", "8005550100"),
    ("Premium Support Line", "8005550101"),
    ("Winter Promotion", "8005550102"),
]
_CASE_SUBJECTS = [
    "Invoice shows the wrong amount",
    "Cannot sign in to the portal",
    "Delivery arrived damaged",
    "Request for a refund",
    "Update billing address",
    "Service outage in region",
    "Upgrade to premium plan",
    "Warranty claim",
    "Password reset not received",
    "Question about contract terms",
    "Device will not power on",
    "Cancel subscription",
]


@dataclass(frozen=True)
class SignInCode:
    """What an authorization code was issued for."""

    user_id: str
    client_id: str
    redirect_uri: str
    challenge: str


def pkce_challenge(verifier: str) -> str:
    """The S256 code challenge of a PKCE verifier (RFC 7636)."""
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@dataclass
class StandinOrg:
    """A tiny org: records, who may sign in, the API calls served, and faults to inject.

    Tests and the demo change its behaviour directly: `expire_sessions()` forces re-login,
    `fail_next(500)` makes the next API call fail, `latency_seconds` slows every API call, and
    `api_limit` is the daily budget (`REQUEST_LIMIT_EXCEEDED` once it is spent), and
    `refuse_record(...)` makes the next write of one record fail on its own.
    """

    records: dict[str, list[Record]] = field(default_factory=dict)
    api_calls: int = 0
    api_limit: int = 15_000
    latency_seconds: float = 0.0
    # OAuth clients: client credentials, username-password and (with a public key) JWT bearer.
    consumer_key: str = "standin-consumer-key"
    consumer_secret: str = "standin-consumer-secret"  # noqa: S105 - the stand-in's own demo secret
    username: str = "integration@standin.example"
    password: str = "standin-password"  # noqa: S105 - password + security token, as Salesforce takes it
    jwt_public_key: str = ""
    sessions: set[str] = field(default_factory=set)
    logins: int = 0
    failures: list[int] = field(default_factory=list)
    # "Sign in with Salesforce" (web server flow + PKCE): the org's users by id (name, email),
    # codes not yet redeemed and the users' own access tokens (good for userinfo only).
    users: dict[str, tuple[str, str]] = field(default_factory=dict)
    codes: dict[str, SignInCode] = field(default_factory=dict)
    user_sessions: dict[str, str] = field(default_factory=dict)
    # Per-record refusals to come: (field, value, error code, message), each used once.
    record_refusals: list[tuple[str, Any, str, str]] = field(default_factory=list)
    # Where the org is served (set by StandinServer) and the CA that its certificate chains to.
    instance_url: str = ""
    ca_file: str = ""
    # Salesforce Voice: the contact center and the VoiceCalls the Telephony Integration API has.
    telephony: StandinTelephony = field(default_factory=StandinTelephony)
    _ids: dict[str, itertools.count[int]] = field(default_factory=dict)

    def new_session(self) -> str:
        token = secrets.token_urlsafe(24)
        self.sessions.add(token)
        self.logins += 1
        return token

    def new_code(self, user_id: str, client_id: str, redirect_uri: str, challenge: str) -> str:
        """An authorization code for `user_id`, redeemable once with the PKCE verifier."""
        code = secrets.token_urlsafe(24)
        self.codes[code] = SignInCode(user_id, client_id, redirect_uri, challenge)
        return code

    def redeem(self, code: str, client_id: str, redirect_uri: str, verifier: str) -> str | None:
        """The user's access token for a valid code and verifier, else None; codes work once."""
        issued = self.codes.pop(code, None)
        if issued is None or (issued.client_id, issued.redirect_uri) != (client_id, redirect_uri):
            return None
        if not secrets.compare_digest(pkce_challenge(verifier), issued.challenge):
            return None
        token = secrets.token_urlsafe(24)
        self.user_sessions[token] = issued.user_id
        return token

    def expire_sessions(self) -> None:
        """Every session ends now, as when Salesforce times out the integration user's session."""
        self.sessions.clear()

    def fail_next(self, *statuses: int) -> None:
        """The next API calls answer with these HTTP statuses (500, 503, ...), in order."""
        self.failures.extend(statuses)

    def refuse_record(self, field_name: str, value: Any, code: str, message: str) -> None:
        """The next write of a record whose `field_name` is `value` fails with `code`, once:
        as a row lock (UNABLE_TO_LOCK_ROW) or a trigger's refusal fails one record of many."""
        self.record_refusals.append((field_name, value, code, message))

    def injected_refusal(self, values: Record) -> tuple[str, str, list[str]] | None:
        """The refusal `refuse_record` set up for these values (used up), else None."""
        for n, (name, value, code, message) in enumerate(self.record_refusals):
            if values.get(name) == value:
                del self.record_refusals[n]
                return code, message, []
        return None

    def new_id(self, obj: str) -> str:
        counter = self._ids.setdefault(obj, itertools.count(1))
        return f"{KEY_PREFIXES.get(obj, 'a00')}Dm{next(counter):010d}AAA"

    def insert(self, obj: str, values: Record) -> Record:
        record: Record = {"Id": self.new_id(obj), **values}
        record.setdefault("LastModifiedDate", datetime.now(UTC).isoformat())
        if obj in ("Contact", "Lead") and "Name" not in record:
            record["Name"] = f"{record.get('FirstName', '')} {record.get('LastName', '')}".strip()
        self.records.setdefault(obj, []).append(record)
        return record

    def find_by_phone(self, number: str) -> list[Record]:
        """Contacts, Accounts and Leads with this phone number, as our Apex class returns them."""
        return [
            {"object": obj, "id": r["Id"], "name": r.get("Name", "")}
            for obj in ("Contact", "Account", "Lead")
            for r in self.records.get(obj, [])
            if any(
                isinstance(r.get(f), str) and same_number(r[f], number, "US")
                for f, schema in SCHEMA[obj].items()
                if schema.type == "phone"
            )
        ]

    def tasks(self, call_object: str | None = None) -> list[Record]:
        """The Tasks logged so far, or those with this CallObject."""
        tasks = self.records.get("Task", [])
        return [t for t in tasks if call_object is None or t.get("CallObject") == call_object]

    def get(self, record_id: str) -> tuple[str, Record] | None:
        for obj, records in self.records.items():
            for record in records:
                if record["Id"] == record_id:
                    return obj, record
        return None


def demo_user_id(n: int) -> str:
    """The Salesforce user id of demo agent n (1001 is user 1)."""
    return f"005Dm{n:010d}AAA"


# The demo org's users: the five demo agents, then one who is on no softphone roster.
DEMO_USERS = ["Alex Morgan", "Sam Rivera", "Jordan Lee", "Taylor Kim", "Casey Novak", "Robin Park"]


def demo_org() -> StandinOrg:
    """The seeded demo org: 6 users, 10 Accounts, 23 Contacts, 10 Leads, 12 Cases, 3 Campaigns."""
    org = StandinOrg()
    for n, name in enumerate(DEMO_USERS, start=1):
        email = f"{name.lower().replace(' ', '.')}@standin.example"
        org.users[demo_user_id(n)] = (name, email)
    base = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
    stamp = (base + timedelta(hours=i) for i in itertools.count())
    accounts = [
        org.insert(
            "Account",
            {
                "Name": n,
                "Phone": p,
                "OwnerId": demo_user_id(1 + i % 5),
                "LastModifiedDate": next(stamp).isoformat(),
            },
        )
        for i, (n, p) in enumerate(_ACCOUNTS)
    ]
    contacts = [
        org.insert(
            "Contact",
            {
                "FirstName": first,
                "LastName": last,
                "Phone": phone,
                "Email": f"{first.lower()}.{last.lower()}@example.com",
                "AccountId": accounts[account]["Id"],
                "OwnerId": demo_user_id(1 + account % 5),
                "LastModifiedDate": next(stamp).isoformat(),
            },
        )
        for first, last, phone, account in _CONTACTS
    ]
    for first, last, company, phone in _LEADS:
        org.insert(
            "Lead",
            {
                "FirstName": first,
                "LastName": last,
                "Company": company,
                "Phone": phone,
                "Status": "Open - Not Contacted",
                "OwnerId": demo_user_id(2),
                "LastModifiedDate": next(stamp).isoformat(),
            },
        )
    for i, subject in enumerate(_CASE_SUBJECTS):
        contact = contacts[i % len(contacts)]
        org.insert(
            "Case",
            {
                "CaseNumber": f"{1020 + i:08d}",
                "Subject": subject,
                "Status": "New" if i % 3 else "Working",
                "ContactId": contact["Id"],
                "AccountId": contact["AccountId"],
                "LastModifiedDate": next(stamp).isoformat(),
            },
        )
    for name, phone in _CAMPAIGNS:
        org.insert("Campaign", {"Name": name, "Phone__c": phone, "Status": "In Progress"})
    return org
