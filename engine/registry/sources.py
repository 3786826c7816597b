"""Reading registry spreadsheets (CSV or XLSX) into raw tables of cell values.

Nothing here judges a value: it finds the files, decodes them, detects the delimiter, and
names every column in lower case. Validation is in `engine.registry.validate`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.registry.problems import Problem
from engine.registry.spreadsheet import unprotect

TABLES = ("communities", "contacts", "staff")
MAX_FILE_BYTES = 64 * 1024 * 1024  # a registry of 40,000 rows is about 3 MB
MAX_COLUMN_NAME = 64

Cell = Any  # str | int | float | bool | date | datetime | None


@dataclass
class RawTable:
    """One table as read: its label for messages, column names, and rows with their number."""

    name: str
    label: str
    columns: list[str]
    rows: list[tuple[int, dict[str, Cell]]] = field(default_factory=list)


@dataclass
class RawImport:
    """What the files hold, per table, plus the problems met while reading them."""

    tables: dict[str, RawTable] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)


def read_sources(paths: Sequence[str | Path]) -> RawImport:
    """Read the files (or one folder, or one .xlsx) given to `registry import`."""
    result = RawImport()
    if not paths:
        result.problems.append(Problem("-", None, None, "geen bestand opgegeven / no file given"))
        return result
    for path in _expand(paths, result.problems):
        if path.suffix.lower() == ".xlsx":
            tables = _read_xlsx(path, result.problems)
        else:
            table = _read_csv_file(path, result.problems)
            tables = [table] if table else []
        for table in tables:
            if table.name in result.tables:
                result.problems.append(Problem(
                    table.label, None, None,
                    f"tabel {table.name} staat er al in ({result.tables[table.name].label}) / "
                    f"table {table.name} given twice",
                ))
            else:
                result.tables[table.name] = table
    return result


def table_of_file(path: Path) -> str | None:
    """Which table a CSV file holds, from its name: communities*.csv, contacts*.csv, staff*.csv."""
    stem = path.name.lower()
    if not stem.endswith(".csv"):
        return None
    return next((t for t in TABLES if stem.startswith(t)), None)


def _expand(paths: Iterable[str | Path], problems: list[Problem]) -> list[Path]:
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found.extend(_folder_files(path, problems))
        elif not path.exists():
            problems.append(Problem(str(path), None, None,
                                    "bestand bestaat niet / file does not exist"))
        elif path.suffix.lower() == ".xlsx":
            found.append(path)
        elif table_of_file(path) is None:
            problems.append(Problem(
                str(path), None, None,
                "onbekend bestand: de naam moet beginnen met communities, contacts of staff en "
                "eindigen op .csv, of het is een .xlsx / unknown file: name it communities*.csv, "
                "contacts*.csv or staff*.csv, or give one .xlsx workbook",
            ))
        else:
            found.append(path)
    return found


def _folder_files(folder: Path, problems: list[Problem]) -> list[Path]:
    by_name = {p.name.lower(): p for p in folder.iterdir() if p.is_file()}
    csvs = [by_name[f"{t}.csv"] for t in TABLES if f"{t}.csv" in by_name]
    if csvs:
        return csvs
    books = sorted(p for n, p in by_name.items() if n.endswith(".xlsx") and not n.startswith("~$"))
    if len(books) == 1:
        return books
    problems.append(Problem(
        str(folder), None, None,
        "map bevat geen communities.csv, contacts.csv of staff.csv en niet precies een .xlsx / "
        "folder holds no communities.csv, contacts.csv or staff.csv, nor exactly one .xlsx",
    ))
    return []


def _too_big(path: Path, problems: list[Problem]) -> bool:
    size = path.stat().st_size
    if size <= MAX_FILE_BYTES:
        return False
    problems.append(Problem(str(path), None, None,
                            f"bestand is {size // (1024 * 1024)} MiB; hooguit "
                            f"{MAX_FILE_BYTES // (1024 * 1024)} MiB / file is {size} bytes; at "
                            f"most {MAX_FILE_BYTES // (1024 * 1024)} MiB"))
    return True


def _read_csv_file(path: Path, problems: list[Problem]) -> RawTable | None:
    name = table_of_file(path)
    assert name is not None
    return read_csv_table(path, name, problems)


def read_csv_table(path: Path, name: str, problems: list[Problem]) -> RawTable | None:
    """One CSV file (UTF-8 with or without BOM, comma or semicolon) as the raw table `name`."""
    label = str(path)
    if _too_big(path, problems):
        return None
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        problems.append(Problem(label, line, None,
                                "geen geldige UTF-8; sla op als 'CSV UTF-8' / not valid UTF-8; "
                                "save as 'CSV UTF-8'"))
        return None
    records = _csv_records(text, label, problems)
    if records is None:
        return None
    return _table_from_records(name, label, records, problems)


def _csv_records(text: str, label: str, problems: list[Problem]) -> list[list[Cell]] | None:
    """Every record of a CSV text; a cell's length is judged per column later, so the csv
    module's own field limit (128 KiB, an unlocated error) is lifted while reading."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=detect_delimiter(text))
    # The limit is process-wide; imports run one at a time, in a command.
    previous = csv.field_size_limit(max(len(text) + 1, csv.field_size_limit()))
    try:
        return list(reader)
    except csv.Error as exc:
        problems.append(Problem(label, reader.line_num or None, None,
                                f"geen geldige CSV / not valid CSV: {exc}"))
        return None
    finally:
        csv.field_size_limit(previous)


