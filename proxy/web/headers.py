"""Security headers on every HTTP response, and the Origin check on websockets.

Framing is allowed for Salesforce's domains (and the org's My Domain) only; HSTS is sent over
HTTPS. A browser's websocket carries the Origin of the page that opened it: only our own page
(and Salesforce's origins, the same allow-list as framing) may open an agent socket, so a
foreign site an agent visits cannot ride their session (cross-site websocket hijacking).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

SALESFORCE_DOMAINS = (
    "https://*.force.com",
    "https://*.salesforce.com",
    "https://*.lightning.force.com",
    "https://*.visualforce.com",
    "https://*.salesforce-setup.com",
)
HSTS = b"max-age=31536000; includeSubDomains"


def allowed_sources(my_domains: Iterable[str] = ()) -> tuple[str, ...]:
    """Salesforce's domains plus the org's My Domain hosts, as CSP sources."""
    extra = tuple(f"https://{d.removeprefix('https://').strip('/')}" for d in my_domains if d)
    return SALESFORCE_DOMAINS + extra


def content_security_policy(sources: tuple[str, ...] = SALESFORCE_DOMAINS) -> str:
    # The page loads Open CTI from the Salesforce origin that frames it, so those domains may
    # serve scripts; nothing else outside our own origin may, and nothing inline runs at all.
    listed = " ".join(sources)
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src 'self' {listed}",
            "style-src 'self'",
            "img-src 'self' data:",
            "connect-src 'self'",
            "frame-src 'self'",
            f"frame-ancestors 'self' {listed}",
            "base-uri 'none'",
            "form-action 'self'",
            "object-src 'none'",
        ]
    )


def _pattern(source: str) -> re.Pattern[str]:
    escaped = re.escape(source).replace(r"\*", r"[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*")
    return re.compile(f"^{escaped}$")


class OriginCheck:
    """Whether a websocket's Origin is our own page's or on the allow-list."""

    def __init__(self, sources: tuple[str, ...], extra_origins: Iterable[str] = ()) -> None:
        self._patterns = [_pattern(s) for s in sources]
        self._exact = {o.rstrip("/") for o in extra_origins}

    def allows(self, origin: str | None, own: str) -> bool:
        if origin is None:
            return True  # not a browser: a browser always sends Origin on a websocket
        origin = origin.rstrip("/")
        if origin == own or origin in self._exact:
            return True
        return any(p.match(origin) for p in self._patterns)


class SecurityHeaders:
    def __init__(self, app: ASGIApp, sources: tuple[str, ...] = SALESFORCE_DOMAINS) -> None:
        self.app = app
        self.headers = [
            (b"content-security-policy", content_security_policy(sources).encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"strict-origin-when-cross-origin"),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = list(self.headers)
        if scope.get("scheme") == "https":
            headers.append((b"strict-transport-security", HSTS))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *headers]
            await send(message)

        await self.app(scope, receive, send_with_headers)
