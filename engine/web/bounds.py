"""Request bodies are bounded before anything reads them.

The limit of a path is known from its start: a Twilio webhook is a few KiB (a 1,600-character
SMS of four-byte characters, URL-encoded, is 19 KiB), an intake form a few tens, and nothing
else takes a body. A declared Content-Length over the limit is refused before a byte is read;
a body without one (chunked) is counted as it streams and refused when it passes the limit.
Nothing here accepts multipart: it is refused (415) before a parser could spool it to disk.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

KIB = 1024
WEBHOOK_BYTES = 32 * KIB
INTAKE_BYTES = 64 * KIB
PEACETIME_BYTES = 64 * KIB
API_BYTES = 64 * KIB  # an incident to declare: a few fields of a few hundred characters
FORM_BYTES = 32 * KIB  # the dashboard's declare form, urlencoded four-byte characters
OTHER_BYTES = 4 * KIB  # an acknowledgement's POST is empty
# A refused body up to this size is read on and thrown away, so that the client hears the
# refusal: closing a connection with unread data resets it, and the answer can be lost.
# Past it the connection is closed at once.
DRAIN_BYTES = 1024 * KIB
FORM_TYPE = "application/x-www-form-urlencoded"


def body_limit(path: str) -> int:
    """The most bytes a request body to this path may have."""
    if path.startswith("/webhooks/"):
        return WEBHOOK_BYTES
    if path.startswith("/i/"):
        return INTAKE_BYTES
    if path.startswith("/peacetime/"):  # a contact's note (2,000 characters), URL-encoded
        return PEACETIME_BYTES
    if path.startswith("/api/"):
        return API_BYTES
    if path.startswith("/declare"):
        return FORM_BYTES
    return OTHER_BYTES


class BodyTooLarge(Exception):
    """A streamed request body passed its path's limit; `drained` when the rest of it was
    read and thrown away (the connection may stay open)."""

    def __init__(self, drained: bool) -> None:
        super().__init__("request body too large")
        self.drained = drained


def media_type(scope_or_value: Scope | str | None) -> str:
    """The media type of a Content-Type (or of a request scope's), lower case, no parameters."""
    value = scope_or_value
    if isinstance(value, dict):
        value = _header(value, b"content-type")
    return (value or "").split(";", 1)[0].strip().lower()


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


async def drain(receive: Receive, most: int = DRAIN_BYTES) -> bool:
    """Read the rest of a refused body and throw it away, up to `most` bytes; True when it
    ended within them."""
    seen = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return False
        seen += len(message.get("body", b""))
        if seen > most:
            return False
        if not message.get("more_body", False):
            return True


async def refuse(send: Send, status: int, text: str, *, close: bool, api: bool = False
                 ) -> None:
    """Answer with a short plain text (the API: its JSON error); `close` the connection when
    the body is left unread."""
    body = (json.dumps({"error": {"status": status, "message": text}}) if api else text).encode()
    kind = b"application/json" if api else b"text/plain; charset=utf-8"
    headers = [(b"content-type", kind),
               (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status,
                "headers": headers + ([(b"connection", b"close")] if close else [])})
    await send({"type": "http.response.body", "body": body})


TOO_LARGE = "Verzoek te groot / request too large"
NOT_MULTIPART = "Geen multipart / multipart is not accepted"
BAD_LENGTH = "Ongeldige Content-Length / invalid Content-Length"


class BoundedBodies:
    """ASGI middleware: refuses bodies over their path's limit (413) and multipart (415)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check what the headers say, then let the application read a counted body."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = body_limit(scope["path"])
        api = scope["path"].startswith("/api/")
        declared = _header(scope, b"content-length")
        if declared is not None and not declared.strip().isdigit():
            await refuse(send, 400, BAD_LENGTH, close=True, api=api)
            return
        length = int(declared) if declared is not None else None
        refusal = None
        if length is not None and length > limit:
            refusal = 413, TOO_LARGE
        elif media_type(scope).startswith("multipart/"):
            refusal = 415, NOT_MULTIPART
        if refusal is not None:
            # Read on only what is declared and small; anything else is left unread.
            close = length is None or length > DRAIN_BYTES or not await drain(receive)
            await refuse(send, *refusal, close=close, api=api)
            return
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(drained=message.get("more_body", False) is False
                                       or await drain(receive))
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except BodyTooLarge as exc:
            if started:
                raise
            await refuse(send, 413, TOO_LARGE, close=not exc.drained, api=api)
