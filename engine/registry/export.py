"""Exporting the social map as JSON, CSV (the import format) or HTML; public = no persons."""

from __future__ import annotations

import csv
import html
import io
import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Connection

from engine.registry.importer import load_rows
from engine.registry.spreadsheet import protect

PERSONS_NOTICE = (
    "Let op: deze export bevat persoonsgegevens (bijzondere categorie, art. 9 AVG); bewaar en deel "
    "hem zorgvuldig. / Note: this export holds personal data (special category, Art. 9 GDPR); "
    "keep and share it with care."
)
BASE_COLUMNS: dict[str, tuple[str, ...]] = {
    "communities": ("id", "name", "kind", "tags", "languages", "area", "lat", "lon", "liaison"),
    "contacts": ("id", "community", "name", "role", "priority", "phone", "email", "channel",
                 "language", "consent", "active"),
    "staff": ("id", "name", "phone", "email", "roles"),
}
_STORE_NAME = {"liaison": "liaison_id", "community": "community_id"}
_LISTS = ("tags", "languages", "roles")
_PHONE_LIKE = re.compile(r"\+?\d[\d\s().-]{7,}\d")


@dataclass(frozen=True)
class RegistryExport:
    """The tables of an export: column names and rows of JSON-ready values, per table."""

    public: bool
    columns: dict[str, list[str]]
    rows: dict[str, list[dict[str, Any]]]

    @property
    def holds_persons(self) -> bool:
        """True when the export names contact persons or staff."""
        return not self.public

    def as_dict(self) -> dict[str, Any]:
        """The `--format json` document."""
        doc: dict[str, Any] = dict(self.rows)
        if self.holds_persons:
            doc["notice"] = PERSONS_NOTICE
        return doc


def build_export(conn: Connection, *, public: bool, include_inactive: bool = False
                 ) -> RegistryExport:
    """Read the registry into export tables; public leaves out every person and the liaison."""
    stored = {name: load_rows(conn, name) for name in ("communities", "contacts", "staff")}
    tables = ("communities",) if public else ("communities", "contacts", "staff")
    columns: dict[str, list[str]] = {}
    rows: dict[str, list[dict[str, Any]]] = {}
    for name in tables:
        # Contacts carry their `active` column, so all of them are exported; communities and
        # staff have none in the import format, so inactive ones only with include_inactive.
        # A person purge erased is no row of the map any more (it could not be imported).
        chosen = [r for _, r in sorted(stored[name].items())
                  if (include_inactive or name == "contacts" or r["active"])
                  and not (r.get("erased_at") and not r["active"])]
        columns[name] = _columns_of(name, chosen, public=public, include_inactive=include_inactive)
        rows[name] = [_export_row(name, r, columns[name]) for r in chosen]
    if public:
        _scrub_attributes(rows["communities"], stored["contacts"].values(),
                          stored["staff"].values())
    return RegistryExport(public=public, columns=columns, rows=rows)


def _columns_of(name: str, rows: list[dict[str, Any]], *, public: bool,
                include_inactive: bool) -> list[str]:
    columns = [c for c in BASE_COLUMNS[name] if not (public and c == "liaison")]
    if name != "contacts" and include_inactive:
        columns.append("active")
    if name == "communities":
        for row in rows:
            columns.extend(k for k in row["attributes"] if k not in columns)
    return columns


def _export_row(name: str, stored: dict[str, Any], columns: list[str]) -> dict[str, Any]:
    attributes = stored.get("attributes", {})
    row: dict[str, Any] = {}
    stored_columns = (*BASE_COLUMNS[name], "active")
    for column in columns:
        key = _STORE_NAME.get(column, column)
        if column in stored_columns:
            value = stored[key]
            if column in _LISTS:
                value = ";".join(value)
            elif column == "consent" and value is not None:
                value = value.isoformat()
            row[column] = value
        else:
            row[column] = attributes.get(column)
    return row


def _scrub_attributes(communities: list[dict[str, Any]], *people: Iterable[dict[str, Any]]
                      ) -> None:
    """Drop extra-column values that name a person or hold an address or number."""
    secrets: set[str] = set()
    for group in people:
        for person in group:
            secrets.update(str(person[k]).lower() for k in ("name", "phone", "email")
                           if person.get(k))
    base = set(BASE_COLUMNS["communities"]) | {"active"}
    for row in communities:
        for key, value in row.items():
            if key in base or value is None:
                continue
            low = value.lower()
            if "@" in low or _PHONE_LIKE.search(low) or any(s in low for s in secrets):
                row[key] = None


def cell(value: Any) -> str:
    """A value as a CSV cell in the import format."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def render_json(export: RegistryExport) -> str:
    """The export as one JSON document."""
    return json.dumps(export.as_dict(), ensure_ascii=False, indent=2) + "\n"


def render_csv(export: RegistryExport, name: str) -> str:
    """One table as CSV in the import format (comma separated, UTF-8); a cell a spreadsheet
    would run as a formula gets a leading apostrophe, which the import takes off again."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([protect(c) for c in export.columns[name]])
    for row in export.rows[name]:
        writer.writerow([protect(cell(row[c])) for c in export.columns[name]])
    return buffer.getvalue()


def render_html(export: RegistryExport) -> str:
    """A plain, readable HTML document with one table per list."""
    title = ("Sociale kaart (openbaar) / Social map (public)" if export.public
             else "Sociale kaart / Social map")
    parts = [
        "<!doctype html>", '<html lang="nl">', "<head>", '<meta charset="utf-8">',
        f"<title>{html.escape(title)}</title>",
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;"
        "margin-bottom:2em}th,td{border:1px solid #999;padding:.25em .5em;text-align:left}"
        "th{background:#eee}.notice{background:#fff3cd;padding:.5em;border:1px solid #c90}"
        "</style>", "</head>", "<body>", f"<h1>{html.escape(title)}</h1>",
    ]
    if export.holds_persons:
        parts.append(f'<p class="notice">{html.escape(PERSONS_NOTICE)}</p>')
    headings = {"communities": "Gemeenschappen / Communities",
                "contacts": "Contactpersonen / Contacts", "staff": "Medewerkers / Staff"}
    for name, rows in export.rows.items():
        parts.append(f"<h2>{headings[name]} ({len(rows)})</h2>")
        parts.append("<table><thead><tr>" + "".join(
            f"<th>{html.escape(c)}</th>" for c in export.columns[name]) + "</tr></thead><tbody>")
        parts.extend("<tr>" + "".join(f"<td>{html.escape(cell(row[c]))}</td>"
                                      for c in export.columns[name]) + "</tr>" for row in rows)
        parts.append("</tbody></table>")
    parts += ["</body>", "</html>", ""]
    return "\n".join(parts)


def write_text(path: Path, content: str, *, private: bool) -> None:
    """Write a file; one holding persons gets owner-only permissions (0600) from the start."""
    mode = 0o600 if private else 0o644
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
        os.fchmod(handle.fileno(), mode)
        handle.write(content)


def write_csv_folder(export: RegistryExport, folder: Path) -> list[Path]:
    """Write communities.csv (and contacts.csv, staff.csv) into a folder, in the import format."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name in export.rows:
        path = folder / f"{name}.csv"
        write_text(path, render_csv(export, name), private=export.holds_persons)
        written.append(path)
    return written
