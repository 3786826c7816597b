"""Peace time on the command line, SQLite and PostgreSQL: exit codes, --json documents, text
output, refusals that change nothing, and the blocks added to `registry health` and
`incident show`."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from engine.store.models import Agreement, ContactLog, LiaisonChange, Message
from tests.cli_support import run_cli

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOK = ROOT / "tests" / "fixtures" / "peacetime" / "playbook.yaml"
REGISTRY = ROOT / "tests" / "fixtures" / "peacetime_registry"
SAMPLE = ROOT / "sample" / "voorbeeldstad"

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def run(any_engine: Engine, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> Run:
    """`verbinder --db <this test's database> --playbook <peace-time playbook> ARGS`."""
    monkeypatch.chdir(tmp_path)
    for name in ("VERBINDER_DATABASE_URL", "VERBINDER_PLAYBOOK", "TWILIO_ACCOUNT_SID",
                 "SMTP_HOST"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("VERBINDER_SECRET_KEY", "test-secret")
    monkeypatch.setenv("VERBINDER_CONSOLE_DIR", str(tmp_path / "outbox"))
    db = any_engine.url.render_as_string(hide_password=False)

    def _run(*args: str, playbook: Path = PLAYBOOK) -> tuple[int, str, str]:
        return run_cli(monkeypatch, capsys, ["--db", db, "--playbook", str(playbook),
                                          *args])

    assert _run("registry", "import", str(REGISTRY))[0] == 0
    return _run


def _count(engine: Engine, table: sa.Table) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def test_contact_log_and_list(run: Run) -> None:
    code, out, err = run("contact", "log", "--community", "moskee-a", "--community", "kerk-b",
                         "--kind", "meeting", "--by", "st-one", "--with", "a1",
                         "--at", "2026-11-02T19:30:00+01:00", "--place", "Stadhuis",
                         "--neutral-ground", "--note", "Eerste verbindende avond", "--json")
    assert code == 0, err
    logged = json.loads(out)
    assert logged["at"] == "2026-11-02T18:30:00Z" and logged["neutral_ground"] is True
    assert "note" not in logged
    code, out, _ = run("contact", "list", "--json")
    assert code == 0
    (entry,) = json.loads(out)["contacts"]
    assert entry["communities"] == ["kerk-b", "moskee-a"] and "note" not in entry
    code, out, err = run("contact", "list", "--include-notes", "--json")
    assert json.loads(out)["contacts"][0]["note"] == "Eerste verbindende avond"
    assert "personal data" in err
    code, out, _ = run("contact", "list", "--community", "kerk-b")
    assert code == 0 and "2026-11-02T19:30+01:00" in out and "Stadhuis" in out
    assert "Eerste" not in out
    code, out, _ = run("contact", "list", "--since", "2026-11-03", "--json")
    assert json.loads(out)["contacts"] == []


def test_refused_contact_exits_2_and_changes_nothing(run: Run, any_engine: Engine) -> None:
    code, out, err = run("contact", "log", "--community", "nope", "--kind", "visit",
                         "--by", "st-one", "--at", "2026-11-02T10:00:00+01:00")
    assert code == 2 and "--community nope" in err and out == ""
    code, _, err = run("contact", "log", "--community", "kerk-b", "--kind", "party",
                       "--by", "st-one")
    assert code == 2 and "party" in err
    code, _, err = run("contact", "log", "--community", "kerk-b", "--kind", "visit",
                       "--by", "st-one", "--at", "yesterday")
    assert code == 2 and "--at" in err
    code, _, err = run("contact", "list", "--since", "gisteren")
    assert code == 2 and "--since" in err
    code, _, err = run("contact", "list", "--community", "nope")
    assert code == 2 and "--community nope" in err
    code, _, err = run("peacetime", "due", "--liaison", "st-ghost")
    assert code == 2 and "--liaison st-ghost" in err
    assert _count(any_engine, ContactLog.__table__) == 0


def test_agreements_and_due(run: Run, any_engine: Engine) -> None:
    code, out, _ = run("agreement", "add", "--community", "buurt-d", "--text",
                       "Buurtgesprek [bold]na de zomer[/bold]", "--due", "2027-06-30", "--json")
    assert code == 0
    agreement = json.loads(out)
    assert agreement["text"] == "Buurtgesprek [bold]na de zomer[/bold]"
    code, _, err = run("agreement", "add", "--community", "buurt-d", "--text", "x",
                       "--due", "30-06-2027")
    assert code == 2 and "--due" in err and _count(any_engine, Agreement.__table__) == 1
    code, out, _ = run("peacetime", "due", "--json")
    assert code == 0
    doc = json.loads(out)
    by = {g["liaison"]: g for g in doc["liaisons"]}
    assert {c["community"] for c in by["st-one"]["communities"]} == {"moskee-a", "kerk-b"}
    buurt = next(c for c in by["st-two"]["communities"] if c["community"] == "buurt-d")
    assert buurt["status"] == "never" and buurt["agreements"][0]["id"] == agreement["id"]
    code, out, _ = run("peacetime", "due", "--liaison", "st-two")
    assert code == 0 and "Twee Liaison (st-two)" in out and "Een Liaison" not in out
    assert "Buurtgesprek [bold]na de zomer[/bold]" in out  # text, not markup
    code, out, _ = run("peacetime", "digest", "--json")
    previews = {d["liaison"]: d for d in json.loads(out)["digests"]}
    assert code == 0 and set(previews) == {"st-one", "st-two"}
    assert previews["st-two"]["email"] == "two@example.net"
    assert "Buurt D (buurt-d)" in previews["st-two"]["body"]
    code, out, err = run("peacetime", "digest", "--liaison", "st-new")
    assert code == 0 and "nothing due" in out and "08:00 Europe/Amsterdam" in err
    assert _count(any_engine, Message.__table__) == 0  # a preview queues nothing
    code, out, _ = run("agreement", "done", str(agreement["id"]))
    assert code == 0 and "afgerond / done" in out
    code, out, _ = run("agreement", "done", str(agreement["id"]))
    assert code == 0 and "al afgerond" in out
    code, _, err = run("agreement", "done", "999")
    assert code == 2 and "999" in err


def test_staff_handover_queues_briefing_and_introductions(run: Run, any_engine: Engine) -> None:
    code, out, err = run("staff", "handover", "st-one", "--to", "st-new", "--community",
                         "moskee-a", "--no-send", "--json")
    assert code == 0, err
    assert json.loads(out) == {"from": "st-one", "to": "st-new", "communities": ["moskee-a"],
                               "briefing_queued": True, "introductions_queued": 2,
                               "not_introduced": []}
    assert _count(any_engine, Message.__table__) == 3
    with any_engine.connect() as conn:  # --no-send: left to a worker
        assert set(conn.execute(sa.select(Message.__table__.c.state)).scalars()) == {"pending"}
    code, _, err = run("staff", "handover", "st-one", "--to", "st-new", "--community",
                       "moskee-a", "--no-send")
    assert code == 2 and "its liaison is not st-one" in err
    assert _count(any_engine, Message.__table__) == 3
    assert _count(any_engine, LiaisonChange.__table__) == 6  # 5 by the import, 1 handover
    code, out, _ = run("staff", "handover", "st-one", "--to", "st-new")  # sends: console
    assert code == 0 and "introducties / introductions: 1" in out  # b1; club-e has nobody
    assert "niet geintroduceerd" in out and "b2" in out
    with any_engine.connect() as conn:
        m = Message.__table__
        sent = conn.execute(sa.select(m.c.recipient_id, m.c.state, m.c.next_attempt_at)).all()
    # each handover briefs st-new; this command's cycle sent what was queued, except what
    # must wait out the per-address interval (the second briefing to one address): pending
    # with a time of its own, never dropped
    assert sorted(r[0] for r in sent) == ["a1", "a2", "b1", "st-new", "st-new"]
    assert {str(r[1]) for r in sent} <= {"accepted", "pending"}
    assert all(r[2] is not None for r in sent if str(r[1]) == "pending"), sent


def test_registry_health_gains_peace_time_sections(run: Run) -> None:
    code, out, _ = run("registry", "health", "--json")
    assert code == 0
    doc = json.loads(out)
    ready = {c["id"]: c for c in doc["peacetime"]["crisis_ready"]}
    assert ready["kerk-b"]["ready"] is False and "eligible_contacts" in ready["kerk-b"]["reasons"]
    assert doc["peacetime"]["crisis_ready_by_kind"]["faith"]["total"] == 2
    assert doc["gaps"] >= 0 and "communities_without_liaison" in doc  # the rest is as it was
    code, out, _ = run("registry", "health")
    assert code == 0 and "Crisisklaar / crisis-ready: 0/5" in out
    assert "rollen ontbreken / roles missing: jongeren" in out


def test_incident_show_lists_open_agreements(run: Run) -> None:
    assert run("agreement", "add", "--community", "moskee-a", "--text", "Open dag samen")[0] == 0
    assert run("agreement", "add", "--community", "pools-c", "--text", "Niet geraakt")[0] == 0
    code, out, _ = run("incident", "declare", "--type", "attack", "--field", "target=islam",
                       "--no-send", "--json")
    assert code == 0
    incident = json.loads(out)["incident"]["id"]
    code, out, _ = run("incident", "show", str(incident))
    assert code == 0 and "Open afspraken met deze gemeenschappen" in out
    assert "moskee-a: #1 Open dag samen" in out and "Niet geraakt" not in out
    code, out, _ = run("incident", "show", str(incident), "--json")
    assert [a["text"] for a in json.loads(out)["agreements"]["moskee-a"]] == ["Open dag samen"]


def test_sample_history_import_report_and_refusal(run: Run, any_engine: Engine,
                                                  tmp_path: Path) -> None:
    default = ROOT / "playbook" / "default" / "playbook.yaml"
    assert run("registry", "import", str(SAMPLE), playbook=default)[0] == 0
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "contactlog.csv").write_text(
        "at,kind,by,communities,with,place,neutral_ground,note\n"
        "2026-06-02T10:00+02:00,visit,st-jansen,moskee-ayasofya,,,nee,\n"
        "2026-06-03,visit,st-jansen,moskee-ayasofya,,,nee,\n"
        "2026-06-04T10:00+02:00,visit,st-nobody,moskee-ayasofya,p999,,nee,\n", encoding="utf-8")
    code, _, err = run("contact", "import", str(broken), playbook=default)
    assert code == 2
    assert "contactlog.csv:3: at:" in err and "contactlog.csv:4: --by st-nobody" in err
    assert "contactlog.csv:4: --with p999" in err
    assert _count(any_engine, ContactLog.__table__) == 0
    code, out, _ = run("contact", "import", str(SAMPLE / "peacetime"), "--json",
                       playbook=default)
    assert code == 0 and json.loads(out) == {"contacts": 113, "agreements": 8}
    code, out, _ = run("peacetime", "report", "--from", "2026-06-01", "--to", "2026-11-30",
                       playbook=default)
    assert code == 0
    assert "| Contactmomenten | 113 |" in out and "Chabad Voorbeeldstad (chabad, faith)" in out
    report = tmp_path / "vredestijd.html"
    code, _, err = run("peacetime", "report", "--from", "2026-06-01", "--to", "2026-11-30",
                       "--format", "html", "--lang", "en", "--output", str(report),
                       playbook=default)
    assert code == 0 and "written to" in err
    html = report.read_text(encoding="utf-8")
    assert "Contacts made" in html and "data:image/svg+xml;base64," in html
    code, _, err = run("peacetime", "report", "--from", "2026-12-01", "--to", "2026-11-30",
                       playbook=default)
    assert code == 2 and "before --from" in err
