"""Peace-time gaps of the registry, relative to the injected clock."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import Engine

from engine.clock import FakeClock
from engine.registry.health import check_health
from engine.registry.importer import import_registry

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample" / "voorbeeldstad"


def _write(folder: Path, **tables: str) -> Path:
    folder.mkdir(exist_ok=True)
    for name, text in tables.items():
        (folder / f"{name}.csv").write_text(text, encoding="utf-8")
    return folder


def _health(engine: Engine, clock: FakeClock, stale_days: int = 365):
    with engine.connect() as conn:
        return check_health(conn, now=clock.now(), consent_stale_days=stale_days)


def test_gaps_of_a_small_registry(any_engine: Engine, clock: FakeClock, tmp_path: Path) -> None:
    """No / one eligible contact, no consent, stale consent, missing or inactive liaison."""
    folder = _write(
        tmp_path / "reg",
        staff="id,name,email,roles\ns1,Een,s1@example.net,liaison\ns2,Twee,s2@example.net,"
              "coordinator;oncall\n",
        communities="id,name,kind,liaison\nnone,Geen,faith,s1\none,Een,faith,s2\n"
                    "two,Twee,faith,\n",
        contacts="id,community,name,phone,email,consent,active\n"
                 "a,none,A,0612345671,,,ja\n"          # no consent
                 "b,none,B,0612345672,,2026-01-01,nee\n"  # inactive
                 "c,one,C,0612345673,,2025-02-28,ja\n"    # eligible but stale (366 days)
                 "d,one,D,,d@example.org,,ja\n"          # no consent
                 "e,two,E,0612345675,,2026-02-01,ja\n"
                 "f,two,F,,f@example.org,2025-03-01,ja\n",  # exactly 365 days: not stale
    )
    import_registry(any_engine, [folder], clock=clock)
    report = _health(any_engine, clock)
    assert [c["id"] for c in report.no_eligible] == ["none"]
    assert report.one_eligible == [{"id": "one", "name": "Een", "contact": "c"}]
    assert [c["id"] for c in report.without_consent] == ["a", "d"]
    assert [(c["id"], c["consent"]) for c in report.consent_stale] == [("c", "2025-02-28")]
    assert [(c["id"], c["reason"]) for c in report.without_liaison] == [("two", "none")]
    assert report.missing_staff_roles == []
    doc = report.as_dict()
    assert doc["checked_at"] == "2026-03-01T09:00:00Z" and doc["consent_stale_days"] == 365
    assert doc["counts"]["contacts"] == {"active": 5, "inactive": 1}

    _write(folder, staff="id,name,email,roles\ns2,Twee,s2@example.net,coordinator;oncall\n")
    import_registry(any_engine, [folder / "staff.csv"], clock=clock)
    report = _health(any_engine, clock, stale_days=20)
    assert [(c["id"], c["reason"]) for c in report.without_liaison] == [
        ("none", "inactive"), ("two", "none")]
    assert report.missing_staff_roles == ["liaison"]
    assert {c["id"] for c in report.consent_stale} == {"c", "e", "f"}


def test_sample_health(any_engine: Engine, clock: FakeClock) -> None:
    """The sample: four communities without an eligible contact, nine contacts without consent."""
    import_registry(any_engine, [SAMPLE], clock=clock)
    report = _health(any_engine, clock)
    assert [c["id"] for c in report.no_eligible] == [
        "chabad", "jongerencentrum", "ma-vrouwen", "wijkraad-zuid"]
    assert len(report.without_consent) == 9
    assert report.without_liaison == []
