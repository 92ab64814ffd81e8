"""What the endpoints use: every piece the app factory built, in one typed object.

`proxy.app` builds a `Services` in its lifespan and hangs it on the app; handlers reach it with
`services_of(request)` (or a websocket), typed, instead of the untyped `app.state`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from starlette.requests import HTTPConnection

from proxy.agents.admission import Admission
from proxy.agents.auth import Authenticator
from proxy.agents.commands import Commands
from proxy.agents.desk import AgentDesk
from proxy.agents.journal import CallJournal
from proxy.agents.lookups import Lookups
from proxy.agents.pages import Pages
from proxy.agents.seating import Seating
from proxy.agents.signin import SignIns
from proxy.agents.states import AgentStates
from proxy.agents.views import AgentViews
from proxy.agents.voice import VoiceJournal, VoiceSeats
from proxy.bus import EventBus
from proxy.cluster.holder import LinkHolder
from proxy.cluster.line import CoreLine
from proxy.links import CtiLink
from proxy.salesforce.base import SalesforceApi
from proxy.settings import Settings
from proxy.store import Store
from proxy.store.retention import Retention
from proxy.web.metrics import Metrics
from proxy.web.page_core import CoreRequests, LocalCore, NodePages
from softphone.identities import Identities

if TYPE_CHECKING:
    from proxy.salesforce.oauth import SingleSignOn
    from proxy.salesforce.standin.org import StandinOrg
    from proxy.salesforce.tasks import TaskWriter
    from proxy.salesforce.voice_writer import VoiceCallWriter
    from proxy.simulator.pbx import SimulatedPbx


@dataclass
class Services:
    """Everything the endpoints use, built in the lifespan and closed with it; each piece by
    itself, so no handler reaches through one piece for another."""

    settings: Settings
    store: Store
    bus: EventBus
    link: CtiLink
    # None without an integration user (call logs are kept, not written).
    salesforce: SalesforceApi | None
    auth: Authenticator
    signins: SignIns
    # The switchboard's parts (proxy/agents): who is who, the state, what pages see, ...
    identities: Identities
    states: AgentStates
    pages: Pages
    views: AgentViews
    lookups: Lookups
    commands: Commands
    seating: Seating
    desk: AgentDesk
    journal: CallJournal
    writer: TaskWriter | None
    retention: Retention
    pbx: SimulatedPbx | None
    org: StandinOrg | None
    metrics: Metrics
    # "Sign in with Salesforce", when configured (always in the demo).
    sso: SingleSignOn | None = None
    # Sockets signing in and reading their welcome: a bounded number at once, then "busy".
    openings: Admission = field(default_factory=Admission)
    # Salesforce Voice: who has the connector open; their VoiceCalls (None: not set up).
    voice_seats: VoiceSeats | None = None
    voice: VoiceJournal | None = None
    voice_writer: VoiceCallWriter | None = None
    # Cluster mode (a redis:// bus): this node's name, its line to the link holder, and the
    # lease-holding machinery (None on a single node, which always runs the core).
    node: str = ""
    line: CoreLine | None = None
    holder: LinkHolder | None = None
    core_requests: CoreRequests | None = None
    # The pages with a socket on this node (told to each new link holder).
    node_pages: NodePages = field(default_factory=NodePages)

    @cached_property
    def local_core(self) -> LocalCore:
        """Pages' requests carried out in this process (it runs the core)."""
        return LocalCore(self)

    @property
    def runs_core(self) -> bool:
        """Whether the core (the link, calls, logs) runs in this process now."""
        return self.holder is None or self.holder.holding


def services_of(connection: HTTPConnection) -> Services:
    """The app's services, from a request or a websocket."""
    services: Services = connection.app.state.services
    return services
