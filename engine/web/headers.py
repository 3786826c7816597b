"""The headers every response of the web application carries.

The public pages (links, intake forms) run no script at all; their one stylesheet is inline
and allowed by its hash, so the policy needs no 'unsafe-inline'. The dashboard's pages mark
their responses (`DASHBOARD_MARK`, taken off here) and get a policy that allows script, style
and requests from our own origin only (the vendored htmx, our stylesheet): still no inline
script, no eval, nothing from elsewhere. Every response is `no-store`: the pages show names of
communities and answers, and nothing the application says is worth caching. HSTS is sent
only on a request that came over TLS (directly, or from a proxy on 127.0.0.1 that says so),
so a development server on http does not pin a browser to https.
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
DASHBOARD_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
DASHBOARD_MARK = "x-verbinder-dashboard"
HSTS = (b"strict-transport-security", b"max-age=63072000; includeSubDomains")
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

        tls = scope.get("scheme") == "https"

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": _protected(message.get("headers", []), tls)}
            await send(message)

        await self.app(scope, receive, with_headers)


_MARK = DASHBOARD_MARK.encode()
_CSP = b"content-security-policy"


def _protected(headers: list[tuple[bytes, bytes]], tls: bool) -> list[tuple[bytes, bytes]]:
    """The response's headers with ours in place of any of the same name."""
    dashboard = any(k.lower() == _MARK for k, _ in headers)
    kept = [(k, v) for k, v in headers if k.lower() not in HEADERS and k.lower() != _MARK
            and k.lower() != HSTS[0]]
    ours = dict(HEADERS)
    if dashboard:
        ours[_CSP] = DASHBOARD_POLICY.encode()
    out = kept + list(ours.items())
    if tls:
        out.append(HSTS)
    return out
