"""Reading registry files: naming, delimiters, BOM, folders and XLSX workbooks."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import openpyxl

from engine.registry.sources import detect_delimiter, read_sources, table_of_file


def _write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def test_table_of_file_uses_the_name() -> None:
    """communities*.csv, contacts*.csv, staff*.csv; anything else is not a table."""
    assert table_of_file(Path("Communities-2026.csv")) == "communities"
    assert table_of_file(Path("contacts.csv")) == "contacts"
    assert table_of_file(Path("staff_noord.CSV")) == "staff"
    assert table_of_file(Path("people.csv")) is None
    assert table_of_file(Path("contacts.txt")) is None


def test_detect_delimiter() -> None:
    """Semicolon when the header has more of them outside quotes, else comma."""
    assert detect_delimiter("id;name;kind\n1;a,b;c") == ";"
    assert detect_delimiter("id,name,kind\n1;2;3;4;5") == ","
    assert detect_delimiter('"a;b;c",d\n') == ","


def test_semicolon_bom_and_header_case(tmp_path: Path) -> None:
    """A BOM, semicolons and ' ID ' headers read as plain lower-case columns; rows keep numbers."""
    path = _write(tmp_path / "communities.csv",
                  "\ufeff ID ;Name;KIND\nc1;Eén; faith \n;;\nc2;Twee;migrant\n")
    raw = read_sources([path])
    table = raw.tables["communities"]
    assert raw.problems == []
    assert table.columns == ["id", "name", "kind"]
    assert table.rows == [(2, {"id": "c1", "name": "Eén", "kind": "faith"}),
                          (4, {"id": "c2", "name": "Twee", "kind": "migrant"})]


def test_quoted_newline_keeps_spreadsheet_row_numbers(tmp_path: Path) -> None:
    """A cell with a line break is one spreadsheet row."""
    path = _write(tmp_path / "communities.csv",
                  'id,name,kind\nc1,"Een\nlange naam",faith\nc2,B,x\n')
    rows = read_sources([path]).tables["communities"].rows
    assert [number for number, _ in rows] == [2, 3]


def test_folder_reads_the_three_files(tmp_path: Path) -> None:
    """A folder gives its communities.csv, contacts.csv and staff.csv."""
    for name in ("communities", "contacts", "staff"):
        _write(tmp_path / f"{name}.csv", "id,name\n")
    _write(tmp_path / "notes.csv", "x\n")
    raw = read_sources([tmp_path])
    assert sorted(raw.tables) == ["communities", "contacts", "staff"]
    assert raw.problems == []


def test_unknown_file_name_missing_file_and_bad_encoding(tmp_path: Path) -> None:
    """Each is named with its file."""
    people = _write(tmp_path / "people.csv", "id\n")
    latin = _write(tmp_path / "contacts.csv", "id,name\np1,Zoë\n", encoding="latin-1")
    raw = read_sources([people, tmp_path / "staff.csv", latin])
    text = "\n".join(str(p) for p in raw.problems)
    assert f"{people}: unknown file" in text or f"{people}: onbekend bestand" in text
    assert f"{tmp_path / 'staff.csv'}: " in text
    assert f"{latin}:2: " in text and "UTF-8" in text
    assert raw.tables == {}


def test_same_table_twice_is_refused(tmp_path: Path) -> None:
    """Two files for one table."""
    a = _write(tmp_path / "contacts-a.csv", "id\n")
    b = _write(tmp_path / "contacts-b.csv", "id\n")
    raw = read_sources([a, b])
    assert len(raw.problems) == 1 and "twice" in raw.problems[0].message


def test_duplicate_and_unnamed_columns(tmp_path: Path) -> None:
    """A column twice, or values under a column without a name, are header problems."""
    path = _write(tmp_path / "contacts.csv", "id,Name,name,,\np1,a,b,c,\n")
    problems = [str(p) for p in read_sources([path]).problems]
    assert f"{path}:1: name: kolom staat er twee keer / column appears twice" in problems
    assert any(p.startswith(f"{path}:1: kolom 4: ") for p in problems)
    assert len(problems) == 2


def test_xlsx_sheets_and_cell_types(tmp_path: Path) -> None:
    """Sheets by name (any case); numbers and dates come through as cell values."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Contacts"
    sheet.append(["id", "phone", "consent"])
    sheet.append(["p1", 612345678, datetime(2026, 1, 2)])
    book.create_sheet("uitleg").append(["read me"])
    path = tmp_path / "kaart.xlsx"
    book.save(path)
    raw = read_sources([path])
    table = raw.tables["contacts"]
    assert table.label == f"{path}[contacts]"
    assert table.rows == [(2, {"id": "p1", "phone": 612345678,
                               "consent": datetime(2026, 1, 2)})]


def test_xlsx_without_known_sheet(tmp_path: Path) -> None:
    """A workbook with none of the three sheets is refused."""
    book = openpyxl.Workbook()
    book.active.title = "Blad1"
    path = tmp_path / "kaart.xlsx"
    book.save(path)
    raw = read_sources([path])
    assert raw.tables == {} and "no sheet" in raw.problems[0].message


def test_folder_with_one_workbook(tmp_path: Path) -> None:
    """A folder without the CSV files but with one .xlsx reads the workbook."""
    book = openpyxl.Workbook()
    book.active.title = "staff"
    book.active.append(["id", "name", "email", "roles"])
    book.save(tmp_path / "kaart.xlsx")
    raw = read_sources([tmp_path])
    assert list(raw.tables) == ["staff"] and raw.problems == []
    (tmp_path / "tweede.xlsx").write_bytes((tmp_path / "kaart.xlsx").read_bytes())
    assert read_sources([tmp_path]).problems[0].file == str(tmp_path)
