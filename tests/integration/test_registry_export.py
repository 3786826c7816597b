"""Exporting the social map: JSON shape, CSV round trip, public export without persons."""

from __future__ import annotations

import csv
import json
import stat
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from engine.clock import FakeClock
from engine.registry.export import (
    build_export,
    render_csv,
    render_html,
    render_json,
    write_csv_folder,
    write_text,
)
from engine.registry.importer import import_registry
from engine.registry.values import phone

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample" / "voorbeeldstad"


def _people() -> set[str]:
    """Every name, phone (as written and as E.164) and email of the sample's persons."""
    found: set[str] = set()
    for name in ("contacts", "staff"):
        with (SAMPLE / f"{name}.csv").open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                found.update(x for x in (row["name"], row["email"], row["phone"]) if x)
                if row["phone"]:
                    found.add(phone(row["phone"]) or "")
                    found.add((phone(row["phone"]) or "")[3:])  # the national digits
    return found


@pytest.fixture
def loaded(any_engine: Engine, clock: FakeClock) -> Engine:
    """The sample, imported."""
    import_registry(any_engine, [SAMPLE], clock=clock)
    return any_engine


def _export(engine: Engine, **options: bool):
    with engine.connect() as conn:
        return build_export(conn, **options)


def test_json_has_the_three_lists_keyed_by_column_names(loaded: Engine) -> None:
    """Items carry the import columns; phones in E.164; extra columns as imported."""
    doc = json.loads(render_json(_export(loaded, public=False)))
    assert {"communities", "contacts", "staff"} <= set(doc)
    ayasofya = next(c for c in doc["communities"] if c["id"] == "moskee-ayasofya")
    assert ayasofya == {"id": "moskee-ayasofya", "name": "Stichting Ayasofya Moskee",
                        "kind": "faith", "tags": "islam;turkish;mosque", "languages": "tr;nl",
                        "area": "BU09990201", "lat": 52.0931, "lon": 5.1102,
                        "liaison": "st-jansen", "organisation_type": "mosque"}
    p001 = next(c for c in doc["contacts"] if c["id"] == "p001")
    assert p001["phone"] == "+31632530829" and p001["community"] == "moskee-ayasofya"
    assert p001["consent"] == "2026-02-05" and p001["priority"] == 1
    assert len(doc["contacts"]) == 64  # contacts carry `active`: all of them
    assert next(c for c in doc["contacts"] if c["id"] == "p011")["active"] is False
    assert {s["id"] for s in doc["staff"]} >= {"st-jansen", "st-burg"}
    assert "persoonsgegevens" in doc["notice"]


@pytest.mark.parametrize("include_inactive", [False, True])
def test_csv_export_reimports_with_zero_changes(loaded: Engine, clock: FakeClock,
                                                tmp_path: Path, include_inactive: bool) -> None:
    """The three files in the import format round-trip exactly, written owner-only."""
    trimmed = tmp_path / "communities.csv"
    trimmed.write_text("".join(line for line in (SAMPLE / "communities.csv").open(encoding="utf-8")
                               if not line.startswith("chabad,")), encoding="utf-8")
    assert import_registry(loaded, [trimmed], clock=clock).tables["communities"].deactivated \
        == ["chabad"]
    export = _export(loaded, public=False, include_inactive=include_inactive)
    ids = [c["id"] for c in export.rows["communities"]]
    assert ("chabad" in ids) is include_inactive
    paths = write_csv_folder(export, tmp_path / "export")
    assert sorted(p.name for p in paths) == ["communities.csv", "contacts.csv", "staff.csv"]
    for path in paths:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    report = import_registry(loaded, [tmp_path / "export"], clock=clock)
    assert report.changes == 0
    assert report.tables["contacts"].rows == 64


def test_public_export_leaks_no_person(loaded: Engine, tmp_path: Path) -> None:
    """No contacts, no staff, no liaison, and no name, phone or email of any person."""
    export = _export(loaded, public=True, include_inactive=True)
    doc = json.loads(render_json(export))
    assert set(doc) == {"communities"}
    assert len(doc["communities"]) == 32
    assert all("liaison" not in c for c in doc["communities"])
    everything = render_json(export) + render_csv(export, "communities") + render_html(export)
    leaked = sorted(p for p in _people() if p in everything)
    assert leaked == []
    write_text(tmp_path / "kaart.json", render_json(export), private=export.holds_persons)
    assert stat.S_IMODE((tmp_path / "kaart.json").stat().st_mode) == 0o644


def test_public_export_drops_extra_columns_that_hold_a_person(
        any_engine: Engine, clock: FakeClock, tmp_path: Path) -> None:
    """An extra community column naming a contact, an email or a number is left out."""
    (tmp_path / "communities.csv").write_text(
        "id,name,kind,contactpersoon,telefoon,soort\n"
        "c1,Moskee,faith,Zeynep Kaya,020 123 4567,mosque\n", encoding="utf-8")
    (tmp_path / "contacts.csv").write_text(
        "id,community,name,email\np1,c1,Zeynep Kaya,z@example.org\n", encoding="utf-8")
    import_registry(any_engine, [tmp_path], clock=clock)
    doc = json.loads(render_json(_export(any_engine, public=True)))
    assert doc["communities"][0]["soort"] == "mosque"
    assert doc["communities"][0]["contactpersoon"] is None
    assert doc["communities"][0]["telefoon"] is None


def test_html_is_a_readable_document(loaded: Engine) -> None:
    """One table per list, escaped, with the personal-data notice."""
    page = render_html(_export(loaded, public=False))
    assert page.startswith("<!doctype html>") and page.count("<table>") == 3
    assert "Stichting Ayasofya Moskee" in page and "art. 9 AVG" in page
