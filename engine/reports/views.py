"""What the templates show: an evaluation turned into words, times and numbers in one
language (the templates only lay them out)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

from engine.reports.callsheet import CallSheet
from engine.reports.charts import Lane, reach_chart, swimlane_charts
from engine.reports.evaluation import (
    CommunityFigures,
    Evaluation,
    RoleFigures,
    TaskState,
    need_label,
    reach_at,
)
from engine.reports.i18n import CHANNELS, NOTIFY, ROLES, duration, label, local_time, words
from engine.reports.period import IncidentLine, PeriodReport, type_name
from engine.reports.scripts import LANGUAGE_NAMES, direction, script_lines

MILESTONES = (15, 30, 60, 120, 240, 1440)


def percent(part: int, whole: int) -> str:
    """`3/4 (75%)`, or `0/0`."""
    if not whole:
        return "0/0"
    return f"{part}/{whole} ({round(100 * part / whole)}%)"


def head_rows(ev: Evaluation, lang: str) -> list[tuple[str, str]]:
    """The incident's facts as (label, value) rows."""
    w, h = words(lang), ev.head
    rows = [
        (w["type"], label(h.type_label, lang, h.type)),
        (w["severity"], f"{h.severity} / 5"),
        (w["declared"], local_time(h.declared_at, h.zone, lang)),
        (w["closed"], local_time(h.closed_at, h.zone, lang) if h.closed_at
         else w["still_open"]),
    ]
    if h.area:
        rows.append((w["area"], h.area))
    rows += [
        (w["playbook"], f"{h.playbook_id} {h.playbook_version}"),
        (w["digest"], h.playbook_digest),
        (w["events"], str(ev.events)),
        (w["generated"], local_time(ev.generated_at, h.zone, lang)),
    ]
    return rows


def role_rows(roles: list[RoleFigures], lang: str) -> list[dict[str, str]]:
    """Per role and overall: counts and medians."""
    return [{
        "role": ROLES[lang].get(r.role, r.role), "all": r.role == "all",
        "communities": str(r.communities), "reached": percent(r.reached, r.communities),
        "to_first": duration(r.to_first, lang), "to_delivery": duration(r.to_delivery, lang),
        "to_ack": duration(r.to_ack, lang), "to_staff": str(r.to_staff),
        "needs": f"{r.needs_met}/{r.needs_stated}",
    } for r in roles]


def milestone_rows(ev: Evaluation, lang: str) -> tuple[list[str], list[dict[str, Any]]]:
    """The share reached within 15 min .. 24 h, per role: the chart as a table."""
    headers = [duration(m, lang) for m in MILESTONES]
    rows = []
    for role, series in ev.reach_series().items():
        shares = [reach_at(series, m) for m in MILESTONES]
        rows.append({"role": ROLES[lang].get(role, role), "all": role == "all",
                     "shares": ["—" if s is None else f"{round(100 * s)}%" for s in shares]})
    return headers, rows


def channel_rows(ev: Evaluation, lang: str) -> list[dict[str, str]]:
    """Messages to contacts per channel: sent, delivered, failed, unknown."""
    return [{"channel": CHANNELS[lang].get(ch, ch), "sent": str(c["sent"]),
             "delivered": str(c["delivered"]), "failed": str(c["failed"]),
             "unknown": str(c["unknown"])} for ch, c in sorted(ev.channels.items())]


def task_line(t: TaskState, lang: str, zone: str) -> str:
    """A task with its state, for a list."""
    w = words(lang)
    title = label(t.title, lang, t.id)
    if t.state == "late" and t.done_at is not None:
        late = (t.done_at - t.due_at).total_seconds() / 60
        return f"{title} ({w['late']}: +{duration(late, lang)})"
    return f"{title} ({w[t.state]})"


def shortened(items: list[str], keep: int = 4) -> list[str]:
    """At most `keep` items; the rest counted (a row stays a few lines on paper)."""
    if len(items) <= keep:
        return items
    return [*items[:keep - 1], f"+{len(items) - keep + 1}"]


