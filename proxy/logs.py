"""Logging for operations: JSON lines (or text), levels per module, secrets redacted.

Lines about a call carry `[call_id=... agent=...]` in their message (the house rule); the JSON
formatter lifts those pairs into fields, so a log search for one call id finds every line of
it. Every secret the settings hold is replaced by `***` in whatever line it would appear in,
whichever module logs it.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import sys
from collections.abc import Iterable

from proxy.settings import Settings

# The password part of `scheme://user:password@host`.
URL_PASSWORD = re.compile(r"(://[^:/@]+:)([^@/]+)@")
_PAIRS = re.compile(r"\[((?:\w+=[^\s\]]*\s*)+)\]")
_PAIR = re.compile(r"(\w+)=([^\s\]]*)")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        line: dict[str, object] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": message,
        }
        for group in _PAIRS.findall(message):
            line.update(_PAIR.findall(group))
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


class RedactSecrets(logging.Filter):
    """Replaces each secret's text with *** in the message and its arguments."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        # Short values (a 4-digit PIN) would redact half the log; real secrets are long.
        self.secrets = sorted({s for s in secrets if len(s) >= 6}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        redacted = self.redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def secrets_of(settings: Settings) -> list[str]:
    values = [
        settings.salesforce_consumer_secret,
        settings.salesforce_password,
        settings.salesforce_security_token,
        settings.salesforce_session_id,
        settings.metrics_token,
        settings.admin_password,
    ]
    found = [v.get_secret_value() for v in values]
    # Passwords inside URLs (ami://user:secret@host, postgresql+asyncpg://user:pw@db) too.
    for url in (settings.cti_url, settings.database_url, settings.salesforce_url):
        found += [m[2] for m in URL_PASSWORD.finditer(url)]
    return found


def configure_logging(settings: Settings) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if settings.log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactSecrets(secrets_of(settings)))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
    # Alembic narrates every start at INFO; its news is only news when something fails.
    levels = {"alembic": "WARNING", **settings.log_levels}
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level.upper())