def detect_delimiter(text: str) -> str:
    """Comma or semicolon: whichever occurs more often outside quotes in the header line."""
    counts = {",": 0, ";": 0}
    quoted = False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in "\r\n":
            break
        elif not quoted and ch in counts:
            counts[ch] += 1
    return ";" if counts[";"] > counts[","] else ","


def _read_xlsx(path: Path, problems: list[Problem]) -> list[RawTable]:
    import openpyxl  # imported here: only XLSX imports pay for it

    if _too_big(path, problems):
        return []
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        problems.append(Problem(str(path), None, None,
                                f"geen leesbaar .xlsx-bestand / not a readable .xlsx workbook "
                                f"({type(exc).__name__})"))
        return []
    try:
        sheets = {s.strip().lower(): s for s in book.sheetnames}
        tables: list[RawTable] = []
        for name in TABLES:
            if name in sheets:
                label = f"{path}[{name}]"
                rows = [list(r) for r in book[sheets[name]].iter_rows(values_only=True)]
                table = _table_from_records(name, label, rows, problems)
                if table:
                    tables.append(table)
        if not tables and not any(p.file.startswith(f"{path}[") for p in problems):
            problems.append(Problem(str(path), None, None,
                                    "geen werkblad communities, contacts of staff / no sheet "
                                    "named communities, contacts or staff"))
        return tables
    finally:
        book.close()


def _table_from_records(
    name: str, label: str, records: list[list[Cell]], problems: list[Problem]
) -> RawTable | None:
    if not records or all(_blank(v) for v in records[0]):
        problems.append(Problem(label, 1, None, "geen kopregel / no header row"))
        return None
    header = [_clean(v) for v in records[0]]
    columns, keep = _columns(label, header, records[1:], problems)
    table = RawTable(name=name, label=label, columns=columns)
    for number, record in enumerate(records[1:], start=2):
        if all(_blank(v) for v in record):
            continue
        values = {col: _clean(record[i]) if i < len(record) else None
                  for col, i in zip(columns, keep, strict=True)}
        table.rows.append((number, values))
    return table


def _columns(
    label: str, header: list[Cell], body: list[list[Cell]], problems: list[Problem]
) -> tuple[list[str], list[int]]:
    columns: list[str] = []
    keep: list[int] = []
    for i, cell in enumerate(header):
        if cell is None:
            if any(i < len(r) and not _blank(r[i]) for r in body):
                problems.append(Problem(label, 1, f"kolom {i + 1}",
                                        "kolom zonder naam heeft waarden / column without a name "
                                        "holds values"))
            continue
        col = str(cell).strip().lower()
        problem = _column_name_problem(col)
        if problem:
            problems.append(Problem(label, 1, f"kolom {i + 1}", problem))
            continue
        if col in columns:
            problems.append(Problem(label, 1, col,
                                    "kolom staat er twee keer / column appears twice"))
            continue
        columns.append(col)
        keep.append(i)
    return columns, keep


def _column_name_problem(name: str) -> str | None:
    if len(name) > MAX_COLUMN_NAME:
        return (f"kolomnaam is {len(name)} tekens; hooguit {MAX_COLUMN_NAME} / column name is "
                f"{len(name)} characters long; at most {MAX_COLUMN_NAME}")
    if not name.isprintable():
        return ("kolomnaam bevat een stuurteken / column name holds a control character")
    return None


def _clean(value: Cell) -> Cell:
    if isinstance(value, str):
        value = value.strip()
        return unprotect(value) if value else None
    return value


def _blank(value: Cell) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")
