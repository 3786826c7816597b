"""Hostile requests to the web application, served by uvicorn on loopback.

Bodies are bounded before anything reads them (a declared length over the limit is refused
unread; a streamed one is cut off at the limit, and the server's memory stays far below the
body's size); multipart is refused before a parser could spool it; a link's token is checked
before its form is read; one link cannot be used to flood the timeline; every response
carries the security headers. A request that the server would wait on fails the test through
the socket's or client's timeout.
"""

from __future__ import annotations

import base64
import hashlib
import re
import socket
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine
from twilio.request_validator import RequestValidator

from engine.clock import FakeClock
from engine.links import tokens
from engine.store.models import Event, IntakeAnswer
from engine.web import app as web_app
from engine.web.bounds import INTAKE_BYTES, WEBHOOK_BYTES
from engine.wiring import INBOUND_PATH, STATUS_PATH, build_worker
from tests.smoke.server import (
    AHMED,
    DIRK_EMAIL,
    AppServer,
    declare,
    import_fixture_registry,
    link_tokens,
    message_to,
    rows,
    sent_body,
    serve_app,
    store_state,
)

AUTH_TOKEN = "hostile-auth-token-0123456789abcdef"
MIB = 1024 * 1024


@pytest.fixture
def app(sqlite_engine: Engine, clock: FakeClock, tmp_path: Path) -> Iterator[AppServer]:
    """The application on SQLite with console channels; webhooks signed with AUTH_TOKEN."""
    import_fixture_registry(sqlite_engine, clock)
    with serve_app(sqlite_engine, clock, tmp_path, twilio_auth_token=AUTH_TOKEN) as served:
        yield served


@dataclass
class Links:
    """The tokens of the scenario's links."""

    ack: str  # Dirk's (email, Dutch)
    intake: str  # Ahmed's (SMS, Arabic): for moskee-a and moskee-b


@pytest.fixture
def links(app: AppServer) -> Links:
    """An attack declared and its first messages sent (to the console channel)."""
    declare(app.ctx)
    build_worker(app.ctx, name="hostile-worker").run_cycle()
    (ack,) = link_tokens(sent_body(app.ctx, message_to(app.ctx, DIRK_EMAIL, "email")), "a")
    (intake,) = link_tokens(sent_body(app.ctx, message_to(app.ctx, AHMED)), "i")
    return Links(ack, intake)


@dataclass
class Answer:
    """A response read off a raw socket."""

    status: int
    headers: dict[str, str]


def raw_request(app: AppServer, head: str, body: bytes = b"", timeout: float = 10.0) -> Answer:
    """Send a hand-made request (the head, then `body` if any) and read the answer's head.

    The server must answer without the rest of the body; if it waits for it, the socket's
    timeout fails the test.
    """
    host, port = app.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(head.replace("\n", "\r\n").encode() + b"\r\n" + body)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    status_line, *lines = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return Answer(int(status_line.split()[1]), headers)


def post_head(path: str, length: str | int, content_type: str = "application/x-www-form-"
              "urlencoded") -> str:
    """The head of a POST that declares `length` bytes of body."""
    return (f"POST {path} HTTP/1.1\nHost: 127.0.0.1\nContent-Type: {content_type}\n"
            f"Content-Length: {length}\n")


def paths(links: Links) -> list[str]:
    """Every path that takes a POST."""
    return [STATUS_PATH + "?ref=m1", INBOUND_PATH, f"/i/{links.intake}", f"/a/{links.ack}"]


# --- bodies are bounded before they are read ----------------------------------------------------


def test_a_declared_oversized_body_is_refused_before_a_byte_is_read(
        app: AppServer, links: Links) -> None:
    before = store_state(app.ctx)
    for path in paths(links):
        answer = raw_request(app, post_head(path, 200 * MIB))  # and no body at all
        assert answer.status == 413, path
        assert answer.headers.get("connection") == "close", path
        assert answer.headers["x-content-type-options"] == "nosniff"
    for bad in ("abc", "-1", "1e9"):
        assert raw_request(app, post_head(INBOUND_PATH, bad)).status == 400
    assert store_state(app.ctx) == before