def community_row(ev: Evaluation, c: CommunityFigures, lang: str) -> dict[str, Any]:
    """One community's line of the evaluation."""
    w = words(lang)
    by = {"contact": w["by_contact"], "staff": w["by_staff"]}.get(c.acknowledged_by or "", "")
    if ev.include_pii and c.acknowledged_by_name:
        by = f"{by}: {c.acknowledged_by_name}"
    staff_steps = [s for s in c.steps if s.notify in ("liaison", "oncall", "coordinator")]
    counts = Counter(s.notify for s in c.steps)
    steps = ", ".join(NOTIFY[lang].get(n, n) + (f" ×{k}" if k > 1 else "")
                      for n, k in counts.items())
    met = {True: w["yes"], False: w["no"], None: w["none"]}[c.needs_met]
    return {
        "name": c.name, "role": ROLES[lang].get(c.role, c.role),
        "reached": c.acknowledged_at is not None,
        "to_first": duration(c.to_first, lang), "to_delivery": duration(c.to_delivery, lang),
        "to_ack": duration(c.to_ack, lang) if c.acknowledged_at else w["not_reached"],
        "ack_by": " · ".join(x for x in (by, c.ack_via or "") if x),
        "channels": ", ".join(CHANNELS[lang].get(ch, ch) for ch in sorted(c.channels_worked))
        or w["none"],
        "failed_channels": ", ".join(CHANNELS[lang].get(ch, ch)
                                     for ch in sorted(c.channels_failed - c.channels_worked)),
        "steps": f"{len(c.steps)}" + (f" ({len(staff_steps)} {w['to_staff']})"
                                      if staff_steps else ""),
        "steps_detail": steps,
        "needs": ", ".join(need_label(ev.playbook, n, lang) for n in c.needs) or w["none"],
        "needs_met": met,
        "remarks": c.remarks if ev.include_pii else [],
        "late": shortened([task_line(t, lang, ev.head.zone) for t in c.late_tasks]),
        "open": shortened([task_line(t, lang, ev.head.zone) for t in c.open_tasks]),
    }


def lanes(ev: Evaluation) -> list[Lane]:
    """The swimlanes: per community, its moments in minutes since declaration."""
    out = []
    for c in ev.communities:
        sent = [m for m in (c.to_first,) if m is not None]
        delivered = [m for m in (c.to_delivery,) if m is not None]
        needs = [m for m in (c.minutes_to(c.needs_at),) if m is not None]
        staff = [s.minutes for s in c.steps if s.notify in ("liaison", "oncall", "coordinator")]
        backup = [s.minutes for s in c.steps if s.notify not in
                  ("liaison", "oncall", "coordinator") and s.minutes > 0.5]
        out.append(Lane(name=c.name, role=c.role, end=c.to_ack, sent=sent + backup,
                        delivered=delivered, staff=staff, needs=needs,
                        followups=list(c.followups)))
    return out


def evaluation_view(ev: Evaluation, lang: str, *, charts: bool) -> dict[str, Any]:
    """Everything the evaluation templates show, in one language."""
    w = words(lang)
    headers, milestones = milestone_rows(ev, lang)
    view: dict[str, Any] = {
        "w": w, "lang": lang, "title": f"{w['evaluation']}: {ev.head.title}",
        "incident_id": ev.head.id, "incident_title": ev.head.title,
        "municipality": ev.head.municipality, "exercise": ev.head.exercise,
        "pii": ev.include_pii, "head": head_rows(ev, lang),
        "roles": role_rows(ev.roles(), lang), "milestone_headers": headers,
        "milestones": milestones, "channels": channel_rows(ev, lang),
        "communities": [community_row(ev, c, lang) for c in ev.communities],
        "incident_tasks": [{"title": label(t.title, lang, t.id),
                            "due": local_time(t.due_at, ev.head.zone, lang),
                            "done": local_time(t.done_at, ev.head.zone, lang)
                            if t.done_at else w["none"],
                            "state": w[t.state]} for t in ev.incident_tasks],
        "generated": local_time(ev.generated_at, ev.head.zone, lang),
        "reach_svg": None, "swimlane_svgs": [],
    }
    if charts and ev.communities:
        view["reach_svg"] = reach_chart(ev.reach_series(), lang)
        view["swimlane_svgs"] = swimlane_charts(lanes(ev), lang)
    return view


