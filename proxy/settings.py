"""Settings from the environment (prefix SOFTPHONE_), one typed object built at start."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything the proxy reads from its environment; secrets are `SecretStr` so never logged."""

    model_config = SettingsConfigDict(env_prefix="SOFTPHONE_", extra="ignore")

    cti_url: str = "sim://"
    salesforce_url: str = "standin://"
    bus_url: str = "memory://"
    database_url: str = "sqlite+aiosqlite:///./softphone.db"

    salesforce_username: str = ""
    salesforce_password: SecretStr = SecretStr("")
    salesforce_security_token: SecretStr = SecretStr("")
    salesforce_session_id: SecretStr = SecretStr("")
    salesforce_api_version: str = "60.0"
    salesforce_timeout_seconds: float = Field(default=10.0, gt=0)

    phone_region: str = Field(default="US", min_length=2, max_length=2)
    lookup_cache_seconds: float = Field(default=300.0, ge=0)
    session_hours: float = Field(default=12.0, gt=0)
    max_message_bytes: int = Field(default=64 * 1024, ge=1024)
    # The softphone page and console; the checkout's static/ unless installed elsewhere.
    static_dir: Path = Path(__file__).resolve().parents[1] / "static"
    # Demo mode adds the demo console, the demo agents and the Open CTI stand-in script.
    demo: bool = False

    def check(self) -> None:
        """Fail at start, naming the known schemes, when a seam's URL has an unknown scheme."""
        from proxy.bus import BUSES
        from proxy.links import LINKS
        from proxy.salesforce import SALESFORCE
        from proxy.store import STORES

        for url in self.cti_url.split(","):
            LINKS.scheme(url.strip())
        BUSES.scheme(self.bus_url)
        STORES.scheme(self.database_url)
        SALESFORCE.scheme(self.salesforce_url)
