"""Benchmark: the incident board of an incident with 500 communities, and the intake form
under 50 concurrent clients, over loopback HTTP.

Run: `.venv/bin/python -m bench.board [--communities 500] [--requests 200] [--clients 50]
[--rounds 10] [--backend sqlite|postgresql|all]`. For each backend it makes a fresh store,
imports a generated registry, declares one incident over every community (one SMS contact
each, an intake task), sends its messages through a recording channel, marks one in five
acknowledged, and serves the application with uvicorn in a process of its own (so that the
clients do not share its interpreter). Then it reports p50/p95 of:
  board page      GET /incidents/1 as a logged-in coordinator, one request at a time;
                  "changed": a message's updated_at is moved before each request (not
                  timed), so the board is read and rendered anew; "nothing changed": the
                  board and its fragment kept for the version are served
  board fragment  the same with HX-Request: what a poll gets when something changed
  board poll      the poll when nothing changed: the version is compared, 204, no body
  intake GET/POST 50 clients at once (a thread and a keep-alive connection each), each with
                  its own link and address (X-Forwarded-For, as behind the proxy), `rounds`
                  page views and one answer each
"""

from __future__ import annotations

import argparse
import html
import http.client
import multiprocessing as mp
import re
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, update
from sqlmodel import col, select

from bench.generate import write_registry
from bench.support import (
    backends,
    bench_registry,
    make_context,
    percentile,
    print_table,
    throwaway_store,
)
from engine.accounts.service import add_account
from engine.accounts.sessions import FULL, open_session
from engine.incidents import service
from engine.incidents.options import IncidentOptions, incident_input_from_options
from engine.registry.importer import import_registry
from engine.store.db import session_scope
from engine.store.models import Message
from engine.web.access import SESSION_COOKIE
from engine.wiring import build_worker
from notifiers.base import OutboundMessage, Outcome, SendResult

PLAYBOOK = """\
playbook:
  id: bench-board
  version: "1"
  name: "Benchstad"
  default_locale: nl
  timezone: Europe/Amsterdam
incident_types:
  bench:
    label: {nl: "Benchmark", en: "Benchmark"}
rules:
  - id: everyone
    select: "true"
    role: affected
    tasks: [first-contact, needs-intake]
    escalation: primary-now
tasks:
  first-contact:
    title: {nl: "Contact leggen", en: "Make contact"}
    due: 1h
    kind: outreach
    owner: liaison
  needs-intake:
    title: {nl: "Behoeften uitvragen", en: "Ask for needs"}
    due: 24h
    kind: intake
    intake_form: needs
    owner: liaison
escalation_policies:
  primary-now:
    steps:
      - {after: 0m, notify: primary, template: first_contact}
      - {after: 30m, notify: backup, template: first_contact}
intake_forms:
  needs:
    title: {nl: "Wat heeft u nodig?", en: "What do you need?"}
    questions:
      - id: needs
        type: multi
        label: {nl: "Waarbij kunnen wij helpen?", en: "How can we help?"}
        options:
          - {id: security, label: {nl: "Beveiliging", en: "Security"}, sms: "1"}
          - {id: conversation, label: {nl: "Een gesprek", en: "A conversation"}, sms: "2"}
templates:
  first_contact:
    sms:
      nl: "Gemeente {{ municipality }}: {{ incident.title }}. Antwoord OK. {{ intake_url }}"
      en: "Municipality {{ municipality }}: {{ incident.title }}. Reply OK. {{ intake_url }}"
    email:
      subject: {nl: "Gemeente {{ municipality }}", en: "Municipality {{ municipality }}"}
      body: {nl: "Bevestig: {{ ack_url }}", en: "Confirm: {{ ack_url }}"}
"""
INTAKE_LINK = re.compile(r"/i/([A-Za-z0-9_.-]+)")
POLL_URL = re.compile(r'id="board"[^>]* hx-get="([^"]+)"')


@dataclass
class Recorder:
    """A channel that accepts everything and keeps the bodies (to find the intake links)."""

    channel: str
    bodies: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def send(self, message: OutboundMessage) -> SendResult:
        """Keep the body; accepted."""
        with self._lock:
            self.bodies.append(message.body)
        return SendResult(Outcome.ACCEPTED, provider_id=f"bench-{message.reference}")


