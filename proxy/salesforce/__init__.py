"""Salesforce access, chosen by SOFTPHONE_SALESFORCE_URL.

`standin://` is the embedded demo org, an org's `https://` URL is the real thing, and
`browser://` means no integration user: the agents' browsers search in their own sessions.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING

from proxy.salesforce.base import ObjectDescription, Record, SalesforceApi
from proxy.seams import SchemeRegistry
from proxy.settings import Settings

if TYPE_CHECKING:
    from proxy.salesforce.standin.org import StandinOrg

SALESFORCE = SchemeRegistry(
    "Salesforce",
    "SOFTPHONE_SALESFORCE_URL",
    {
        "standin": "proxy.salesforce.openers:open_standin",
        "https": "proxy.salesforce.openers:open_org",
        "browser": "proxy.salesforce.openers:open_browser_only",
    },
)


def open_salesforce(
    settings: Settings, org: StandinOrg | None = None
) -> AbstractAsyncContextManager[SalesforceApi | None]:
    """The async context manager that yields the configured org's API, or None (`browser://`)."""
    opener = SALESFORCE.load(settings.salesforce_url)
    context: AbstractAsyncContextManager[SalesforceApi | None] = opener(settings, org)
    return context


__all__ = [
    "SALESFORCE",
    "ObjectDescription",
    "Record",
    "SalesforceApi",
    "open_salesforce",
]
