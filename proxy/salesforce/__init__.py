"""Salesforce access, chosen by SOFTPHONE_SALESFORCE_URL: `standin://` or an org's https URL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from urllib.parse import urlsplit

from simple_salesforce.api import Salesforce

from proxy.registry import SchemeRegistry
from proxy.salesforce.base import ObjectDescription, Record, SalesforceApi
from proxy.salesforce.client import SimpleSalesforceApi, http_session
from proxy.salesforce.standin.org import StandinOrg, demo_org
from proxy.salesforce.standin.server import StandinServer
from proxy.settings import Settings

SALESFORCE = SchemeRegistry(
    "Salesforce",
    "SOFTPHONE_SALESFORCE_URL",
    {"standin": "proxy.salesforce:open_standin", "https": "proxy.salesforce:open_org"},
)


@asynccontextmanager
async def open_standin(
    settings: Settings, org: StandinOrg | None = None
) -> AsyncIterator[SalesforceApi]:
    """Start the embedded stand-in org and reach it through the real simple-salesforce client."""
    async with StandinServer(org if org is not None else demo_org()) as server:
        session = http_session(settings.salesforce_timeout_seconds, ca_file=server.ca_file)
        sf = Salesforce(
            instance_url=server.instance_url,
            session_id=server.session_id,
            version=settings.salesforce_api_version,
            session=session,
        )
        try:
            yield SimpleSalesforceApi(sf)
        finally:
            # Idle keep-alive connections would otherwise hold the stand-in's shutdown open.
            session.close()


@asynccontextmanager
async def open_org(
    settings: Settings, org: StandinOrg | None = None
) -> AsyncIterator[SalesforceApi]:
    """A real org: session id + instance URL, or username + password + security token.

    JWT bearer and client-credentials sign-in are not built yet.
    """
    session = http_session(settings.salesforce_timeout_seconds)
    version = settings.salesforce_api_version
    if settings.salesforce_session_id.get_secret_value():
        sf = Salesforce(
            instance_url=settings.salesforce_url,
            session_id=settings.salesforce_session_id.get_secret_value(),
            version=version,
            session=session,
        )
    elif settings.salesforce_username:
        sf = Salesforce(
            username=settings.salesforce_username,
            password=settings.salesforce_password.get_secret_value(),
            security_token=settings.salesforce_security_token.get_secret_value(),
            # SOAP sign-in goes to the org's My Domain: acme.my.salesforce.com -> "acme.my".
            domain=(urlsplit(settings.salesforce_url).hostname or "login").removesuffix(
                ".salesforce.com"
            ),
            version=version,
            session=session,
        )
    else:
        raise ValueError(
            "SOFTPHONE_SALESFORCE_URL is an org: set SOFTPHONE_SALESFORCE_SESSION_ID, or "
            "SOFTPHONE_SALESFORCE_USERNAME with _PASSWORD and _SECURITY_TOKEN"
        )
    try:
        yield SimpleSalesforceApi(sf)
    finally:
        session.close()


def open_salesforce(
    settings: Settings, org: StandinOrg | None = None
) -> AbstractAsyncContextManager[SalesforceApi]:
    """The async context manager that yields a `SalesforceApi` for the configured org."""
    opener = SALESFORCE.load(settings.salesforce_url)
    context: AbstractAsyncContextManager[SalesforceApi] = opener(settings, org)
    return context


__all__ = [
    "SALESFORCE",
    "ObjectDescription",
    "Record",
    "SalesforceApi",
    "StandinOrg",
    "open_salesforce",
]
