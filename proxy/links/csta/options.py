"""The CSTA link's address list and options, read from SOFTPHONE_CTI_URL (see csta/link.py)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from proxy.links.csta.codec import NAMESPACES


@dataclass(frozen=True)
class CstaOptions:
    devices: tuple[str, ...] = ()
    edition: str = "3"
    heartbeat: float = 1.0
    register: bool = False

    @property
    def namespace(self) -> str:
        return NAMESPACES[self.edition]

    @property
    def stale_seconds(self) -> float:
        # Two and a half heartbeats of silence: the switch is gone, and failover stays < 3 s.
        return 2.5 * self.heartbeat


def address_of(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if not parts.hostname or parts.port is None:
        raise ValueError(f"CSTA address {url!r} needs a host and a port: csta://host:port")
    return parts.hostname, parts.port


_SEPARATORS = re.compile(r"[\s;,+]+")


def _devices(spec: str) -> tuple[str, ...]:
    found: list[str] = []
    for item in _SEPARATORS.split(spec):
        first, dash, last = item.partition("-")
        if dash and first.isdigit() and last.isdigit() and len(first) == len(last):
            width = len(first)
            found += [str(n).zfill(width) for n in range(int(first), int(last) + 1)][:10_000]
        elif item:
            found.append(item)
    return tuple(dict.fromkeys(found))


def split_addresses(url: str) -> list[str]:
    """`csta://a:1?devices=1,2,csta://b:2` -> both addresses: a piece without a scheme or a
    `host:port` shape belongs to the address before it (a comma inside the query)."""
    pieces: list[str] = []
    for piece in (p.strip() for p in url.split(",")):
        starts = piece.startswith("csta://") or re.match(r"^[\w.-]+:\d+(?:[/?]|$)", piece)
        if pieces and not starts:
            pieces[-1] += "," + piece
        elif piece:
            pieces.append(piece if piece.startswith("csta://") else f"csta://{piece}")
    return pieces


def read_url(url: str) -> tuple[list[str], CstaOptions]:
    """`csta://host:port[?devices=…&ed=3|4&heartbeat=1&register=0]`, or `primary,standby`:
    the addresses and the options (the first address's query that says wins)."""
    addresses = split_addresses(url)
    query: dict[str, str] = {}
    for address in addresses:
        for key, values in parse_qs(urlsplit(address).query).items():
            query.setdefault(key, ",".join(values))
    for address in addresses:
        address_of(address)  # a bad address fails at start, not at first connect
    edition = query.get("ed", "3")
    if edition not in NAMESPACES:
        raise ValueError(f"CSTA edition ed={edition!r}: use 3 or 4")
    options = CstaOptions(
        devices=_devices(query.get("devices", "")),
        edition=edition,
        heartbeat=float(query.get("heartbeat", "1")),
        register=query.get("register", "0") in ("1", "true", "yes"),
    )
    if options.heartbeat <= 0:
        raise ValueError("CSTA heartbeat must be a positive number of seconds")
    return addresses, options
