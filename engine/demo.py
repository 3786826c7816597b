"""`verbinder demo`: a whole incident, end to end, on the embedded defaults.

It plays out one night in Voorbeeldstad on a simulated clock: the social map is imported, an
attack on a mosque is declared at 02:57, messages go out in each contact's language, people
answer (or not), timers escalate to backups, the liaison and whoever is on call, aftercare
follows a day later, and the coordinator closes the incident. Nothing leaves the machine: SMS
and email go to the console channel, written to a folder.

It runs on the services a command or a web request calls, and tells what happens through a
`DemoOutput` (titles, lines of text pieces, small tables); the command line prints those.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlmodel import col, select

from engine.clock import FakeClock
from engine.inbound.service import apply_inbound_text
from engine.incidents import service as incidents
from engine.oncall import service as oncall
from engine.peacetime import service as peacetime
from engine.peacetime.history import import_history
from engine.registry import service as registry
from engine.store.db import session_scope
from engine.store.models import Message
from engine.wiring import AppContext, build_channels, build_worker
from engine.worker import Worker
from notifiers.base import InboundText
from playbook.model import IncidentInput, Playbook

# The sample municipality, inside the package (engine/sample links to the repository's
# sample/), so that an installed wheel runs the demo too.
SAMPLE = Path(__file__).resolve().parent / "sample" / "voorbeeldstad"
LOCAL = ZoneInfo("Europe/Amsterdam")
START = datetime(2026, 11, 28, 1, 57, tzinfo=UTC)  # 02:57 in Voorbeeldstad

# A piece of a line: text, or (text, style) with a style such as "bold" or "yellow".
Piece = str | tuple[str, str]


class DemoOutput(Protocol):
    """Where the demo tells what happens; every piece of text is data, never markup."""

    def title(self, text: str) -> None:
        """A section title."""

    def line(self, *pieces: Piece) -> None:
        """One line of text pieces."""

    def table(self, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        """A small table without borders."""


def run_demo(base: AppContext, folder: Path, out: DemoOutput) -> int:
    """Play the demo into `folder` (database and console outbox); returns the incident id."""
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "verbinder-demo.db"
    for stale in folder.glob("verbinder-demo.db*"):
        stale.unlink()
    for stale in folder.glob("*.jsonl"):
        stale.unlink()
    settings = base.settings.replace(database_url=f"sqlite:///{db}", console_dir=str(folder))
    clock = FakeClock(START)
    with open(os.devnull, "w") as quiet:
        ctx = AppContext(settings=settings, clock=clock, playbook_path=base.playbook_path,
                         channels_override=build_channels(settings, console_stream=quiet))
        return _play(ctx, clock, out, folder)


def _play(ctx: AppContext, clock: FakeClock, out: DemoOutput, folder: Path) -> int:
    worker = build_worker(ctx, name="demo")
    out.title("1. Sociale kaart / social map")
    report = registry.import_registry(engine=ctx.engine, paths=[SAMPLE], clock=clock)
    counts = report.as_dict()
    out.line(f"Voorbeeldstad: {counts['communities']['added']} gemeenschappen/communities, "
             f"{counts['contacts']['added']} sleutelfiguren/contacts, "
             f"{counts['staff']['added']} medewerkers/staff")
    health = registry.registry_health(engine=ctx.engine, now=clock.now(),
                                      consent_stale_days=365).as_dict()
    out.line(f"Gezondheid/health: {_health_line(health)}")
    oncall.import_roster(engine=ctx.engine, paths=[SAMPLE / "oncall.csv"])
    on_call = [s.name for s in oncall.on_call(engine=ctx.engine, at=clock.now()).on_call]
    out.line(f"Dienst nu/on call now: {', '.join(on_call) or '-'}")
    playbook = ctx.load_playbook()
    _peace_time(ctx, clock, out, playbook)

    out.title("2. Incident om 02:57 / declared at 02:57")
    incident = IncidentInput(
        type="attack_on_place_of_worship", declared_at=clock.now(),
        title="Vernieling bij moskee / vandalism at a mosque", severity=4,
        fields={"target_faith": "islam", "target_community": "moskee-annour"}, exercise=True,
    )
    with session_scope(ctx.engine) as session:
        declared = incidents.declare(session=session, playbook=playbook, incident=incident,
                                     now=clock.now(), actor="demo")
    incident_id = declared.incident_id
    out.line(f"Draaiboek/playbook {playbook.id} {playbook.version} ({playbook.digest[:19]}…)")
    roles: dict[str, int] = {}
    for c in declared.checklist["communities"]:
        roles[c["role"]] = roles.get(c["role"], 0) + 1
    out.line("Gemeenschappen/communities: " + ", ".join(f"{r} {n}" for r, n in roles.items()))
    for warning in declared.warnings[:5]:
        out.line("  ", ("let op/warning:", "yellow"), f" {warning}")

    _phase(ctx, worker, out, "02:57 eerste berichten / first messages")
    first = _messages(ctx)
    replies = [(m, body) for m, body in zip(
        [m for m in first if m.channel == "sms" and m.recipient_kind == "contact"],
        ["OK", "1 2", "STOP"], strict=False)]
    for n, (m, body) in enumerate(replies):
        clock.advance(timedelta(minutes=2))
        with session_scope(ctx.engine) as session:
            what = apply_inbound_text(session=session,
                                      text=InboundText(f"SMdemo{n}", m.address, body),
                                      now=clock.now())
        out.line(f"  {_local(clock.now())} sms-antwoord/reply '{body}' "
                 f"({', '.join(m.community_ids)}): {what}")
    for minutes, label in ((15, "backup"), (30, "liaison"), (60, "on call / dienst"),
                           (180, "bridging: liaison")):
        clock.set(START + timedelta(minutes=minutes))
        _phase(ctx, worker, out, f"{_local(clock.now())} escalatie / escalation: {label}")
    staff = [m for m in _messages(ctx) if m.recipient_kind == "staff" and m.channel == "sms"]
    if staff:
        clock.advance(timedelta(minutes=3))
        with session_scope(ctx.engine) as session:
            apply_inbound_text(session=session,
                               text=InboundText("SMdemo-staff", staff[0].address, "ok"),
                               now=clock.now())
        out.line(f"  {_local(clock.now())} medewerker/staff {staff[0].recipient_id} "
                 "neemt over / takes over")
    clock.set(START + timedelta(days=1, minutes=1))
    _phase(ctx, worker, out, "dag 1 nazorg / day 1 aftercare")

    out.title("3. Stand / where things are")
    with session_scope(ctx.engine) as session:
        view = incidents.show_incident(session=session, incident_id=incident_id)
        incidents.close(session=session, incident_id=incident_id, now=clock.now(), actor="demo")
    _summary(out, view)
    _agreements(ctx, out, view)
    out.line(f"\nIncident {incident_id} gesloten/closed. Berichten/messages: {folder}/*.jsonl")
    out.line(f"Meer/more: verbinder --db sqlite:///{folder}/verbinder-demo.db incident "
             f"show {incident_id}")
    return incident_id


def _peace_time(ctx: AppContext, clock: FakeClock, out: DemoOutput, playbook: Playbook) -> None:
    """Half a year of contact history: who is due, how crisis-ready, Monday's digests."""
    counts = import_history(engine=ctx.engine, path=SAMPLE / "peacetime", now=clock.now())
    out.line(f"Vredestijd/peace time: {counts['contacts']} contactmomenten/contacts in een "
             f"halfjaar/over half a year, {counts['agreements']} afspraken/agreements")
    due = peacetime.due_communities(engine=ctx.engine, playbook=playbook, now=clock.now())
    out.line(f"Aan de beurt binnen/due within {due.within_days} d: {due.count} "
             f"gemeenschappen/communities bij/with {len(due.liaisons)} "
             "contactpersonen/liaisons")
    ready = peacetime.crisis_readiness(engine=ctx.engine, playbook=playbook, now=clock.now(),
                                       consent_stale_days=ctx.settings.consent_stale_days)
    out.line(f"Crisisklaar/crisis-ready: {len(ready.communities) - len(ready.not_ready)} "
             f"van/of {len(ready.communities)}")
    digests = peacetime.preview_digests(engine=ctx.engine, playbook=playbook, now=clock.now())
    out.line(f"Wekelijkse digest/weekly digest: {len(digests)} e-mail(s) aan/to liaisons")


