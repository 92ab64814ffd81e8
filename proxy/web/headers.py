"""Security headers on every HTTP response; framing allowed for Salesforce's domains only."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

SALESFORCE_FRAME_ANCESTORS = (
    "https://*.force.com https://*.salesforce.com https://*.lightning.force.com "
    "https://*.visualforce.com https://*.salesforce-setup.com"
)


def content_security_policy() -> str:
    # The page loads Open CTI from the Salesforce origin that frames it, so those domains may
    # serve scripts; nothing else outside our own origin may, and nothing inline runs at all.
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src 'self' {SALESFORCE_FRAME_ANCESTORS}",
            "style-src 'self'",
            "img-src 'self' data:",
            "connect-src 'self'",
            "frame-src 'self'",
            f"frame-ancestors 'self' {SALESFORCE_FRAME_ANCESTORS}",
            "base-uri 'none'",
            "form-action 'self'",
            "object-src 'none'",
        ]
    )


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.headers = [
            (b"content-security-policy", content_security_policy().encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"strict-origin-when-cross-origin"),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *self.headers]
            await send(message)

        await self.app(scope, receive, send_with_headers)
