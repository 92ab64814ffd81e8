"""Who may talk to us from a browser, and what the load balancer in front of us may tell us.

Three rules, one module:

- **Our own origin.** The page's origin is the address agents' browsers use, which the proxy
  cannot see when TLS is terminated in front of it: the browser says `https://softphone.acme.com`
  while we are served `http`. So an origin counts as our own when its host and port are those
  the browser sent in `Host` (whatever the scheme), or when it is `SOFTPHONE_PUBLIC_URL`.
- **Cross-site requests are refused.** A state-changing request (POST, PUT, PATCH, DELETE) that
  a browser sends from another site is refused with 403 before any handler runs, so a page an
  agent visits cannot sign them in or out, change settings or drive the simulator (CSRF). The
  session cookie is `SameSite=None` (it must be, to reach us inside Salesforce's frame), so this
  check, not the cookie, is what keeps cross-site forms out.
- **Forwarded headers** are believed only from `SOFTPHONE_TRUSTED_PROXIES`: uvicorn's own
  middleware reads `X-Forwarded-Proto`/`-For`, and `Forwarded` (RFC 7239) is translated into
  them first, so one trust rule covers both spellings.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from proxy.settings import Settings
from proxy.web.headers import allowed_sources

_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _pattern(source: str) -> re.Pattern[str]:
    escaped = re.escape(source).replace(r"\*", r"[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*")
    return re.compile(f"^{escaped}$")


def origin_of(url: str) -> str:
    """`scheme://host[:port]` of a URL, lower-cased, default port left out ("" if not a URL)."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return ""
    try:
        port = parts.port
    except ValueError:
        return ""
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    shown = "" if port in (None, _DEFAULT_PORTS[parts.scheme]) else f":{port}"
    return f"{parts.scheme}://{host.lower()}{shown}"


def same_host(origin: str, host_header: str) -> bool:
    """Whether `origin` names the host and port the browser sent in `Host`, whatever its scheme.

    `Host` leaves the port out when it is the default of the scheme the browser used, which is
    the origin's own scheme for a page we served, so `https://a` matches `Host: a` even when the
    proxy itself is reached over plain http behind a TLS terminator.
    """
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.hostname or not host_header:
        return False
    wanted = urlsplit(f"//{host_header.strip()}")
    try:
        origin_port = parts.port or _DEFAULT_PORTS[parts.scheme]
        host_port = wanted.port or _DEFAULT_PORTS[parts.scheme]
    except ValueError:
        return False
    return (wanted.hostname or "") == parts.hostname.lower() and host_port == origin_port


class OriginCheck:
    """Whether a browser's Origin is our own page's, our public URL, or on an allow-list."""

    def __init__(
        self,
        sources: Iterable[str] = (),
        extra_origins: Iterable[str] = (),
        public_url: str = "",
    ) -> None:
        self._patterns = [_pattern(s) for s in sources]
        self._exact = {origin_of(o) or o.rstrip("/") for o in extra_origins}
        if public_url:
            self._exact.add(origin_of(public_url))

    def allows(self, origin: str | None, host_header: str) -> bool:
        if origin is None:
            return True  # not a browser: a browser always sends Origin on a websocket
        if same_host(origin, host_header):
            return True
        normal = origin_of(origin)
        if normal and normal in self._exact:
            return True
        return any(p.match(origin.rstrip("/")) for p in self._patterns)


def origin_check(settings: Settings) -> OriginCheck:
    """The one origin rule, for sockets and requests alike."""
    return OriginCheck(
        allowed_sources(settings.salesforce_my_domains, demo=settings.demo),
        settings.allowed_origins,
        settings.public_url,
    )


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            decoded: str = value.decode("latin-1")
            return decoded
    return None


class CrossSiteGuard:
    """Refuses state-changing HTTP requests a browser sends from a foreign site (CSRF)."""

    def __init__(self, app: ASGIApp, origins: OriginCheck) -> None:
        self.app = app
        self.origins = origins

    def refused(self, scope: Scope) -> str:
        """Why this request is refused, or "" when it may go on."""
        if scope["type"] != "http" or scope["method"] not in _UNSAFE:
            return ""
        origin = _header(scope, b"origin")
        if origin is not None and origin != "null":
            allowed = self.origins.allows(origin, _header(scope, b"host") or "")
            return "" if allowed else f"requests from {origin} are not accepted"
        # No usable Origin: a browser still says where the request came from here; anything
        # else (curl, the CLI, a monitoring probe) is not a browser and carries no cookie risk.
        fetch_site = _header(scope, b"sec-fetch-site")
        if origin == "null" or fetch_site == "cross-site":
            return "cross-site requests are not accepted"
        return ""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        reason = self.refused(scope)
        if not reason:
            await self.app(scope, receive, send)
            return
        body = json.dumps({"detail": {"code": "cross_site", "message": reason}}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 403,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


_FORWARDED_PAIR = re.compile(r'\s*([A-Za-z]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;,\s]*)\s*')


def parse_forwarded(value: str) -> list[dict[str, str]]:
    """RFC 7239 `Forwarded` elements, nearest proxy last, keys lower-cased, quotes removed."""
    elements: list[dict[str, str]] = []
    for element in value.split(","):
        pairs: dict[str, str] = {}
        for item in element.split(";"):
            found = _FORWARDED_PAIR.fullmatch(item)
            if found:
                pairs[found.group(1).lower()] = found.group(2).strip('"')
        if pairs:
            elements.append(pairs)
    return elements


def _bare(node: str) -> str:
    """A `for=` node without brackets and port ("[2001:db8::1]:4711" -> "2001:db8::1")."""
    if node.startswith("["):
        return node[1 : node.find("]")] if "]" in node else node
    return node.split(":")[0] if node.count(":") == 1 else node


class ForwardedHeader:
    """Says RFC 7239 `Forwarded` in the X-Forwarded-* words uvicorn's trust check reads.

    It only translates: whether the client may be believed is decided next, by uvicorn's
    `ProxyHeadersMiddleware` with `SOFTPHONE_TRUSTED_PROXIES`. X-Forwarded-* already present
    win, as a proxy that sends both means them to agree.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            value = _header(scope, b"forwarded")
            present = {k for k, _ in scope["headers"]}
            if value and b"x-forwarded-for" not in present and b"x-forwarded-proto" not in present:
                elements = parse_forwarded(value)
                added: list[tuple[bytes, bytes]] = []
                nodes = [_bare(e["for"]) for e in elements if "for" in e]
                if nodes:
                    added.append((b"x-forwarded-for", ", ".join(nodes).encode("latin-1")))
                # The scheme the client used is the one the first proxy saw.
                proto = next((e["proto"].lower() for e in elements if "proto" in e), "")
                if proto in ("http", "https"):
                    added.append((b"x-forwarded-proto", proto.encode()))
                if added:
                    scope = {**scope, "headers": [*scope["headers"], *added]}
        await self.app(scope, receive, send)
