"""The three ways to reach Salesforce, one per SOFTPHONE_SALESFORCE_URL scheme; loaded by scheme
from `proxy.salesforce.SALESFORCE`, so the stand-in org is imported only when it is used."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from proxy.salesforce.auth import OAuthSession, token_source
from proxy.salesforce.base import SalesforceApi
from proxy.salesforce.client import SimpleSalesforceApi, http_session
from proxy.salesforce.standin.org import StandinOrg, demo_org
from proxy.salesforce.standin.server import StandinServer
from proxy.settings import Settings


@asynccontextmanager
async def open_standin(
    settings: Settings, org: StandinOrg | None = None
) -> AsyncIterator[SalesforceApi | None]:
    """Start the embedded stand-in org and sign in to it as an integration user would.

    Client credentials against the stand-in's token endpoint, through the real
    simple-salesforce client: so session renewal runs in the demo exactly as against an org.
    """
    org = org if org is not None else demo_org()
    async with StandinServer(org) as server:
        http = http_session(settings.salesforce_timeout_seconds, ca_file=server.ca_file)
        form = {
            "grant_type": "client_credentials",
            "client_id": org.consumer_key,
            "client_secret": org.consumer_secret,
        }
        tokens = OAuthSession(
            "client credentials",
            f"{server.instance_url}/services/oauth2/token",
            lambda: form,
            http,
        )
        async with SimpleSalesforceApi(tokens, http, settings.salesforce_api_version) as api:
            yield api


@asynccontextmanager
async def open_org(
    settings: Settings, org: StandinOrg | None = None
) -> AsyncIterator[SalesforceApi | None]:
    """A real org at its My Domain URL, signed in as the settings say (see auth.py)."""
    http = http_session(settings.salesforce_timeout_seconds)
    tokens = token_source(settings, settings.salesforce_url, http)
    async with SimpleSalesforceApi(tokens, http, settings.salesforce_api_version) as api:
        yield api


@asynccontextmanager
async def open_browser_only(
    settings: Settings, org: StandinOrg | None = None
) -> AsyncIterator[SalesforceApi | None]:
    """No integration user: every pop is searched by the agent's browser."""
    yield None