def callsheet_view(sheet: CallSheet, lang: str) -> dict[str, Any]:
    """Everything the call sheet shows, in one language (scripts in the contacts' own)."""
    w, head = words(lang), sheet.head
    title = head.title
    blocks = []
    for c in sheet.communities:
        values = {"municipality": head.municipality, "title": title, "community": c.name,
                  "liaison": c.liaison.name if c.liaison else None}
        scripts = [{"lang": s, "dir": direction(s),
                    "name": LANGUAGE_NAMES[lang].get(s, s),
                    "lines": script_lines(s, values),
                    "translation": script_lines(lang, values) if s != lang else None}
                   for s in c.script_languages]
        blocks.append({
            "name": c.name, "role": ROLES[lang].get(c.role, c.role),
            "reached": c.acknowledged_at is not None,
            "status": (f"{w['acknowledged']} {local_time(c.acknowledged_at, head.zone, lang)}"
                       + (f" {w['answered_by']} {c.acknowledged_by}" if c.acknowledged_by
                          else "")) if c.acknowledged_at else w["not_yet"],
            "liaison": c.liaison, "contacts": [{
                "priority": p.priority, "name": p.name, "role": p.role or "",
                "phone": p.phone or w["none"], "email": p.email or "",
                "channel": CHANNELS[lang].get(p.channel or "", p.channel or ""),
                "language": p.language or "", "sms_stopped": p.sms_stopped,
            } for p in c.contacts],
            "needs": ", ".join(need_label(sheet.playbook, n, lang) for n in c.needs),
            "remarks": c.remarks, "scripts": scripts,
        })
    return {
        "w": w, "lang": lang, "title": f"{w['callsheet']}: {title}",
        "incident_id": head.id, "incident_title": title, "municipality": head.municipality,
        "exercise": head.exercise, "type": label(head.type_label, lang, head.type),
        "declared": local_time(head.declared_at, head.zone, lang),
        "generated": local_time(sheet.generated_at, head.zone, lang),
        "on_call": sheet.on_call, "blocks": blocks,
    }


def period_view(report: PeriodReport, lang: str, *, charts: bool) -> dict[str, Any]:
    """Everything the period report shows, in one language."""
    w = words(lang)
    start = local_time(report.start, report.zone, lang).split(" ")[0]
    last = local_time(report.end - timedelta(seconds=1), report.zone, lang).split(" ")[0]
    series = report.reach_series()
    headers = [duration(m, lang) for m in MILESTONES]
    real = report.real

    def line(i: IncidentLine) -> dict[str, str]:
        return {"id": str(i.id), "declared": local_time(i.declared_at, report.zone, lang),
                "type": label(i.type_label, lang, i.type), "title": i.title,
                "severity": str(i.severity), "reached": percent(i.reached, i.communities)}

    view: dict[str, Any] = {
        "w": w, "lang": lang, "title": f"{w['period_report']} {start} – {last}",
        "period": f"{w['from']} {start} {w['to']} {last}", "municipality": "",
        "generated": local_time(report.generated_at, report.zone, lang),
        "real": [line(i) for i in real], "exercises": [line(i) for i in report.exercises],
        "by_type": [(type_name(report, t, lang), n) for t, n in report.by_type.most_common()],
        "by_severity": sorted(report.by_severity.items(), reverse=True),
        "roles": role_rows(report.roles(), lang) if real else [],
        "milestone_headers": headers,
        "milestones": [{"role": ROLES[lang].get(r, r), "all": r == "all",
                        "shares": ["—" if (s := reach_at(v, m)) is None else f"{round(100 * s)}%"
                                   for m in MILESTONES]} for r, v in series.items()]
        if real else [],
        "channels": [{"channel": CHANNELS[lang].get(ch, ch), "sent": str(c["sent"]),
                      "delivered": str(c["delivered"]), "failed": str(c["failed"]),
                      "unknown": str(c["unknown"])}
                     for ch, c in sorted(report.channels.items())],
        "escalated": percent(sum(1 for c in report.communities if c.to_staff),
                             len(report.communities)),
        "needs": [(report.need_labels[k][lang], n) for k, n in report.needs.most_common()],
        "tasks": {"all": report.tasks["all"], "late": report.tasks["late"],
                  "not_done": report.tasks["overdue"], "open": report.tasks["open"]},
        "reach_svg": None,
    }
    if charts and report.communities:
        view["reach_svg"] = reach_chart(series, lang)
    return view
