"""What the endpoints use: every piece the app factory built, in one typed object.

`proxy.app` builds a `Services` in its lifespan and hangs it on the app; handlers reach it with
`services_of(request)` (or a websocket), typed, instead of the untyped `app.state`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.requests import HTTPConnection

from proxy.agents.auth import Authenticator
from proxy.agents.desk import AgentDesk
from proxy.agents.journal import CallJournal
from proxy.agents.switchboard import Switchboard
from proxy.bus import EventBus
from proxy.settings import Settings
from proxy.store import Store
from proxy.store.retention import Retention
from proxy.web.metrics import Metrics

if TYPE_CHECKING:
    from proxy.salesforce.standin.org import StandinOrg
    from proxy.salesforce.tasks import TaskWriter
    from proxy.simulator.pbx import SimulatedPbx
    from proxy.web.sso import SingleSignOn


@dataclass
class Services:
    """Everything the endpoints use, built in the lifespan and closed with it."""

    settings: Settings
    store: Store
    bus: EventBus
    auth: Authenticator
    board: Switchboard
    desk: AgentDesk
    journal: CallJournal
    writer: TaskWriter | None
    retention: Retention
    pbx: SimulatedPbx | None
    org: StandinOrg | None
    # The loop they run on, for callers on other threads (tests, the bench).
    loop: asyncio.AbstractEventLoop
    metrics: Metrics
    # "Sign in with Salesforce", when configured (always in the demo).
    sso: SingleSignOn | None = None


def services_of(connection: HTTPConnection) -> Services:
    """The app's services, from a request or a websocket."""
    services: Services = connection.app.state.services
    return services
