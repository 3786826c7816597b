"""Importing the social map into SQLite and PostgreSQL: all or nothing, upsert, deactivation."""

from __future__ import annotations

import csv
import shutil
from datetime import date, timedelta
from pathlib import Path

import openpyxl
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from engine.clock import FakeClock
from engine.registry.importer import import_registry, load_rows
from engine.registry.problems import RegistryImportError
from engine.store.models import Contact, Event

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample" / "voorbeeldstad"
BROKEN = ROOT / "tests" / "fixtures" / "registry" / "broken"


def _state(engine: Engine) -> dict[str, dict[str, dict]]:
    with engine.connect() as conn:
        return {name: load_rows(conn, name) for name in ("communities", "contacts", "staff")}


def _stamps(engine: Engine) -> dict[str, object]:
    table = Contact.__table__
    with engine.connect() as conn:
        return dict(conn.execute(sa.select(table.c.id, table.c.updated_at)).all())


def _copy_sample(tmp_path: Path) -> Path:
    folder = tmp_path / "kaart"
    shutil.copytree(SAMPLE, folder)
    return folder


def _counts(report, table: str) -> tuple[int, int, int]:
    c = report.tables[table].counts()
    return c["added"], c["changed"], c["deactivated"]


def test_sample_imports_cleanly_and_again_changes_nothing(any_engine: Engine,
                                                          clock: FakeClock) -> None:
    """32 communities, 64 contacts, 6 staff; the second import reports 0 changes."""
    first = import_registry(any_engine, [SAMPLE], clock=clock)
    assert (_counts(first, "communities"), _counts(first, "contacts"), _counts(first, "staff")) \
        == ((32, 0, 0), (64, 0, 0), (6, 0, 0))
    state = _state(any_engine)
    p001 = state["contacts"]["p001"]
    assert p001["phone"] == "+31632530829" and p001["consent"] == date(2026, 2, 5)
    assert state["contacts"]["p011"]["active"] is False
    assert state["communities"]["moskee-ayasofya"]["attributes"] == {"organisation_type": "mosque"}
    assert state["communities"]["wijkraad-oost"]["attributes"] == {}
    assert state["communities"]["caribisch"]["languages"] == ["nl", "pap"]

    clock.advance(timedelta(days=1))
    again = import_registry(any_engine, [SAMPLE], clock=clock)
    assert again.changes == 0
    assert again.tables["contacts"].unchanged == 64
    assert _state(any_engine) == state
    with any_engine.connect() as conn:
        events = conn.execute(sa.select(Event.__table__)).mappings().all()
    assert [e["kind"] for e in events] == ["registry.imported"]
    assert events[0]["data"]["contacts"]["added"] == 64
    assert "example.org" not in str(events[0]["data"])


def test_edit_upserts_deactivates_and_reactivates(any_engine: Engine, clock: FakeClock,
                                                  tmp_path: Path) -> None:
    """Changed rows are updated, missing rows deactivated, a returning row reactivated."""
    folder = _copy_sample(tmp_path)
    import_registry(any_engine, [folder], clock=clock)
    first_at = clock.now()
    contacts = folder / "contacts.csv"
    original = contacts.read_text(encoding="utf-8")
    lines = original.splitlines()
    edited = [line.replace("imam,1,06 32 53 08 29", "imam,1,06 32 53 08 30")
              if line.startswith("p001,") else line for line in lines
              if not line.startswith("p002,")]
    edited.append("p999,moskee-ayasofya,Nieuw Lid,,3,06-29999999,,,nl,2026-03-01,ja")
    contacts.write_text("\n".join(edited) + "\n", encoding="utf-8")
    clock.advance(timedelta(hours=1))

    report = import_registry(any_engine, [contacts], clock=clock)
    assert _counts(report, "contacts") == (1, 1, 1)
    assert not report.tables["communities"].included
    state = _state(any_engine)
    assert state["contacts"]["p001"]["phone"] == "+31632530830"
    assert state["contacts"]["p002"]["active"] is False
    assert "p999" in state["contacts"]
    assert len(state["communities"]) == 32 and all(c["active"]
                                                    for c in state["communities"].values())
    stamps = _stamps(any_engine)
    assert stamps["p001"] == stamps["p002"] == stamps["p999"] == clock.now()
    assert stamps["p003"] == first_at

    clock.advance(timedelta(hours=1))
    contacts.write_text(original, encoding="utf-8")
    back = import_registry(any_engine, [contacts], clock=clock)
    assert _counts(back, "contacts") == (0, 2, 1)  # p001 and returning p002; p999 removed
    state = _state(any_engine)
    assert state["contacts"]["p002"]["active"] is True
    assert state["contacts"]["p999"]["active"] is False
    assert _stamps(any_engine)["p003"] == first_at


def test_dry_run_changes_nothing(any_engine: Engine, clock: FakeClock) -> None:
    """A dry run reports what would change and writes nothing."""
    report = import_registry(any_engine, [SAMPLE], clock=clock, dry_run=True)
    assert report.dry_run and report.changes == 102
    assert _state(any_engine) == {"communities": {}, "contacts": {}, "staff": {}}
    with any_engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(Event.__table__)).scalar() == 0


