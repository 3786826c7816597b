"""Validating raw registry tables into rows ready to store, collecting every problem.

Pure: the ids already in the registry are handed in; nothing here touches the database.
"""

from __future__ import annotations

from collections.abc import Callable, Set
from dataclasses import dataclass, field
from typing import Any

from engine.registry import values as v
from engine.registry.problems import Problem
from engine.registry.sources import RawImport, RawTable

COLUMNS: dict[str, tuple[str, ...]] = {
    "communities": ("id", "name", "kind", "tags", "languages", "area", "lat", "lon", "liaison",
                    "active"),
    "contacts": ("id", "community", "name", "role", "priority", "phone", "email", "channel",
                 "language", "consent", "active"),
    "staff": ("id", "name", "phone", "email", "roles", "active"),
}
REQUIRED: dict[str, tuple[str, ...]] = {
    "communities": ("id", "name", "kind"),
    "contacts": ("id", "community", "name"),
    "staff": ("id", "name", "roles"),
}

Row = dict[str, Any]


@dataclass(frozen=True)
class KnownIds:
    """Ids already in the registry (active or not) that imported rows may refer to."""

    communities: Set[str] = frozenset()
    staff: Set[str] = frozenset()


@dataclass
class ValidImport:
    """Rows ready to store, per included table, keyed by the store's column names."""

    tables: dict[str, list[Row]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)


class _RowCheck:
    """Collects the problems of one row while its cells are parsed."""

    def __init__(self, table: RawTable, number: int, cells: dict[str, Any],
                 problems: list[Problem]) -> None:
        self.table, self.number, self.cells, self.problems = table, number, cells, problems
        self.failed: set[str] = set()
        self.refused_cells: set[str] = set()  # refused whatever the column (length, control)

    def get(self, column: str, parse: Callable[[Any], Any]) -> Any:
        """Parse one cell; on a bad value record the problem and return None."""
        if column in self.refused_cells:
            return None
        try:
            return parse(self.cells.get(column))
        except v.BadValue as exc:
            self.fail(column, str(exc))
            return None

    def fail(self, column: str, message: str) -> None:
        """Record a problem of this row."""
        self.failed.add(column)
        self.problems.append(Problem(self.table.label, self.number, column, message))


def validate_import(raw: RawImport, known: KnownIds) -> ValidImport:
    """Every rule of REGISTRY.md over every row; all problems, in file and row order."""
    result = ValidImport(problems=list(raw.problems))
    staff_ids = _ids_of(raw.tables.get("staff")) | set(known.staff)
    community_ids = _ids_of(raw.tables.get("communities")) | set(known.communities)
    checks: dict[str, Callable[[_RowCheck], Row]] = {
        "communities": lambda c: _community(c, staff_ids),
        "contacts": lambda c: _contact(c, community_ids),
        "staff": _staff,
    }
    for name in ("communities", "contacts", "staff"):
        table = raw.tables.get(name)
        if table is not None:
            result.tables[name] = _validate_table(table, checks[name], result.problems)
    return result


def _ids_of(table: RawTable | None) -> set[str]:
    if table is None:
        return set()
    return {t for _, cells in table.rows if (t := v.text(cells.get("id"))) is not None}


def _validate_table(
    table: RawTable, check: Callable[[_RowCheck], Row], problems: list[Problem]
) -> list[Row]:
    if not _header_ok(table, problems):
        return []
    rows: list[Row] = []
    first_row: dict[str, int] = {}
    order = {col: i for i, col in enumerate(table.columns)}
    for number, cells in table.rows:
        row_problems: list[Problem] = []
        row_check = _RowCheck(table, number, cells, row_problems)
        _check_cells(row_check, table.name)
        row = check(row_check)
        row_id = row.get("id")
        if row_id is not None and row_id in first_row:
            row_check.fail("id", f"'{row_id}' staat ook in rij {first_row[row_id]} / duplicates "
                                 f"row {first_row[row_id]}")
        elif row_id is not None:
            first_row[row_id] = number
        row_problems.sort(key=lambda p: order.get(p.column or "", len(order)))
        problems.extend(row_problems)
        rows.append(row)
    return rows


