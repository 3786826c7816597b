"""`incident show` as text: status, per community its reach, tasks and answers, the timeline,
and at the end the replies that matched nothing. Reads the plain document of
`engine.incidents.service.show_incident`; prints data as text (never markup)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine.cli.output import plain, stdout, styled
from engine.cli.times import local_time

REACH_WORDS = {"reached": "bereikt / reached", "taken_over": "overgenomen door medewerker / "
               "taken over by staff", "open": "open"}
STATE_STYLE = {"done": "green", "overdue": "bold red", "open": ""}
STATE_WORDS = {"done": "klaar / done", "overdue": "te laat / overdue", "open": "open"}
OWNER_WORDS = {"liaison": "contactpersoon / liaison", "coordinator": "coördinator / coordinator",
               "oncall": "dienstdoende / on call"}


def when(iso: str | None, zone: str | None) -> str:
    """A UTC time of the document in the playbook's zone, with its offset."""
    return local_time(iso, zone)


def print_show(doc: dict[str, Any], *, zone: str | None = None,
               between: Callable[[], None] | None = None) -> None:
    """The whole incident, for a person, in `zone` (default: the incident's playbook's);
    `between` prints other parts' sections (open agreements) before the unmatched replies."""
    head, summary = doc["incident"], doc["summary"]
    zone = zone or head.get("timezone")
    stdout.print(styled((f"Incident {head['id']}", "bold"), f": {head['title']} ({head['type']}, "
                        f"ernst/severity {head['severity']}, {head['status']})",
                        (" OEFENING / EXERCISE" if head["exercise"] else "", "yellow")))
    stdout.print(plain(f"Gemeld / declared {when(head['declared_at'], zone)}"))
    print_summary(summary)
    for channel, h in doc["channels"].items():
        if h["failing"]:
            stdout.print(styled((f"{channel.upper()} is failing", "bold red"),
                                f": {h['failed']} failed, {h['accepted']} sent"))
    if summary["unknown"]:
        stdout.print(plain(f"{summary['unknown']} message(s) in unknown state: the provider "
                           "may or may not have sent them; they are not resent.", "yellow"))
    if doc["incident_tasks"]:
        stdout.print(plain("Incidenttaken / incident tasks (deadline, taak/task, "
                           "eigenaar/owner)", "bold"))
        print_tasks(doc["incident_tasks"], zone)
    for community in doc["communities"]:
        print_community(community, zone)
    if between is not None:  # other parts' sections (open agreements, issue 14)
        between()
    print_unmatched(doc.get("unmatched_replies", []), zone)
    print_timeline(doc["timeline"], zone)


def print_summary(summary: dict[str, Any]) -> None:
    """'Bereikt X van Y': a community's own contacts only; take-overs counted apart."""
    line = (f"Bereikt {summary['reached']} van {summary['communities']} / reached "
            f"{summary['reached']} of {summary['communities']}")
    if summary.get("taken_over"):
        line += (f"; overgenomen door medewerker / taken over by staff: "
                 f"{summary['taken_over']}")
    line += f"; open: {summary['open']}"
    stdout.print(plain(line, "bold"))
    overdue = summary.get("tasks_overdue", 0)
    stdout.print(styled(f"Taken open / tasks open: {summary.get('tasks_open', 0)}",
                        (f"; te laat / overdue: {overdue}" if overdue else "", "bold red")))
    stdout.print(plain("Berichten / messages: "
                       + (", ".join(f"{k} {v}" for k, v in summary["messages"].items()) or "-")))


def print_tasks(tasks: list[dict[str, Any]], zone: str | None, indent: str = "  ") -> None:
    """One line per task: state, deadline, title (the playbook's language) and id, owner, and
    who ticked it with their note."""
    for t in tasks:
        state = STATE_WORDS.get(t["state"], t["state"])
        if t["done_at"]:
            state += f" {when(t['done_at'], zone)}"
        owner = OWNER_WORDS.get(t.get("owner") or "", t.get("owner") or "-")
        if t.get("owner_staff"):
            owner += f" {t['owner_staff']['name']}"
        title = (t.get("title") or {}).get("nl") or next(iter((t.get("title") or {}).values()),
                                                          t["id"])
        extra = f"; door/by {t['done_by']}" if t.get("done_by") else ""
        if t.get("note"):
            extra += f": {t['note']}"
        stdout.print(styled(indent, (f"[{state}]", STATE_STYLE.get(t["state"], "")),
                            f" {when(t['due'], zone)} {title} ({t['id']}) - {owner}{extra}"))


def print_community(c: dict[str, Any], zone: str | None) -> None:
    """One community: reach, messages, next step, tasks, what it answered."""
    reach = REACH_WORDS.get(c.get("reach", c["status"]), c["status"])
    who = c.get("taken_over_by") or c.get("acknowledged_by")
    states: dict[str, int] = {}
    for m in c["messages"]:
        states[m["state"]] = states.get(m["state"], 0) + 1
    style = {"reached": "green", "taken_over": "yellow"}.get(c.get("reach", ""), "red")
    stdout.print()
    stdout.print(styled((f"{c['name']} ({c['id']})", "bold"), f" {c['role']}: ",
                        (reach, style), f" ({who}, {when(c['acknowledged_at'], zone)})"
                        if who else ""))
    nxt = c["next_step"]
    stdout.print(plain(
        "  berichten / messages: " + (", ".join(f"{k} {v}" for k, v in states.items()) or "-")
        + (f"; volgende stap / next step: {nxt['notify']} {when(nxt['due'], zone)}"
           if nxt else "")))
    print_tasks(c["tasks"], zone, "    ")
    for answer in c["intake"]:
        stdout.print(plain(f"  Antwoord / answer {when(answer['at'], zone)} "
                           f"(contact:{answer['by']}, {answer['source']}):", "bold"))
        for entry in answer.get("in_words", []):
            label = entry["label"]
            question = (f"{label.get('nl', entry['question'])} / "
                        f"{label.get('en', entry['question'])}") if label else entry["question"]
            words = entry["words"]
            said = (f"{words.get('nl', '')} / {words.get('en', '')}" if words
                    else entry.get("text") or "-")
            stdout.print(plain(f"    {question}: {said}"))


def print_unmatched(replies: list[dict[str, Any]], zone: str | None) -> None:
    """Replies that were no OK, no STOP and no answer digits: read by a person, or by no one."""
    stdout.print()
    if not replies:
        stdout.print(plain("Onbegrepen antwoorden / replies that matched nothing: geen / none"))
        return
    stdout.print(plain(f"Onbegrepen antwoorden / replies that matched nothing ({len(replies)})",
                       "bold yellow"))
    for r in replies:
        text = r["text"] if r["text"] is not None else "(gewist / erased)"
        stdout.print(plain(f"  {when(r['at'], zone)} {r['by']} "
                           f"[{', '.join(r['communities'])}]: {text}"))


def print_timeline(events: list[dict[str, Any]], zone: str | None) -> None:
    """The last events of the timeline."""
    stdout.print()
    stdout.print(plain("Tijdlijn / timeline (laatste / last 30)", "bold"))
    for e in events[-30:]:
        extra = " ".join(str(e[k]) for k in ("task", "note") if e.get(k))
        stdout.print(plain(f"{when(e['at'], zone)} {e['kind']} {e.get('community') or ''} "
                           f"{e.get('actor') or ''} {extra}".rstrip()))