def test_broken_copy_is_refused_with_every_row_and_nothing_changes(
        any_engine: Engine, clock: FakeClock) -> None:
    """Bad phone, bad email, unknown community, duplicate id, missing name: all named."""
    import_registry(any_engine, [SAMPLE], clock=clock)
    before = _state(any_engine)
    with pytest.raises(RegistryImportError) as info:
        import_registry(any_engine, [BROKEN], clock=clock)
    where = [(p.file, p.row, p.column) for p in info.value.details]
    path = str(BROKEN / "contacts.csv")
    assert where == [(path, 4, "phone"), (path, 5, "email"), (path, 6, "community"),
                     (path, 8, "id"), (path, 9, "name")]
    assert _state(any_engine) == before


def test_contact_may_refer_to_a_community_already_in_the_registry(
        any_engine: Engine, clock: FakeClock, tmp_path: Path) -> None:
    """Contacts alone, naming communities imported earlier."""
    import_registry(any_engine, [SAMPLE / "communities.csv", SAMPLE / "staff.csv"], clock=clock)
    report = import_registry(any_engine, [SAMPLE / "contacts.csv"], clock=clock)
    assert _counts(report, "contacts") == (64, 0, 0)


def test_semicolon_bom_file_imports_like_the_comma_file(any_engine: Engine, clock: FakeClock,
                                                        tmp_path: Path) -> None:
    """A Dutch Excel export (BOM, semicolons, decimal commas) equals the sample."""
    import_registry(any_engine, [SAMPLE], clock=clock)
    folder = tmp_path / "excel"
    folder.mkdir()
    for name in ("communities", "contacts", "staff"):
        with (SAMPLE / f"{name}.csv").open(encoding="utf-8", newline="") as handle:
            rows = list(csv.reader(handle))
        if name == "communities":
            rows = [[*r[:6], r[6].replace(".", ","), r[7].replace(".", ","), *r[8:]]
                    for r in rows]
        with (folder / f"{name}.csv").open("w", encoding="utf-8-sig", newline="") as handle:
            csv.writer(handle, delimiter=";").writerows(rows)
    assert import_registry(any_engine, [folder], clock=clock).changes == 0


def test_xlsx_workbook_with_typed_cells(any_engine: Engine, clock: FakeClock,
                                        tmp_path: Path) -> None:
    """Phones as numbers, consent as a date cell, priority as a float; problems name the sheet."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "communities"
    sheet.append(["id", "name", "kind", "languages", "lat", "lon", "members"])
    sheet.append(["c1", "Moskee", "faith", "tr;nl", 52.09, 5.11, 120])
    contacts = book.create_sheet("contacts")
    contacts.append(["ID", " Community ", "name", "priority", "phone", "consent", "active"])
    contacts.append(["p1", "c1", "Een", 1.0, 612345678, date(2026, 2, 5), True])
    contacts.append(["p2", "c1", "Twee", 2, "06-12345679", "2026-02-06", "nee"])
    path = tmp_path / "kaart.xlsx"
    book.save(path)

    report = import_registry(any_engine, [path], clock=clock)
    assert _counts(report, "communities") == (1, 0, 0) and _counts(report, "contacts") == (2, 0, 0)
    state = _state(any_engine)
    assert state["communities"]["c1"]["attributes"] == {"members": "120"}
    assert state["contacts"]["p1"]["phone"] == "+31612345678"
    assert state["contacts"]["p1"]["consent"] == date(2026, 2, 5)
    assert state["contacts"]["p2"]["active"] is False
    assert import_registry(any_engine, [path], clock=clock).changes == 0

    contacts.append(["p3", "c9", "Drie", 1, 12, None, None])
    book.save(path)
    with pytest.raises(RegistryImportError) as info:
        import_registry(any_engine, [path], clock=clock)
    assert [str(p).split(": ")[0:2] for p in info.value.details] == [
        [f"{path}[contacts]:4", "community"], [f"{path}[contacts]:4", "phone"]]


def test_deactivating_a_community_warns_about_its_contacts(
        any_engine: Engine, clock: FakeClock, tmp_path: Path) -> None:
    """Rows missing from communities.csv are deactivated; their active contacts are named."""
    folder = _copy_sample(tmp_path)
    import_registry(any_engine, [folder], clock=clock)
    communities = folder / "communities.csv"
    kept = [line for line in communities.read_text(encoding="utf-8").splitlines()
            if not line.startswith("chabad,")]
    communities.write_text("\n".join(kept) + "\n", encoding="utf-8")
    report = import_registry(any_engine, [communities], clock=clock)
    assert _counts(report, "communities") == (0, 0, 1)
    assert len(report.warnings) == 1 and "p012" in report.warnings[0]
    assert "p011" not in report.warnings[0]  # already inactive
    state = _state(any_engine)
    assert state["communities"]["chabad"]["active"] is False
    assert state["contacts"]["p012"]["active"] is True
