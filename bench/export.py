"""Benchmark: `incident export` of an incident with 100,000 events, each format.

Run: `.venv/bin/python -m bench.export [EVENTS ...]` (default 10,000 and 100,000). For each
size it bulk-loads a fresh SQLite file with one incident of 300 communities (BENCH_COMMUNITIES;
the default playbook frozen into it; per community: messages, fired timers, tasks, an answer and
EVENTS / communities events), then runs each format in a process of its own and reports wall time
(the export alone, measured inside that process) and the process's peak RSS. The same number
of communities at 10x the events shows whether memory stays flat as the incident grows.
Writes nothing into the repo.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from engine.playbooks.frozen import freeze_files
from engine.store.bulk import insert_rows
from engine.store.db import make_engine, migrate
from engine.store.models import (
    Event,
    Incident,
    IncidentCommunity,
    IncidentTask,
    IntakeAnswer,
    Message,
    Timer,
)
from playbook.loader import load_playbook

ROOT = Path(__file__).resolve().parent.parent
PLAYBOOK = ROOT / "playbook" / "default" / "playbook.yaml"
COMMUNITIES = int(os.environ.get("BENCH_COMMUNITIES", "300"))
FORMATS = ("jsonl", "csv", "md", "html", "pdf")
START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
ROLES = ("affected", "at_risk", "bridging", "informed")


def build_store(path: Path, events: int) -> None:
    """A SQLite store holding one closed incident with `events` events."""
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    playbook = load_playbook(PLAYBOOK)
    communities = [{"id": f"c{i:05d}", "name": f"Gemeenschap {i}", "role": ROLES[i % 4],
                    "rules": ["bench"], "escalation": "standard", "contacts": [], "tasks": []}
                   for i in range(COMMUNITIES)]
    checklist = {"incident": {"type": "attack_on_place_of_worship"}, "incident_tasks": [],
                 "communities": communities, "warnings": []}
    with engine.begin() as conn:
        conn.execute(Incident.__table__.insert().values(
            id=1, type="attack_on_place_of_worship", title="Benchmark", severity=4,
            fields={"target_faith": "islam"}, exercise=False, status="closed",
            declared_at=START, closed_at=START + timedelta(days=2), playbook_id=playbook.id,
            playbook_version=playbook.version, playbook_digest=playbook.digest,
            playbook_files=freeze_files(dict(playbook.files), playbook.main),
            checklist=checklist, checklist_key=uuid.uuid4().hex))
        _rows(conn, events)
    engine.dispose()


def _rows(conn: Any, events: int) -> None:
    per = max(1, events // COMMUNITIES)
    ics, tasks, timers, messages, answers, evs = [], [], [], [], [], []
    message_id = 0
    for i in range(COMMUNITIES):
        cid = f"c{i:05d}"
        acked = i % 3 != 0
        ics.append({"incident_id": 1, "community_id": cid, "role": ROLES[i % 4],
                    "escalation": "standard", "status": "acknowledged" if acked else "open",
                    "acknowledged_at": START + timedelta(minutes=3 + i % 50) if acked else None,
                    "acknowledged_by": f"contact:p{i}" if acked else None})
        for n, (task, kind) in enumerate((("first-contact", "outreach"),
                                          ("needs-intake", "intake"),
                                          ("security-check", "action"))):
            tasks.append({"incident_id": 1, "community_id": cid, "task_id": task, "kind": kind,
                          "due_at": START + timedelta(hours=1 + n),
                          "done_at": START + timedelta(minutes=30 + i % 120) if acked else None,
                          "done_by": "staff:st" if acked else None})
        for step, notify in enumerate(("primary", "backup", "liaison", "oncall")):
            timers.append({"incident_id": 1, "community_id": cid, "kind": "escalation",
                           "round": 0, "step_index": step, "notify": notify,
                           "template": "first_contact", "task_id": "",
                           "due_at": START + timedelta(minutes=15 * step),
                           "state": "fired" if step == 0 or not acked else "cancelled",
                           "fired_at": START + timedelta(minutes=15 * step)
                           if step == 0 or not acked else None})
        for k in range(5):
            message_id += 1
            messages.append({
                "id": message_id, "dedupe_key": f"1:{cid}:{k}", "incident_id": 1,
                "community_ids": [cid], "recipient_kind": "contact", "recipient_id": f"p{i}",
                "channel": "sms" if k % 2 == 0 else "email", "address": f"+3161{i:07d}",
                "locale": "nl", "body": "Gemeente Benchstad: ...", "step": f"esc:r0:s{k}",
                "state": "delivered" if k % 2 == 0 else "accepted",
                "created_at": START, "updated_at": START,
                "accepted_at": START + timedelta(seconds=5 + k),
                "delivered_at": START + timedelta(seconds=30 + k) if k % 2 == 0 else None})
        answers.append({"incident_id": 1, "community_id": cid, "contact_id": f"p{i}",
                        "form_id": "needs", "source": "web",
                        "answers": {"needs": ["security", "conversation"],
                                    "remarks": "Vrije tekst van een contactpersoon"},
                        "at": START + timedelta(minutes=20)})
        for e in range(per):
            kind = ("message.accepted", "message.delivered", "timer.fired")[e % 3]
            evs.append({"at": START + timedelta(seconds=e * 7 + i % 60), "kind": kind,
                        "incident_id": 1, "community_id": cid if kind == "timer.fired" else None,
                        "actor": "worker:bench",
                        "data": {"message": e, "channel": "sms", "step": "esc:r0:s0:primary",
                                 "recipient": f"contact:p{i}", "attempts": 1,
                                 "detail": None}})
        if len(evs) >= 20_000:
            insert_rows(conn, Event.__table__, evs)
            evs = []
    for table, rows in ((IncidentCommunity, ics), (IncidentTask, tasks), (Timer, timers),
                        (Message, messages), (IntakeAnswer, answers), (Event, evs)):
        for n in range(0, len(rows), 5_000):
            insert_rows(conn, table.__table__, rows[n:n + 5_000])


CHILD = """
import json, resource, sys, time
from datetime import UTC, datetime
from pathlib import Path
from engine.reports.service import export_incident
from engine.store.db import make_engine
engine = make_engine(sys.argv[1])
t = time.perf_counter()
export_incident(engine, incident_id=1, fmt=sys.argv[2], output=Path(sys.argv[3]),
                include_pii=False, lang="nl", actor="cli:bench", now=datetime.now(UTC))
took = time.perf_counter() - t
print(json.dumps({"seconds": took,
                  "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def run_format(db: Path, fmt: str, folder: Path) -> dict[str, float]:
    """Export one format in a fresh process: its time and peak RSS."""
    out = folder / f"export.{fmt}"
    done = subprocess.run([sys.executable, "-c", CHILD, f"sqlite:///{db}", fmt, str(out)],
                          check=True, capture_output=True, text=True, cwd=ROOT)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["bytes"] = out.stat().st_size
    return result


def main(sizes: list[int]) -> None:
    """Build each store and export it in every format."""
    print(f"{COMMUNITIES} communities; times are the export alone (fresh process each)")
    print(f"{'events':>8} {'format':>6} {'seconds':>8} {'peak RSS MiB':>13} {'size':>12}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for events in sizes:
            db = folder / f"bench-{events}.db"
            build_store(db, events)
            for fmt in FORMATS:
                r = run_format(db, fmt, folder)
                print(f"{events:>8} {fmt:>6} {r['seconds']:>8.2f} {r['rss_mib']:>13.0f} "
                      f"{r['bytes']:>12,}", flush=True)
            os.unlink(db)


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [10_000, 100_000])