def _check_cells(c: _RowCheck, table: str) -> None:
    """Every cell's length and characters, before its column's own rule."""
    for column, value in c.cells.items():
        free_text = table == "communities" and column not in COLUMNS["communities"]
        problem = v.cell_problem(value, free_text=free_text)
        if problem is not None:
            c.fail(column, problem)
            c.refused_cells.add(column)


def _header_ok(table: RawTable, problems: list[Problem]) -> bool:
    ok = True
    for column in REQUIRED[table.name]:
        if column not in table.columns:
            problems.append(Problem(table.label, 1, column,
                                    "verplichte kolom ontbreekt / required column is missing"))
            ok = False
    if table.name == "staff" and not {"phone", "email"} & set(table.columns):
        problems.append(Problem(table.label, 1, "phone",
                                "kolom phone of email ontbreekt / needs a phone or email column"))
        ok = False
    if table.name != "communities":
        for column in table.columns:
            if column not in COLUMNS[table.name]:
                problems.append(Problem(
                    table.label, 1, column,
                    f"onbekende kolom (tikfout?) / unknown column (a typo?); {table.name} "
                    f"columns are: {', '.join(COLUMNS[table.name])}",
                ))
                ok = False
    return ok


def _community(c: _RowCheck, staff_ids: Set[str]) -> Row:
    lat = c.get("lat", lambda x: v.coordinate(x, 90))
    lon = c.get("lon", lambda x: v.coordinate(x, 180))
    for given, missing in (("lat", "lon"), ("lon", "lat")):
        if (c.cells.get(given) is not None and c.cells.get(missing) is None
                and given not in c.refused_cells):
            c.fail(missing, f"ontbreekt terwijl {given} gegeven is / missing while {given} is "
                            "given (both or neither)")
    liaison = c.get("liaison", v.identifier_or_none)
    if liaison is not None and liaison not in staff_ids:
        c.fail("liaison", f"'{liaison}' is geen medewerker (staff id) / is not a staff id")
    attributes = {
        col: value for col in c.cells if col not in COLUMNS["communities"]
        if (value := c.get(col, v.attribute)) is not None
    }
    return {
        "id": c.get("id", v.identifier), "name": c.get("name", v.name),
        "kind": c.get("kind", v.kind), "tags": c.get("tags", v.word_list) or [],
        "languages": c.get("languages", v.languages) or [], "area": c.get("area", v.area),
        "lat": lat, "lon": lon, "liaison_id": liaison, "attributes": attributes,
        "active": c.get("active", v.active),
    }


def _contact(c: _RowCheck, community_ids: Set[str]) -> Row:
    community = c.get("community", v.identifier)
    if community is not None and community not in community_ids:
        c.fail("community", f"'{community}' is geen bekende gemeenschap / is not a known "
                            "community id")
    phone, email = c.get("phone", v.phone), c.get("email", v.email)
    _need_address(c, phone, email)
    channel = c.get("channel", v.channel)
    if channel is None:
        channel = "sms" if phone is not None or "phone" in c.failed else "email"
    elif channel == "sms" and phone is None and "phone" not in c.failed:
        c.fail("channel", "sms gekozen maar geen telefoonnummer / sms chosen but no phone")
    elif channel == "email" and email is None and "email" not in c.failed:
        c.fail("channel", "email gekozen maar geen e-mailadres / email chosen but no email")
    return {
        "id": c.get("id", v.identifier), "community_id": community,
        "name": c.get("name", v.name), "role": c.get("role", v.role),
        "priority": c.get("priority", v.priority), "phone": phone, "email": email,
        "channel": channel, "language": c.get("language", v.language),
        "consent": c.get("consent", v.consent), "active": c.get("active", v.active),
    }


def _staff(c: _RowCheck) -> Row:
    phone, email = c.get("phone", v.phone), c.get("email", v.email)
    _need_address(c, phone, email)
    return {
        "id": c.get("id", v.identifier), "name": c.get("name", v.name),
        "phone": phone, "email": email, "roles": c.get("roles", v.staff_roles),
        "active": c.get("active", v.active),
    }


def _need_address(c: _RowCheck, phone: str | None, email: str | None) -> None:
    if phone is None and email is None and not {"phone", "email"} & c.failed:
        c.fail("phone", "telefoon of e-mail is verplicht / a phone or an email is required")
