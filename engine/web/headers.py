"""The headers every response of the web application carries.

The pages run no script at all; their one stylesheet is inline and allowed by its hash, so the
policy needs no 'unsafe-inline'. Every response is `no-store`: the pages show names of
communities and answers, and nothing the application says is worth caching.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

from starlette.types import ASGIApp, Message, Receive, Scope, Send

STYLE = (Path(__file__).parent / "templates" / "page.css").read_text(encoding="utf-8")
_STYLE_HASH = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
CONTENT_SECURITY_POLICY = (
    f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
HEADERS: dict[bytes, bytes] = {
    b"content-security-policy": CONTENT_SECURITY_POLICY.encode(),
    b"x-content-type-options": b"nosniff",
    b"referrer-policy": b"no-referrer",
    b"x-frame-options": b"DENY",
    b"cache-control": b"no-store",
    b"x-robots-tag": b"noindex",
}


class SecurityHeaders:
    """ASGI middleware, outermost: puts HEADERS on every response (pages, webhooks, refusals,
    and the errors of the framework), replacing any of the same name."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the request, adding the headers to the response's start."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in HEADERS]
                message = {**message, "headers": kept + list(HEADERS.items())}
            await send(message)

        await self.app(scope, receive, with_headers)
