"""Settings from the environment (prefix SOFTPHONE_), one typed object built at start: data
only. Whether each seam's URL names a known implementation is checked by `proxy.app.check_seams`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from softphone.agentdata import AgentSettings
from softphone.calllog import DEFAULT_WRAP_UP_ACTIONS, WrapUpAction, WrapUpRules
from softphone.dialing import DialingOptions
from softphone.matching import MatchSettings


def default_static_dir() -> Path:
    """The checkout's static/ when running from one, else where the wheel installed it."""
    checkout = Path(__file__).resolve().parents[1] / "static"
    if checkout.is_dir():
        return checkout
    return Path(sys.prefix) / "share" / "softphone-proxy" / "static"


class Settings(BaseSettings):
    """Everything the proxy reads from its environment; secrets are `SecretStr` so never logged."""

    model_config = SettingsConfigDict(env_prefix="SOFTPHONE_", extra="ignore")

    cti_url: str = "sim://"
    salesforce_url: str = "standin://"
    bus_url: str = "memory://"
    database_url: str = "sqlite+aiosqlite:///./softphone.db"
    # This node's name in a cluster (/admin, /readyz, logs); empty: <hostname>-<pid>.
    node_name: str = Field(default="", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,62}$|^$")

    salesforce_consumer_key: str = ""
    salesforce_consumer_secret: SecretStr = SecretStr("")
    salesforce_private_key_file: str = ""
    salesforce_audience: str = ""
    salesforce_username: str = ""
    salesforce_password: SecretStr = SecretStr("")
    salesforce_security_token: SecretStr = SecretStr("")
    salesforce_session_id: SecretStr = SecretStr("")
    salesforce_api_version: str = "60.0"
    salesforce_timeout_seconds: float = Field(default=10.0, gt=0)
    # Salesforce Voice with Partner Telephony: the Telephony Integration API's host (the org's
    # https://<MyDomain>.my.salesforce-scrt.com, or standin:// for the demo org's), the org id
    # and contact center API name the JWT names (iss, sub), and the key whose certificate is the
    # contact center's reqTelephonyIntegrationCertificate. Empty URL: no VoiceCalls are written.
    voice_scrt_url: str = Field(default="", pattern=r"^((https://[^/?#\s]+/?)|standin://)?$")
    voice_org_id: str = Field(default="", pattern=r"^([A-Za-z0-9]{15}|[A-Za-z0-9]{18})?$")
    voice_call_center: str = Field(default="", pattern=r"^([A-Za-z][A-Za-z0-9_]{0,79})?$")
    voice_private_key_file: str = ""
    voice_max_attempts: int = Field(default=12, ge=1)
    # Where @salesforce/scv-connector-base is installed (the package's folder); empty: the
    # .tools/scv folder that scripts/demo and scripts/test install it into.
    voice_connector_library: str = ""

    # Below this many API calls left in the org's daily budget, the server stops searching and
    # the agents' browsers search in their own Salesforce sessions instead.
    api_budget_floor: int = Field(default=1000, ge=0)

    phone_region: str = Field(default="US", min_length=2, max_length=2)
    lookup_cache_seconds: float = Field(default=300.0, ge=0)
    # Pop settings (defaults for every agent): objects whose phones caller ID searches, the pop
    # order (rules left out are the do-not-pop bucket), when to pop, and how IVR data matches.
    match_objects: list[Literal["Contact", "Account", "Lead"]] = ["Contact", "Account", "Lead"]
    pop_order: list[Literal["ani", "dnis", "ivr", "new_contact"]] = [
        "ani",
        "dnis",
        "ivr",
        "new_contact",
    ]
    pop_at: Literal["ringing", "answer"] = "ringing"
    ivr_match: Literal["exact", "start_with"] = "exact"
    # Dialled numbers (digits only) mapped to Campaign Ids, and/or the Campaign phone field.
    dnis_campaigns: dict[str, str] = {}
    campaign_phone_field: str = ""

    # Dialing options, as in the call center definition (reqDialingOptions).
    outside_prefix: str = Field(default="9", pattern=r"^[0-9]{0,4}$")
    long_distance_prefix: str = Field(default="1", pattern=r"^[0-9]{0,4}$")
    international_prefix: str = Field(default="011", pattern=r"^[0-9]{0,4}$")
    # Make-busy reason codes agents choose from, and the ACD groups they can log in to.
    reason_codes: list[str] = ["Break", "Lunch", "Meeting", "Training", "Admin"]
    acd_groups: list[str] = ["Support", "Sales"]
    # The built-in simulator's timers.
    sim_hold_timeout_seconds: float = Field(default=60.0, gt=0)
    sim_transfer_recall_seconds: float = Field(default=20.0, gt=0)
    sim_work_seconds: float = Field(default=0.0, ge=0)
    # Call logging. Tasks for missed and redirected calls only when asked for; an agent's own
    # direction switches start from these defaults.
    log_inbound: bool = True
    log_outbound: bool = True
    log_internal: bool = False
    log_missed: bool = False
    log_redirected: bool = False
    # Seconds after a call ends during which the agent can add notes and codes before the
    # Task is written anyway (longer while the PBX holds the agent in work).
    wrap_up_seconds: float = Field(default=60.0, ge=0)
    wrap_up_actions: list[WrapUpAction] = list(DEFAULT_WRAP_UP_ACTIONS)
    classification_codes: list[str] = []
    account_codes: list[str] = []
    classification_required: bool = False
    quick_notes: list[str] = [
        "Left a voicemail",
        "Will call back",
        "Sent details by email",
        "Escalated to a supervisor",
    ]
    # A Task text field marked External ID (e.g. Softphone_Call_Id__c): Task writes become
    # upserts on it, which Salesforce makes idempotent by itself.
    task_external_id_field: str = Field(default="", pattern=r"^([A-Za-z][A-Za-z0-9_]{0,79})?$")
    task_max_attempts: int = Field(default=12, ge=1)
    # The first retry of a failed Task write waits this long; each next one twice as long.
    task_retry_seconds: float = Field(default=2.0, gt=0)
    # Interaction records (history, call logs, written outbox rows) are kept this many days.
    retention_days: float = Field(default=400.0, gt=0)
    # The org's My Domain host(s), e.g. acme.my.salesforce.com, allowed to frame the page
    # besides Salesforce's own domains; and other origins allowed to open agent sockets (the
    # other proxy of a redundant pair).
    salesforce_my_domains: list[str] = []
    allowed_origins: list[str] = []
    # The address agents' browsers use, e.g. https://softphone.acme.com (scheme, host, port;
    # no path). Behind a load balancer it is the balancer's address, not ours: it names our
    # origin for the socket and CSRF checks, the SSO redirect, the call center XML and the doctor.
    public_url: str = Field(default="", pattern=r"^(https?://[^/?#\s]+/?)?$")
    # Load balancers and reverse proxies whose X-Forwarded-Proto/-For and Forwarded headers are
    # believed (IP addresses or networks, or "*"); from anyone else those headers are ignored.
    trusted_proxies: list[str] = []
    # Logs: "text" or "json" lines on stderr; a level overall and per module
    # (e.g. {"proxy.links": "DEBUG", "proxy.salesforce": "WARNING"}).
    log_format: Literal["text", "json"] = "text"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "debug", "info", "warning", "error"] = (
        "INFO"
    )
    log_levels: dict[str, str] = {}
    # The /admin page's sign-in (user "admin"); the page is off while this is empty.
    admin_password: SecretStr = SecretStr("")
    # A bearer token /metrics asks for (empty: open, for a scraper on a private network).
    metrics_token: SecretStr = SecretStr("")
    # Integration seats: at most this many agents signed in at once (0: no limit).
    max_agents: int = Field(default=0, ge=0)
    lockout_attempts: int = Field(default=5, ge=1)
    lockout_minutes: float = Field(default=15.0, gt=0)
    # Threads hashing passwords (0: one fewer than the cores, at least one, so the event loop
    # keeps a core), and how many sign-ins may wait for them before the rest are told "busy".
    hash_workers: int = Field(default=0, ge=0)
    sign_ins_waiting: int = Field(default=64, ge=0)
    # Pages' sockets signing in and reading their welcome at once, and how many may wait for
    # that before the rest are told "busy, retry after 3 s" (after a restart, all reconnect).
    # Freeze long-lived objects out of the garbage collector's way (proxy/collector.py): off
    # only where one process runs many proxies, as the test suite does.
    gc_freeze: bool = True
    openings_at_once: int = Field(default=32, ge=1)
    openings_waiting: int = Field(default=512, ge=0)
    session_hours: float = Field(default=12.0, gt=0)
    max_message_bytes: int = Field(default=64 * 1024, ge=1024)
    # "Sign in with Salesforce": the org's login host (e.g. https://acme.my.salesforce.com;
    # empty: off, except in the demo, which signs in against the stand-in org) and the connected
    # app's consumer key; its secret is optional, as PKCE (S256) is always used.
    sso_login_url: str = ""
    sso_client_id: str = ""
    sso_client_secret: SecretStr = SecretStr("")
    # The softphone page and console; the checkout's static/ unless installed elsewhere.
    static_dir: Path = Field(default_factory=lambda: default_static_dir())
    # Demo mode adds the demo console, the demo agents and the Open CTI stand-in script.
    demo: bool = False

    def dialing_options(self) -> DialingOptions:
        return DialingOptions(
            region=self.phone_region,
            outside_prefix=self.outside_prefix,
            long_distance_prefix=self.long_distance_prefix,
            international_prefix=self.international_prefix,
        )

    def agent_defaults(self) -> AgentSettings:
        """What an agent's settings are until they change them."""
        return AgentSettings(
            log_inbound=self.log_inbound,
            log_outbound=self.log_outbound,
            log_internal=self.log_internal,
            pop_at=self.pop_at,
            pop_order=tuple(self.pop_order),
            match_objects=tuple(self.match_objects),
            ivr_match=self.ivr_match,
        )

    def wrap_up_rules(self) -> WrapUpRules:
        return WrapUpRules(
            actions=tuple(self.wrap_up_actions),
            classification_codes=tuple(self.classification_codes),
            account_codes=tuple(self.account_codes),
            classification_required=self.classification_required,
        )

    def match_settings(self) -> MatchSettings:
        return MatchSettings(
            region=self.phone_region,
            phone_objects=tuple(self.match_objects),
            pop_order=tuple(self.pop_order),
            ivr_start_with=self.ivr_match == "start_with",
            pop_at=self.pop_at,
            dnis_campaigns=dict(self.dnis_campaigns),
            campaign_phone_field=self.campaign_phone_field,
        )
