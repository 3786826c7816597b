"""Hostile registry files: formulas for spreadsheets, absurd cells, control characters.

Driven through the real command (`verbinder registry import|export`, in-process via main()):
every refusal exits 2 with `FILE:ROW: COLUMN: what is wrong` and changes nothing; an export a
spreadsheet opens runs no formula and imports back to exactly the same values.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.registry.spreadsheet import FORMULA_START, protect, unprotect
from tests.cli_support import run_cli

COMMUNITIES_HEADER = "id,name,kind,tags,languages,area,lat,lon,liaison"
STAFF = "id,name,phone,email,roles\nst-a,Anna Staf,06-11110001,a@example.org,liaison;oncall\n"
CONTACTS_HEADER = "id,community,name,role,priority,phone,email,channel,language,consent,active"

FORMULAS = {
    "c-cmd": "=cmd|' /C calc'!A0",
    "c-plus": "+SUM(1,2)",
    "c-at": "@SUM(A1:A2)",
    "c-minus": "-2+3+cmd|' /C notepad'!A0",
    "c-quoted": "'=al tekst / already text",
    "c-twice": "''+twee",
    "c-den-bosch": "'s-Hertogenbosch Moskee",
    "c-plain": "Moskee An-Nour",
}


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path):
    """Run `verbinder --db <fresh sqlite> ARGS` through main(); return (exit code, out, err)."""
    monkeypatch.chdir(tmp_path)
    for name in ("VERBINDER_DATABASE_URL", "VERBINDER_PLAYBOOK"):
        monkeypatch.delenv(name, raising=False)
    db = f"sqlite:///{tmp_path / 'cli.db'}"

    def _run(*args: str) -> tuple[int, str, str]:
        return run_cli(monkeypatch, capsys, ["--db", db, *args])

    return _run


def _folder(base: Path, name: str, communities: list[list[str]],
            header: str = COMMUNITIES_HEADER + ",notitie",
            contacts: list[list[str]] | None = None) -> Path:
    folder = base / name
    folder.mkdir()
    with (folder / "communities.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(next(csv.reader([header])))
        writer.writerows(communities)
    (folder / "staff.csv").write_text(STAFF, encoding="utf-8")
    if contacts is not None:
        with (folder / "contacts.csv").open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(CONTACTS_HEADER.split(","))
            writer.writerows(contacts)
    return folder


def _export(run) -> dict:
    code, out, err = run("registry", "export", "--all", "--format", "json")
    assert code == 0, err
    return json.loads(out)


# --- 13: exports are safe in a spreadsheet -------------------------------------------------


def test_csv_export_runs_no_formula_and_round_trips_exactly(run, tmp_path: Path) -> None:
    communities = [
        [cid, name, "faith", "islam", "nl", "noord", "-33.92", "-4.9", "st-a", "=1+1"]
        for cid, name in FORMULAS.items()
    ]
    header = COMMUNITIES_HEADER + ',"=HYPERLINK(""http://evil.example"",""klik"")"'
    contacts = [["p1", "c-cmd", "@Naam Persoon", "-imam", "1", "+31 6 12345678",
                 "p1@example.org", "", "nl", "2026-01-05", "ja"]]
    source = _folder(tmp_path, "in", communities, header=header, contacts=contacts)
    assert run("registry", "import", str(source))[0] == 0
    before = _export(run)
    # A leading apostrophe in front of a formula is the spreadsheet's text mark: dropped.
    stored = {**FORMULAS, "c-quoted": "=al tekst / already text", "c-twice": "'+twee"}
    assert {c["id"]: c["name"] for c in before["communities"]} == stored
    assert before["contacts"][0]["phone"] == "+31612345678"
    assert before["communities"][0]["lon"] == -4.9

    first = tmp_path / "export1"
    code, _, err = run("registry", "export", "--format", "csv", "--output", str(first))
    assert code == 0, err
    for path in first.glob("*.csv"):
        with path.open(newline="", encoding="utf-8") as handle:
            for record in csv.reader(handle):
                for value in record:
                    assert value[:1] not in FORMULA_START, (path.name, value)
    text = (first / "communities.csv").read_text(encoding="utf-8")
    assert "'=cmd|' /C calc'!A0" in text and "'+SUM(1,2)" in text and "'@SUM(A1:A2)" in text
    assert "'=al tekst / already text" in text and "''+twee" in text
    assert "'s-Hertogenbosch Moskee" in text and "''s-Hertogenbosch" not in text
    assert "'-4.9" in text and "'-33.92" in text
    assert "'+31612345678" in (first / "contacts.csv").read_text(encoding="utf-8")

    code, out, err = run("registry", "import", str(first), "--json")
    assert code == 0, err
    assert json.loads(out)["changes"] == 0  # every value came back exactly
    assert _export(run) == before
    second = tmp_path / "export2"
    assert run("registry", "export", "--format", "csv", "--output", str(second))[0] == 0
    for path in first.glob("*.csv"):
        assert (second / path.name).read_bytes() == path.read_bytes()


def test_public_csv_on_stdout_is_protected_too(run, tmp_path: Path) -> None:
    source = _folder(tmp_path, "in", [["c1", "=WEBSERVICE(\"http://evil.example\")", "faith",
                                       "", "", "", "", "", "", ""]])
    assert run("registry", "import", str(source))[0] == 0
    code, out, _ = run("registry", "export", "--public", "--format", "csv")
    assert code == 0
    assert "'=WEBSERVICE" in out and ",=WEBSERVICE" not in out


@given(st.text())
def test_protect_then_unprotect_is_the_identity(value: str) -> None:
    cell = protect(value)
    assert unprotect(cell) == value
    assert cell[:1] not in FORMULA_START


@pytest.mark.parametrize("plain", ["'s-Hertogenbosch", "'t Gooi", "O'Brien", "'", "''", "31612"])
def test_apostrophes_that_protect_nothing_are_left_alone(plain: str) -> None:
    assert protect(plain) == plain and unprotect(plain) == plain


# --- 18: a cell over the csv module's 128 KiB limit ----------------------------------------


@pytest.mark.parametrize("column", ["name", "notitie"])
def test_huge_csv_cell_exits_2_located(run, tmp_path: Path, column: str) -> None:
    huge = "x" * (200 * 1024)
    row = ["c1", "Kerk", "faith", "", "", "", "", "", "", "ok"]
    row[{"name": 1, "notitie": 9}[column]] = huge
    source = _folder(tmp_path, "in", [["c0", "Moskee", "faith", "", "", "", "", "", "", ""], row])
    code, _, err = run("registry", "import", str(source))
    assert code == 2, err
    assert f"{source / 'communities.csv'}:3: {column}: " in err
    assert "at most 10000" in err and "nothing was changed" in err
    assert len(err) < 5000  # the cell itself is not echoed
    assert _export(run)["communities"] == []


def test_huge_xlsx_cell_exits_2_located(run, tmp_path: Path) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "communities"
    sheet.append(["id", "name", "kind"])
    sheet.append(["c1", "Kerk", "faith"])
    sheet.append(["c2", "y" * 40_000, "faith"])
    staff = book.create_sheet("staff")
    staff.append(["id", "name", "phone", "roles"])
    staff.append(["st-a", "Anna", "06-11110001", "liaison"])
    path = tmp_path / "kaart.xlsx"
    book.save(path)
    code, _, err = run("registry", "import", str(path))
    assert code == 2, err
    assert f"{path}[communities]:3: name: " in err and "at most 10000" in err
    assert _export(run)["communities"] == []


def test_broken_csv_quoting_is_refused_located(run, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "communities.csv").write_text('id,name,kind\nc1,"Kerk\x00,faith\n', "utf-8")
    code, _, err = run("registry", "import", str(folder))
    assert code == 2, err
    assert str(folder / "communities.csv") in err


# --- 10: control characters and absurd lengths refused at import ---------------------------


HOSTILE_CELLS = [
    ("name", "Moskee \x1b[2J\x1b[H A", "U+001B"),
    ("name", "\x1b]8;;http://evil.example\x07Klik\x1b]8;;\x07", "U+001B"),
    ("name", "Kerk\rOverschreven", "U+000D"),
    ("name", "Kerk\u202eA", "U+202E"),
    ("name", "Kerk\tA", "U+0009"),
    ("name", "K" * 201, "at most 200"),
    ("kind", "f" * 51, "at most 50"),
    ("tags", "islam;" + "t" * 51, "at most 50"),
    ("area", "a" * 101, "at most 100"),
    ("notitie", "n" * 2001, "at most 2000"),
    ("notitie", "regel\x1b[31m", "U+001B"),
]


@pytest.mark.parametrize(("column", "value", "what"), HOSTILE_CELLS,
                         ids=[f"{c}-{w}-{n}" for n, (c, _, w) in enumerate(HOSTILE_CELLS)])
def test_hostile_community_cell_is_refused_located(run, tmp_path: Path, column: str,
                                                   value: str, what: str) -> None:
    index = {"name": 1, "kind": 2, "tags": 3, "area": 5, "notitie": 9}[column]
    row = ["c1", "Kerk", "faith", "", "", "", "", "", "", ""]
    row[index] = value
    source = _folder(tmp_path, "in", [row])
    code, _, err = run("registry", "import", str(source))
    assert code == 2, err
    assert f"{source / 'communities.csv'}:2: {column}: " in err and what in err
    assert "\x1b" not in err and "\r" not in err
    assert _export(run)["communities"] == []


def test_free_text_may_hold_line_breaks_and_tabs(run, tmp_path: Path) -> None:
    source = _folder(tmp_path, "in", [["c1", "Kerk", "faith", "", "", "", "", "", "",
                                       "eerste regel\ntweede\tregel"]])
    code, _, err = run("registry", "import", str(source))
    assert code == 0, err
    assert _export(run)["communities"][0]["notitie"] == "eerste regel\ntweede\tregel"


def test_hostile_contact_cells_are_refused_located(run, tmp_path: Path) -> None:
    source = _folder(tmp_path, "in", [["c1", "Kerk", "faith", "", "", "", "", "", "", ""]],
                     contacts=[["p1", "c1", "Naam\x07", "imam", "1", "0612345678", "", "", "",
                                "", ""],
                               ["p2", "c1", "Naam", "r" * 101, "1", "0612345678", "", "", "",
                                "", ""]])
    code, _, err = run("registry", "import", str(source))
    assert code == 2, err
    contacts = source / "contacts.csv"
    assert f"{contacts}:2: name: " in err and "U+0007" in err
    assert f"{contacts}:3: role: " in err and "at most 100" in err


def test_hostile_column_name_is_refused_located(run, tmp_path: Path) -> None:
    source = _folder(tmp_path, "in", [["c1", "Kerk", "faith", "", "", "", "", "", "", "x"]],
                     header=COMMUNITIES_HEADER + ",\x1b[2Jkolom")
    code, _, err = run("registry", "import", str(source))
    assert code == 2, err
    assert f"{source / 'communities.csv'}:1: kolom 10: " in err
    assert "\x1b" not in err