def prepare(url: str, folder: Path, communities: int) -> tuple[str, list[str]]:
    """A store with the registry, the incident declared and sent; the coordinator's session
    cookie and the intake tokens."""
    playbook_path = folder / "playbook.yaml"
    playbook_path.write_text(PLAYBOOK, encoding="utf-8")
    sms = Recorder("sms")
    ctx = make_context(url, channels={"sms": sms, "email": Recorder("email")},
                       playbook=str(playbook_path))
    import_registry(ctx.engine, write_registry(folder / "registry",
                                               bench_registry(communities)), clock=ctx.clock)
    playbook = ctx.load_playbook()
    incident = incident_input_from_options(
        playbook, IncidentOptions(type="bench", title="Benchmark"), ctx.clock)
    now = ctx.clock.now()
    with session_scope(ctx.engine) as session:
        declared = service.declare(session=session, playbook=playbook, incident=incident,
                                   now=now)
    build_worker(ctx, name="bench-board").run_cycle()
    with session_scope(ctx.engine) as session:
        board = service.incident_board(session=session, incident_id=declared.incident_id)
        ids = [c["id"] for c in board["communities"]]
        service.acknowledge(session=session, incident_id=declared.incident_id,
                            community_ids=ids[::5], by="staff:bench", now=now, via="staff")
        account, _ = add_account(session, email="coordinator@example.org", role="coordinator",
                                 staff_id=None, now=now, key=ctx.totp_key)
        assert account.id is not None
        cookie = open_session(session, account_id=account.id, stage=FULL, now=now)
    tokens = [m.group(1) for body in sms.bodies if (m := INTAKE_LINK.search(body))]
    ctx.engine.dispose()
    return cookie, tokens


def _serve(url: str, playbook: str, sock: socket.socket) -> None:
    import uvicorn

    from engine.web.app import create_app
    from engine.web.server import server_config, settle_heap

    ctx = make_context(url, playbook=playbook)
    config = server_config(create_app(ctx))
    settle_heap()  # as `verbinder serve` does
    uvicorn.Server(config).run(sockets=[sock])


def _get(base: str, path: str, headers: dict[str, str] | None = None
         ) -> tuple[int, bytes]:
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        conn.request("GET", path, headers=headers or {})
        answer = conn.getresponse()
        return answer.status, answer.read()
    finally:
        conn.close()


