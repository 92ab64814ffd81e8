"""The OIG link's address list and options, read from SOFTPHONE_CTI_URL (see oig/link.py).

The addresses the link keeps (and logs) are bare service roots, `https://host:port/path`: the
passwords stay in `OigOptions`, whose repr leaves them out, and never reach a log line.
"""

from __future__ import annotations

import re
import ssl
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit, urlunsplit

from proxy.links.base import split_urls
from proxy.links.oig.soap import DEFAULT_SERVICE_ROOT, WSDL_VERSION

# No answer for this long and the gateway is gone: failover stays under 3 s.
STALE_SECONDS = 2.5
# The gateway ends a session not reset within 10 s; every 3 s leaves room for two misses.
KEEPALIVE_SECONDS = 3.0
SESSION_TIMER_SECONDS = 10.0
POLL_SECONDS = 1.5
MAX_DEVICES = 2000
_RANGE = re.compile(r"^(\d{1,15})-(\d{1,15})$")


@dataclass(frozen=True)
class OigOptions:
    devices: tuple[str, ...]
    password: str = field(default="", repr=False)  # the OIG's local password for this app
    company: str = ""
    app: str = "SoftphoneProxy"
    app_password: str = field(default="", repr=False)
    version: str = WSDL_VERSION
    icp: str = ""
    busy_codes: dict[str, int] = field(default_factory=dict)
    verify: ssl.SSLContext | bool = True
    keepalive: float = KEEPALIVE_SECONDS
    poll: float = POLL_SECONDS
    ha_callback: str = ""


def parse_oig_urls(url: str) -> tuple[list[str], OigOptions]:
    """Service roots (primary first) and the options; `ValueError` that never quotes secrets."""
    endpoints: list[str] = []
    query: dict[str, str] = {}
    for part in split_urls(url):
        parts = urlsplit(part.strip())
        scheme = parts.scheme.lower()
        if scheme not in ("oig+https", "oig+http") or not parts.hostname:
            raise ValueError(f"an OIG address looks like oig+https://host, got {parts.scheme}://")
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        netloc = f"{host}:{parts.port}" if parts.port else host
        path = parts.path.rstrip("/") or DEFAULT_SERVICE_ROOT
        endpoints.append(urlunsplit((scheme.removeprefix("oig+"), netloc, path, "", "")))
        for key, values in parse_qs(parts.query).items():
            query.setdefault(key, values[-1])
    devices = _devices(query.get("devices", ""))  # extras: the roster's come by monitor()
    keepalive = _seconds(query, "keepalive", KEEPALIVE_SECONDS)
    if not 0.1 <= keepalive < SESSION_TIMER_SECONDS:
        raise ValueError(f"keepalive must be under {SESSION_TIMER_SECONDS:g} s, got {keepalive}")
    poll = _seconds(query, "poll", POLL_SECONDS)
    if not 0.1 <= poll <= POLL_SECONDS:
        raise ValueError(f"poll must be 0.1..{POLL_SECONDS:g} s to notice silence in time")
    return endpoints, OigOptions(
        devices=devices,
        password=query.get("password", ""),
        company=query.get("user", ""),
        app=query.get("app", "SoftphoneProxy"),
        app_password=query.get("app_password", ""),
        version=query.get("version", WSDL_VERSION),
        icp=query.get("icp", ""),
        busy_codes=_busy_codes(query.get("busy_codes", "")),
        verify=_verify(query),
        keepalive=keepalive,
        poll=poll,
        ha_callback=query.get("ha_callback", ""),
    )


def _devices(raw: str) -> tuple[str, ...]:
    found: list[str] = []
    for item in re.split(r"[,;+\s]+", raw.strip()):
        span = _RANGE.match(item)
        if span:
            first, last = int(span.group(1)), int(span.group(2))
            if last < first or last - first >= MAX_DEVICES:
                raise ValueError(f"device range {item} is backwards or too long")
            found.extend(str(n) for n in range(first, last + 1))
        elif item:
            found.append(item)
    if len(found) > MAX_DEVICES:
        raise ValueError(f"at most {MAX_DEVICES} devices per OIG link")
    return tuple(dict.fromkeys(found))


def _busy_codes(raw: str) -> dict[str, int]:
    codes: dict[str, int] = {}
    for item in filter(None, (i.strip() for i in re.split(r"[,;]", raw))):
        name, _, code = item.rpartition(":")
        if not name or not code.isdigit():
            raise ValueError(f"busy_codes entries look like Lunch:1, got {item!r}")
        codes[name] = int(code)
    return codes


def _seconds(query: dict[str, str], key: str, default: float) -> float:
    try:
        return float(query.get(key, default))
    except ValueError:
        raise ValueError(f"{key} must be a number of seconds") from None


def _verify(query: dict[str, str]) -> ssl.SSLContext | bool:
    if query.get("ca"):
        return ssl.create_default_context(cafile=query["ca"])
    return query.get("verify", "1").lower() not in ("0", "false", "no")