def test_the_limits_leave_room_for_real_requests(app: AppServer, links: Links) -> None:
    # A webhook just under its limit reaches the signature check; an intake form under its
    # limit is read.
    body = b"Body=" + b"x" * (WEBHOOK_BYTES - 5)
    assert app.client.post(INBOUND_PATH, content=body, headers={
        "content-type": "application/x-www-form-urlencoded"}).status_code == 403
    long_text = {"needs": "security", "remarks": "é" * (INTAKE_BYTES // 8)}
    assert app.client.post(f"/i/{links.intake}", data=long_text).status_code == 200


def chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    """`total` bytes of a form body in pieces, without holding them (one piece, reused): fields
    of 960 KiB each, just under what the form parser allows one field (the costliest case
    without a bound on the body: it keeps up to a thousand such fields)."""
    piece = b"a" * size
    for n in range(total // size):
        if n % 15 == 0:
            yield f"&f{n}=".encode()
        yield piece



@pytest.mark.parametrize("target", ["webhook", "intake"])
def test_a_streamed_body_is_cut_off_at_the_limit_and_memory_stays_low(
        app: AppServer, links: Links, target: str) -> None:
    path = INBOUND_PATH if target == "webhook" else f"/i/{links.intake}"
    before = store_state(app.ctx)
    size = 32 * MIB
    tracemalloc.start()
    try:
        with httpx.Client(base_url=app.url, timeout=30.0) as client:
            answer = client.post(path, content=chunks(size), headers={  # chunked: no length
                "content-type": "application/x-www-form-urlencoded"})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert answer.status_code == 413
    assert peak < 4 * MIB, f"{peak / MIB:.1f} MiB traced for a {size // MIB} MiB body"
    assert store_state(app.ctx) == before


def multipart(fields: dict[str, str], file_field: str) -> tuple[bytes, str]:
    """A small multipart/form-data body with one file."""
    boundary = "hostile0boundary"
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
             for k, v in fields.items()]
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{file_field}"; '
                 'filename="x.bin"\r\nContent-Type: application/octet-stream\r\n\r\n'
                 + "\0" * 1000 + "\r\n")
    return ("".join(parts) + f"--{boundary}--\r\n").encode(), \
        f"multipart/form-data; boundary={boundary}"


def test_multipart_and_file_fields_are_refused_unread(app: AppServer, links: Links) -> None:
    before = store_state(app.ctx)
    body, content_type = multipart({"Body": "OK", "From": AHMED}, "MediaUrl0")
    for path in (INBOUND_PATH, STATUS_PATH):
        answer = app.client.post(path, content=body, headers={"content-type": content_type})
        assert answer.status_code == 415, path
    body, content_type = multipart({"needs": "security"}, "needs")  # a file as the answer
    answer = app.client.post(f"/i/{links.intake}", content=body,
                             headers={"content-type": content_type})
    assert answer.status_code == 415
    answer = app.client.post(f"/i/{links.intake}", content=b'{"needs": ["security"]}',
                             headers={"content-type": "application/json"})
    assert answer.status_code == 415
    assert store_state(app.ctx) == before


def test_an_intake_link_is_checked_before_its_form_is_read(app: AppServer, links: Links) -> None:
    secret = app.ctx.links.secret
    nonce, sig = links.intake.split(".")
    unknown = tokens.token_for(secret, "s" * 20)  # signed by us, but no such link
    assert tokens.signature_ok(secret, unknown)
    for token in (f"{nonce}.{sig[:-1]}{'A' if sig[-1] != 'A' else 'B'}", unknown, links.ack):
        # The head promises a form the client never sends: the answer cannot wait for it.
        answer = raw_request(app, post_head(f"/i/{token}", 1000))
        assert answer.status == 410, token


# --- one link cannot flood the timeline ---------------------------------------------------------


def test_four_hundred_posts_to_one_link_make_one_answer_and_one_event_per_community(
        app: AppServer, links: Links) -> None:
    path = f"/i/{links.intake}"
    statuses = [app.client.post(path, data={"needs": "security"}).status_code
                for _ in range(400)]
    assert statuses[0] == 200
    assert set(statuses) == {200, 429}, "a flood is refused, never an error"
    assert statuses.count(200) <= 10
    answers = rows(app.ctx, IntakeAnswer)
    assert sorted(a.community_id for a in answers) == ["moskee-a", "moskee-b"]
    intake_events = [e for e in rows(app.ctx, Event) if e.kind.startswith("intake.")]
    assert sorted((e.kind, e.community_id) for e in intake_events) == [
        ("intake.answered", "moskee-a"), ("intake.answered", "moskee-b")]


def test_many_links_from_one_address_are_limited_too(app: AppServer, links: Links) -> None:
    secret = app.ctx.links.secret
    forged = [tokens.token_for(secret, f"{n:020d}") for n in range(100)]
    statuses = [app.client.get(f"/i/{t}").status_code for t in forged]
    assert statuses[:60] == [410] * 60
    assert set(statuses[60:]) == {429}
    busy = app.client.get(f"/a/{links.ack}")
    assert busy.status_code == 429 and int(busy.headers["retry-after"]) >= 1
    assert "Te veel pogingen" in busy.text and "Too many attempts" in busy.text


# --- headers ------------------------------------------------------------------------------------

PAGE_HEADERS = {"x-content-type-options": "nosniff", "referrer-policy": "no-referrer",
                "cache-control": "no-store"}


def assert_protected(response: httpx.Response) -> None:
    """The response carries the security headers, and its page needs no inline script."""
    csp = response.headers.get("content-security-policy", "")
    what = f"{response.request.method} {response.request.url.path} {response.status_code}"
    assert "frame-ancestors 'none'" in csp, what
    assert "default-src 'none'" in csp and "unsafe-inline" not in csp, what
    assert "script-src" not in csp, f"{what}: no script is allowed at all"
    for name, value in PAGE_HEADERS.items():
        assert response.headers.get(name) == value, f"{what}: {name}"
    for style in re.findall(r"<style>(.*?)</style>", response.text, re.S):
        digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in csp, f"{what}: its style is allowed by its hash"
    assert "<script" not in response.text.lower()


def test_every_response_carries_the_security_headers(
        app: AppServer, links: Links, monkeypatch: pytest.MonkeyPatch) -> None:
    client = app.client
    form = {"content-type": "application/x-www-form-urlencoded"}
    responses = [
        client.get(f"/a/{links.ack}"), client.get(f"/i/{links.intake}"),
        client.post(f"/i/{links.intake}", data={}),  # 422: the form again
        client.post(f"/i/{links.intake}", data={"needs": "security"}),  # thanks
        client.post(f"/a/{links.ack}"), client.get("/a/x.y"), client.post("/i/x.y"),
        client.post(INBOUND_PATH, data={"Body": "OK"}),  # 403
        client.post(STATUS_PATH, content=b"x" * (WEBHOOK_BYTES + 1), headers=form),  # 413
        client.post(INBOUND_PATH, content=b"{}", headers={"content-type": "application/json"}),
        client.get("/healthz"), client.get("/nowhere"), client.delete(f"/a/{links.ack}"),
    ]
    signed = {"From": AHMED, "Body": "OK", "MessageSid": "SM" + "1" * 32}
    signature = RequestValidator(AUTH_TOKEN).compute_signature(app.inbound_url, signed)
    responses.append(client.post(INBOUND_PATH, data=signed,
                                 headers={"x-twilio-signature": signature}))

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug in a page")

    monkeypatch.setattr(web_app, "view_link", broken, raising=False)  # a page that fails
    responses.append(client.get(f"/i/{links.intake}"))
    assert {r.status_code for r in responses} == {200, 403, 404, 405, 410, 413, 415, 422, 500}
    for response in responses:
        assert_protected(response)