def _agreements(ctx: AppContext, out: DemoOutput, view: dict[str, Any]) -> None:
    """The open agreements with the communities the incident touched: the relationship's
    context, at hand."""
    ids = [c["id"] for c in view["communities"]]
    found = peacetime.open_agreements(engine=ctx.engine, communities=ids)
    for community, agreements in found.items():
        for a in agreements:
            out.line(f"  afspraak/agreement {community}: {a['text'][:80]}")


def _health_line(health: dict[str, Any]) -> str:
    parts = []
    for key, label in (
        ("communities_without_eligible_contact", "zonder bereikbaar contact/no reachable contact"),
        ("communities_with_one_eligible_contact", "met één contact/single point of failure"),
        ("contacts_without_consent", "contacten zonder toestemming/without consent"),
        ("communities_without_liaison", "zonder vaste contactpersoon/without liaison"),
    ):
        if key in health:
            parts.append(f"{len(health[key])} {label}")
    return "; ".join(parts) or "ok"


def _phase(ctx: AppContext, worker: Worker, out: DemoOutput, label: str) -> None:
    before = {m.id for m in _messages(ctx)}
    worker.run_cycle()
    new = [m for m in _messages(ctx) if m.id not in before]
    out.line((label, "bold"), f": {len(new)} bericht(en)/message(s)")
    if new:
        out.table(("aan/to", "kanaal", "taal", "voor/for", "status"), [
            (f"{m.recipient_kind} {m.recipient_id}", m.channel, m.locale,
             ", ".join(m.community_ids)[:48], m.state) for m in new[:12]])
    if len(new) > 12:
        out.line(f"  … +{len(new) - 12}")


def _messages(ctx: AppContext) -> list[Message]:
    with session_scope(ctx.engine) as session:
        return list(session.exec(select(Message).order_by(col(Message.id))))


def _summary(out: DemoOutput, view: dict[str, Any]) -> None:
    s = view["summary"]
    out.line(f"Bereikt/reached {s['reached']} van/of {s['communities']}; "
             f"berichten/messages {s['messages']}")
    for c in view["communities"][:8]:
        who = c["acknowledged_by"] or "-"
        out.line(f"  {c['role']:<9} {c['name'][:40]:<40} {c['status']:<13} {who}")
    out.line(f"Tijdlijn/timeline: {len(view['timeline'])} gebeurtenissen/events")


def _local(when: datetime) -> str:
    return when.astimezone(LOCAL).strftime("%H:%M")
