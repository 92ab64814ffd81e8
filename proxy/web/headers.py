"""Security headers on every HTTP response, and the Origin check on websockets.

Framing is allowed for Salesforce's domains (and the org's My Domain) only; HSTS is sent over
HTTPS (as the browser sees it: behind a trusted TLS terminator, its X-Forwarded-Proto says so).
Which origins may open sockets and send requests is `proxy.web.origins`.
"""

from __future__ import annotations

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


# In the demo, the console plays Salesforce from the other loopback name (localhost frames
# 127.0.0.1, or the reverse: two sites), over plain http.
LOOPBACK_SOURCES = ("http://localhost:*", "http://127.0.0.1:*")


def allowed_sources(my_domains: Iterable[str] = (), *, demo: bool = False) -> tuple[str, ...]:
    """Salesforce's domains plus the org's My Domain hosts (and the demo console), as CSP
    sources."""
    extra = tuple(f"https://{d.removeprefix('https://').strip('/')}" for d in my_domains if d)
    return SALESFORCE_DOMAINS + extra + (LOOPBACK_SOURCES if demo else ())


def content_security_policy(
    sources: tuple[str, ...] = SALESFORCE_DOMAINS, frames: tuple[str, ...] = ()
) -> str:
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
            " ".join(["frame-src 'self'", *frames]),
            f"frame-ancestors 'self' {listed}",
            "base-uri 'none'",
            "form-action 'self'",
            "object-src 'none'",
        ]
    )


# The demo console plays Salesforce: it frames the softphone from another site, as Salesforce
# does, so its pages may frame the proxy's public origin and the loopback names.
CONSOLE_FRAMES = ("https:", *LOOPBACK_SOURCES)


class SecurityHeaders:
    def __init__(
        self, app: ASGIApp, sources: tuple[str, ...] = SALESFORCE_DOMAINS, *, console: bool = False
    ) -> None:
        self.app = app
        common = [
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"strict-origin-when-cross-origin"),
        ]
        self.headers = [(b"content-security-policy", content_security_policy(sources).encode())]
        self.headers += common
        self.console_headers: list[tuple[bytes, bytes]] | None = None
        if console:
            policy = content_security_policy(sources, CONSOLE_FRAMES)
            self.console_headers = [(b"content-security-policy", policy.encode()), *common]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        console = self.console_headers is not None and scope["path"].startswith("/console/")
        headers = list(self.console_headers if console and self.console_headers else self.headers)
        if scope.get("scheme") == "https":
            headers.append((b"strict-transport-security", HSTS))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *headers]
            await send(message)

        await self.app(scope, receive, send_with_headers)
