"""The stand-in org over HTTPS, for the Salesforce client and Task writer tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from proxy.salesforce.standin.org import demo_org
from proxy.salesforce.standin.server import StandinServer


@pytest.fixture
async def standin() -> AsyncIterator[StandinServer]:
    async with StandinServer(demo_org()) as server:
        yield server
