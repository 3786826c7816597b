"""`verbinder demo`: a whole incident, end to end, on the embedded defaults.

It plays out one night in Voorbeeldstad on a simulated clock: the social map is imported, an
attack on a mosque is declared at 02:57, messages go out in each contact's language, people
answer (or not), timers escalate to backups, the liaison and whoever is on call, aftercare
follows a day later, and the coordinator closes the incident. Nothing leaves the machine: SMS
and email go to the console channel, written to a folder.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.table import Table
from sqlmodel import select

from engine.cli.output import plain, styled
from engine.clock import FakeClock
from engine.inbound.service import apply_inbound_text
from engine.incidents.flows import close_incident, declare_incident_flow
from engine.incidents.views import show_incident
from engine.oncall.importer import import_roster
from engine.oncall.queries import on_call_at
from engine.playbooks.service import load_configured
from engine.registry.health import check_health
from engine.registry.importer import import_registry
from engine.registry.service import load_snapshot
from engine.store.db import session_scope
from engine.store.models import Message
from engine.wiring import AppContext, build_channels
from engine.worker import Worker
from notifiers.base import InboundText
from playbook.model import IncidentInput

SAMPLE = Path(__file__).resolve().parent.parent / "sample" / "voorbeeldstad"
LOCAL = ZoneInfo("Europe/Amsterdam")
START = datetime(2026, 11, 28, 1, 57, tzinfo=UTC)  # 02:57 in Voorbeeldstad


def run_demo(base: AppContext, folder: Path, out: Console) -> int:
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


def _play(ctx: AppContext, clock: FakeClock, out: Console, folder: Path) -> int:
    worker = Worker(ctx, name="demo")
    _title(out, "1. Sociale kaart / social map")
    report = import_registry(ctx.engine, [SAMPLE], clock=clock)
    counts = report.as_dict()
    out.print(plain(f"Voorbeeldstad: {counts['communities']['added']} gemeenschappen/communities, "
                    f"{counts['contacts']['added']} sleutelfiguren/contacts, "
                    f"{counts['staff']['added']} medewerkers/staff"))
    with ctx.engine.connect() as conn:
        health = check_health(conn, now=clock.now(), consent_stale_days=365).as_dict()
    out.print(plain(f"Gezondheid/health: {_health_line(health)}"))
    with session_scope(ctx.engine) as session:
        import_roster(session, SAMPLE / "oncall.csv")
        on_call = [s.name for s in on_call_at(session, clock.now())]
    out.print(plain(f"Dienst nu/on call now: {', '.join(on_call) or '-'}"))

    _title(out, "2. Incident om 02:57 / declared at 02:57")
    playbook = load_configured(ctx)
    incident = IncidentInput(
        type="attack_on_place_of_worship", declared_at=clock.now(),
        title="Vernieling bij moskee / vandalism at a mosque", severity=4,
        fields={"target_faith": "islam", "target_community": "moskee-annour"}, exercise=True,
    )
    with session_scope(ctx.engine) as session:
        row, doc = declare_incident_flow(session, playbook=playbook, incident=incident,
                                         snapshot=load_snapshot(session.connection()),
                                         now=clock.now(), actor="demo")
    out.print(plain(f"Draaiboek/playbook {playbook.id} {playbook.version} "
                    f"({playbook.digest[:19]}…)"))
    roles: dict[str, int] = {}
    for c in doc["communities"]:
        roles[c["role"]] = roles.get(c["role"], 0) + 1
    out.print(plain("Gemeenschappen/communities: "
                    + ", ".join(f"{r} {n}" for r, n in roles.items())))
    for warning in doc["warnings"][:5]:
        out.print(styled("  ", ("let op/warning:", "yellow"), f" {warning}"))

    _phase(ctx, worker, out, "02:57 eerste berichten / first messages")
    first = _messages(ctx)
    replies = [(m, body) for m, body in zip(
        [m for m in first if m.channel == "sms" and m.recipient_kind == "contact"],
        ["OK", "1 2", "STOP"], strict=False)]
    for n, (m, body) in enumerate(replies):
        clock.advance(timedelta(minutes=2))
        with session_scope(ctx.engine) as session:
            what = apply_inbound_text(session, InboundText(f"SMdemo{n}", m.address, body),
                                      now=clock.now())
        out.print(plain(f"  {_local(clock.now())} sms-antwoord/reply '{body}' "
                        f"({', '.join(m.community_ids)}): {what}"))
    for minutes, label in ((15, "backup"), (30, "liaison"), (60, "on call / dienst"),
                           (180, "bridging: liaison")):
        clock.set(START + timedelta(minutes=minutes))
        _phase(ctx, worker, out, f"{_local(clock.now())} escalatie / escalation: {label}")
    staff = [m for m in _messages(ctx) if m.recipient_kind == "staff" and m.channel == "sms"]
    if staff:
        clock.advance(timedelta(minutes=3))
        with session_scope(ctx.engine) as session:
            apply_inbound_text(session, InboundText("SMdemo-staff", staff[0].address, "ok"),
                               now=clock.now())
        out.print(plain(f"  {_local(clock.now())} medewerker/staff {staff[0].recipient_id} "
                        "neemt over / takes over"))
    clock.set(START + timedelta(days=1, minutes=1))
    _phase(ctx, worker, out, "dag 1 nazorg / day 1 aftercare")

    _title(out, "3. Stand / where things are")
    with session_scope(ctx.engine) as session:
        view = show_incident(session, row.id)
        close_incident(session, incident_id=row.id, now=clock.now(), actor="demo")
    _summary(out, view)
    out.print(plain(f"\nIncident {row.id} gesloten/closed. Berichten/messages: "
                    f"{folder}/*.jsonl"))
    out.print(plain(f"Meer/more: verbinder --db sqlite:///{folder}/verbinder-demo.db incident "
                    f"show {row.id}"))
    return row.id


def _health_line(health: dict) -> str:
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


def _phase(ctx: AppContext, worker: Worker, out: Console, label: str) -> None:
    before = {m.id for m in _messages(ctx)}
    worker.run_cycle()
    new = [m for m in _messages(ctx) if m.id not in before]
    out.print(styled((label, "bold"), f": {len(new)} bericht(en)/message(s)"))
    table = Table(show_header=True, box=None, pad_edge=False)
    for column in ("aan/to", "kanaal", "taal", "voor/for", "status"):
        table.add_column(column)
    for m in new[:12]:
        table.add_row(plain(f"{m.recipient_kind} {m.recipient_id}"), plain(m.channel),
                      plain(m.locale), plain(", ".join(m.community_ids)[:48]), plain(m.state))
    if new:
        out.print(table)
    if len(new) > 12:
        out.print(plain(f"  … +{len(new) - 12}"))


def _messages(ctx: AppContext) -> list[Message]:
    with session_scope(ctx.engine) as session:
        return list(session.exec(select(Message).order_by(Message.id)))


def _summary(out: Console, view: dict) -> None:
    s = view["summary"]
    out.print(plain(f"Bereikt/reached {s['reached']} van/of {s['communities']}; "
                    f"berichten/messages {s['messages']}"))
    for c in view["communities"][:8]:
        who = c["acknowledged_by"] or "-"
        out.print(plain(f"  {c['role']:<9} {c['name'][:40]:<40} {c['status']:<13} {who}"))
    out.print(plain(f"Tijdlijn/timeline: {len(view['timeline'])} gebeurtenissen/events"))


def _title(out: Console, text: str) -> None:
    out.rule(plain(text, "bold"))


def _local(when: datetime) -> str:
    return when.astimezone(LOCAL).strftime("%H:%M")