def serve(url: str, playbook: str) -> tuple[mp.Process, str]:
    """The application served in a process of its own on a loopback port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    process = mp.get_context("fork").Process(target=_serve, args=(url, playbook, sock),
                                             daemon=True)
    process.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if _get(base, "/healthz")[0] == 200:
                return process, base
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("the application did not start")


class Client:
    """One keep-alive HTTP connection to the server (the standard library's)."""

    def __init__(self, base: str, headers: dict[str, str]) -> None:
        host, port = base.removeprefix("http://").split(":")
        self.conn = http.client.HTTPConnection(host, int(port), timeout=60)
        self.headers = headers

    def request(self, method: str, path: str, body: str | None = None) -> tuple[int, bytes]:
        """Send one request; the status and the body."""
        headers = dict(self.headers)
        if body is not None:
            headers["content-type"] = "application/x-www-form-urlencoded"
        self.conn.request(method, path, body=body, headers=headers)
        answer = self.conn.getresponse()
        return answer.status, answer.read()

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()


class Changer:
    """Moves one message's `updated_at` in the store (past every other, which the version
    takes the latest of), as a delivery report would: the board's version changes, so the
    next request reads and renders the board anew (nothing kept)."""

    def __init__(self, url: str) -> None:
        self.ctx = make_context(url)
        self.step = 0

    def __call__(self) -> None:
        self.step += 1
        with session_scope(self.ctx.engine) as session:
            first = session.exec(select(func.min(Message.id))).one()
            session.exec(update(Message).where(col(Message.id) == first).values(
                updated_at=datetime(2100, 1, 1, tzinfo=UTC) + timedelta(seconds=self.step)))

    def close(self) -> None:
        """Let go of the store."""
        self.ctx.engine.dispose()


def time_board(base: str, cookie: str, requests: int, fragment: bool,
               poll: bool = False, change: Callable[[], None] | None = None
               ) -> tuple[list[float], int]:
    """Latencies (ms) of `requests` board requests one after another, and the body size: the
    page, its fragment, or (`poll`) the fragment asked with the version it shows (204);
    `change`, called before each request (not timed), makes every one a board changed."""
    headers = {"cookie": f"{SESSION_COOKIE}={cookie}"}
    if fragment:
        headers["hx-request"] = "true"
    times: list[float] = []
    size = 0
    client = Client(base, headers)
    try:
        path = "/incidents/1"
        if poll:
            found = POLL_URL.search(client.request("GET", path)[1].decode())
            if found is None:
                raise RuntimeError("the board's fragment has no polling address")
            path = html.unescape(found.group(1))
        for n in range(requests + 5):
            if change is not None:
                change()
            started = time.perf_counter()
            status, body = client.request("GET", path)
            elapsed = (time.perf_counter() - started) * 1000
            if status != (204 if poll else 200):
                raise RuntimeError(f"board: {status}")
            size = len(body)
            if n >= 5:  # the first few warm the caches
                times.append(elapsed)
    finally:
        client.close()
    return times, size


def _intake_client(base: str, n: int, token: str, rounds: int, gets: list[float],
                   posts: list[float], statuses: dict[int, int], lock: threading.Lock,
                   start: threading.Barrier) -> None:
    client = Client(base, {"x-forwarded-for": f"198.51.100.{n % 250 + 1}"})
    mine: list[tuple[str, float, int]] = []
    try:
        start.wait()
        for _ in range(rounds):
            started = time.perf_counter()
            status, _ = client.request("GET", f"/i/{token}")
            mine.append(("get", (time.perf_counter() - started) * 1000, status))
        started = time.perf_counter()
        status, _ = client.request("POST", f"/i/{token}",
                                   "needs=security&needs=conversation")
        mine.append(("post", (time.perf_counter() - started) * 1000, status))
    finally:
        client.close()
    with lock:
        for kind, elapsed, status in mine:
            (gets if kind == "get" else posts).append(elapsed)
            statuses[status] = statuses.get(status, 0) + 1


def time_intake(base: str, tokens: list[str], clients: int, rounds: int
                ) -> tuple[list[float], list[float], dict[int, int], float]:
    """Latencies (ms) of intake page views and answers with `clients` at once (a thread
    each); statuses and the wall time."""
    gets: list[float] = []
    posts: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    start = threading.Barrier(clients + 1)
    threads = [threading.Thread(target=_intake_client, args=(
        base, n, tokens[n % len(tokens)], rounds, gets, posts, statuses, lock, start))
        for n in range(clients)]
    for thread in threads:
        thread.start()
    start.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    return gets, posts, statuses, time.perf_counter() - started


def run(backend: str, args: argparse.Namespace) -> list[list[Any]]:
    """The table rows of one backend."""
    with throwaway_store(backend) as url, tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        cookie, tokens = prepare(url, folder, args.communities)
        if len(tokens) < args.clients:
            raise RuntimeError(f"only {len(tokens)} intake links for {args.clients} clients")
        process, base = serve(url, str(folder / "playbook.yaml"))
        try:
            changer = Changer(url)
            try:
                page, page_size = time_board(base, cookie, args.requests, fragment=False,
                                             change=changer)
                part, part_size = time_board(base, cookie, args.requests, fragment=True,
                                             change=changer)
            finally:
                changer.close()
            again, _ = time_board(base, cookie, args.requests, fragment=False)
            kept, _ = time_board(base, cookie, args.requests, fragment=True)
            poll, _ = time_board(base, cookie, args.requests, fragment=True, poll=True)
            gets, posts, statuses, wall = time_intake(base, tokens, args.clients, args.rounds)
        finally:
            process.kill()
            process.join()
    label = f"{backend}, {args.communities} communities"
    return [
        [label, "board page (changed)", len(page), f"{percentile(page, 50):.1f}",
         f"{percentile(page, 95):.1f}", f"{page_size // 1024} KiB"],
        [label, "board fragment (changed)", len(part), f"{percentile(part, 50):.1f}",
         f"{percentile(part, 95):.1f}", f"{part_size // 1024} KiB"],
        [label, "board page, nothing changed", len(again), f"{percentile(again, 50):.1f}",
         f"{percentile(again, 95):.1f}", "board and fragment kept"],
        [label, "board fragment, nothing changed", len(kept), f"{percentile(kept, 50):.1f}",
         f"{percentile(kept, 95):.1f}", "as another viewer gets it"],
        [label, "board poll, nothing new (204)", len(poll), f"{percentile(poll, 50):.1f}",
         f"{percentile(poll, 95):.1f}", "one version query"],
        [f"{backend}, {args.clients} clients", "intake page GET", len(gets),
         f"{percentile(gets, 50):.1f}", f"{percentile(gets, 95):.1f}",
         f"{len(gets) / wall:.0f} req/s overall"],
        [f"{backend}, {args.clients} clients", "intake answer POST", len(posts),
         f"{percentile(posts, 50):.1f}", f"{percentile(posts, 95):.1f}",
         "statuses " + ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items()))],
    ]


def main() -> None:
    """Parse the options, run each backend, print one table."""
    parser = argparse.ArgumentParser(prog="python -m bench.board")
    parser.add_argument("--communities", type=int, default=500)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--backend", default="all")
    args = parser.parse_args()
    rows: list[list[Any]] = []
    for backend in backends(args.backend):
        rows.extend(run(backend, args))
    print_table(["store", "what", "requests", "p50 ms", "p95 ms", "notes"], rows)


if __name__ == "__main__":
    main()
