"""Row and column rules of the registry import, every problem with file, row and column."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from engine.registry.sources import read_sources
from engine.registry.validate import KnownIds, ValidImport, validate_import

COMMUNITIES = "id,name,kind,tags,languages,area,lat,lon,liaison,faith\n"
CONTACTS = "id,community,name,role,priority,phone,email,channel,language,consent,active\n"
STAFF = "id,name,phone,email,roles\nst1,Medewerker Een,06-11110001,st1@example.net,liaison\n"


def _validate(tmp_path: Path, known: KnownIds | None = None, **tables: str) -> ValidImport:
    paths = []
    for name, text in tables.items():
        path = tmp_path / f"{name}.csv"
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return validate_import(read_sources(paths), known or KnownIds())


def _lines(result: ValidImport) -> list[str]:
    return [str(p) for p in result.problems]


def test_good_rows_are_normalised(tmp_path: Path) -> None:
    """Values come out typed and normalised, unknown community columns as attributes."""
    result = _validate(
        tmp_path,
        communities=COMMUNITIES + "c1,Moskee,faith,islam;turkish,tr;nl,bu09990201,52.1,5.1,st1,"
                                  "islam\nc2,Buurt,neighbourhood,,,noord/oud,,,,\n",
        contacts=CONTACTS + "p1,c1,Een,imam,,06 12 34 56 78,,,tr,2026-02-05,ja\n"
                            "p2,c2,Twee,,2,,twee@example.org,,,,nee\n",
        staff=STAFF,
    )
    assert result.problems == []
    c1, c2 = result.tables["communities"]
    assert c1 == {"id": "c1", "name": "Moskee", "kind": "faith", "tags": ["islam", "turkish"],
                  "languages": ["tr", "nl"], "area": "BU09990201", "lat": 52.1, "lon": 5.1,
                  "liaison_id": "st1", "attributes": {"faith": "islam"}, "active": True}
    assert c2["attributes"] == {} and c2["lat"] is None and c2["liaison_id"] is None
    p1, p2 = result.tables["contacts"]
    assert p1["phone"] == "+31612345678" and p1["channel"] == "sms" and p1["priority"] == 1
    assert p1["consent"] == date(2026, 2, 5) and p1["active"] is True
    assert p2["channel"] == "email" and p2["active"] is False and p2["consent"] is None
    assert result.tables["staff"][0]["roles"] == ["liaison"]


@pytest.mark.parametrize(("row", "column", "fragment"), [
    ("c 1,A,faith,,,,,,,", "id", "space"),
    (",A,faith,,,,,,,", "id", "required"),
    ("c1,,faith,,,,,,,", "name", "required"),
    ("c1,A,Faith,,,,,,,", "kind", "lower case"),
    ("c1,A,two words,,,,,,,", "kind", "one lower-case word"),
    ("c1,A,faith,Islam,,,,,,", "tags", "lower case"),
    ("c1,A,faith,,xx,,,,,", "languages", "ISO 639"),
    ("c1,A,faith,,,GM12,,,,", "area", "CBS"),
    ("c1,A,faith,,,,52.1,,,", "lon", "both or neither"),
    ("c1,A,faith,,,,,5.1,,", "lat", "both or neither"),
    ("c1,A,faith,,,,95,5,,", "lat", "out of range"),
    ("c1,A,faith,,,,52,200,,", "lon", "out of range"),
    ("c1,A,faith,,,,,,st-nobody,", "liaison", "not a staff id"),
])
def test_community_rules(tmp_path: Path, row: str, column: str, fragment: str) -> None:
    """Each community rule names file, row 2 and the column."""
    result = _validate(tmp_path, communities=COMMUNITIES + row + "\n", staff=STAFF)
    lines = _lines(result)
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"{tmp_path / 'communities.csv'}:2: {column}: ")
    assert fragment in lines[0]


@pytest.mark.parametrize(("row", "column", "fragment"), [
    ("p1,c9,A,,,0612345678,,,,,", "community", "not a known community"),
    ("p1,c1,A,,0,0612345678,,,,,", "priority", "1 or higher"),
    ("p1,c1,A,,x,0612345678,,,,,", "priority", "whole number"),
    ("p1,c1,A,,,06-123,,,,,", "phone", "not a valid phone number"),
    ("p1,c1,A,,,,a@@example.org,,,,", "email", "not a valid email"),
    ("p1,c1,A,,,,,,,,", "phone", "phone or an email is required"),
    ("p1,c1,A,,,,a@example.org,sms,,,", "channel", "no phone"),
    ("p1,c1,A,,,0612345678,,email,,,", "channel", "no email"),
    ("p1,c1,A,,,0612345678,,fax,,,", "channel", "sms or email"),
    ("p1,c1,A,,,0612345678,,,klingon,,", "language", "ISO 639"),
    ("p1,c1,A,,,0612345678,,,,1-2-2026,", "consent", "YYYY-MM-DD"),
    ("p1,c1,A,,,0612345678,,,,,misschien", "active", "yes/no"),
])
def test_contact_rules(tmp_path: Path, row: str, column: str, fragment: str) -> None:
    """Each contact rule names file, row 2 and the column; known communities count."""
    result = _validate(tmp_path, KnownIds(communities={"c1"}), contacts=CONTACTS + row + "\n")
    lines = _lines(result)
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"{tmp_path / 'contacts.csv'}:2: {column}: ")
    assert fragment in lines[0]


@pytest.mark.parametrize(("row", "column", "fragment"), [
    ("s1,A,,,liaison", "phone", "phone or an email"),
    ("s1,A,0612345678,,", "roles", "required"),
    ("s1,A,0612345678,,mayor", "roles", "unknown role"),
    ("s1,,0612345678,,liaison", "name", "required"),
])
def test_staff_rules(tmp_path: Path, row: str, column: str, fragment: str) -> None:
    """Each staff rule names file, row 2 and the column."""
    result = _validate(tmp_path, staff="id,name,phone,email,roles\n" + row + "\n")
    lines = _lines(result)
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"{tmp_path / 'staff.csv'}:2: {column}: ")
    assert fragment in lines[0]


def test_every_problem_of_every_row_is_reported(tmp_path: Path) -> None:
    """Several problems in one row and in later rows all appear, in row and column order."""
    result = _validate(
        tmp_path, KnownIds(communities={"c1"}),
        contacts=CONTACTS + "p1,c1,,,0,06-1,,,,,\np2,c1,B,,,0612345678,,,,,\n"
                            "p1,c1,C,,,0612345679,,,,,\n",
    )
    path = tmp_path / "contacts.csv"
    assert [line.split(" ", 1)[0] for line in _lines(result)] == [
        f"{path}:2:", f"{path}:2:", f"{path}:2:", f"{path}:4:"]
    assert [p.column for p in result.problems] == ["name", "priority", "phone", "id"]
    assert "row 2" in result.problems[-1].message


def test_missing_and_unknown_columns_are_row_1(tmp_path: Path) -> None:
    """A missing required column, and an unknown contacts column (a typo), at row 1."""
    result = _validate(tmp_path, KnownIds(communities={"c1"}),
                       contacts="id,community,nmae,phone\np1,c1,A,0612345678\n")
    lines = _lines(result)
    path = tmp_path / "contacts.csv"
    assert any(line.startswith(f"{path}:1: name: ") for line in lines)
    assert any(line.startswith(f"{path}:1: nmae: ") and "unknown column" in line
               for line in lines)


def test_staff_needs_a_phone_or_email_column(tmp_path: Path) -> None:
    """Without either column the header itself is refused."""
    result = _validate(tmp_path, staff="id,name,roles\ns1,A,liaison\n")
    assert _lines(result) == [f"{tmp_path / 'staff.csv'}:1: phone: kolom phone of email "
                              "ontbreekt / needs a phone or email column"]


def test_references_to_the_registry_and_the_import(tmp_path: Path) -> None:
    """A liaison in the registry, and a community in this import, are both fine."""
    result = _validate(
        tmp_path, KnownIds(staff={"st-old"}),
        communities=COMMUNITIES + "c1,A,faith,,,,,,st-old,\n",
        contacts=CONTACTS + "p1,c1,A,,,0612345678,,,,,\n",
    )
    assert result.problems == []
