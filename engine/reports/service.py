"""The report commands' work: read in one snapshot, write the file whole, record who took it.

Order of things, so that no personal data leaves without a record of who asked and no record
is missing for data that left: a file is written under a temporary name, then the export is
recorded (committed), then the file is renamed into place; on standard output the export is
recorded before the first byte is written. A failure before the record leaves nothing behind.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session

from engine.reports import raw
from engine.reports.evaluation import assemble, head_of, load_incident
from engine.reports.output import Output, check_target
from engine.reports.recording import record_export
from engine.reports.render import write_pdf, write_text
from engine.reports.views import evaluation_view
from engine.store.db import reading, session_scope

EXPORT_FORMATS = ("jsonl", "csv", "md", "html", "pdf")
REPORT_FORMATS = ("md", "html", "pdf")
CALLSHEET_FORMATS = ("html", "pdf")


@contextmanager
def snapshot(engine: Engine) -> Iterator[Connection]:
    """A read-only transaction that sees one state of the store throughout (PostgreSQL:
    REPEATABLE READ; SQLite: one read transaction, which WAL keeps consistent)."""
    with reading(engine).connect() as conn:
        if conn.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            yield conn


def deliver(engine: Engine, output: Path | None, *, private: bool,
            record: Callable[[Session], None], write: Callable[[BinaryIO], None]) -> None:
    """Write through `write` to a file or stdout, with `record` committed before it shows."""
    with Output(output, private=private) as out:
        if output is None:
            _commit(engine, record)
            write(out.stream)
        else:
            write(out.stream)
            _commit(engine, record)
        out.publish()


def _commit(engine: Engine, record: Callable[[Session], None]) -> None:
    with session_scope(engine) as session:
        record(session)


def export_incident(engine: Engine, *, incident_id: int, fmt: str, output: Path | None,
                    include_pii: bool, lang: str, actor: str, now: datetime) -> None:
    """`incident export`: the timeline (jsonl, csv) or the evaluation report (md, html, pdf)."""
    check_target(output)

    def record(session: Session) -> None:
        record_export(session, incident_id=incident_id, actor=actor, what="export", fmt=fmt,
                      pii=include_pii, now=now)

    with snapshot(engine) as conn:
        incident = load_incident(conn, incident_id)
        if fmt in ("jsonl", "csv"):
            from engine.playbooks.frozen import playbook_of

            playbook = playbook_of(incident)
            head = {"record": "incident", "v": raw.VERSION, "schema": raw.SCHEMA,
                    "incident": head_of(incident, playbook).as_json(), "pii": include_pii,
                    "exported_at": _iso(now), "events": raw.event_count(conn, incident_id)}
            writer = raw.write_jsonl if fmt == "jsonl" else raw.write_csv

            def write(stream: BinaryIO) -> None:
                writer(conn, head, dict(playbook.intake_forms), stream, include_pii=include_pii)
        else:
            ev = assemble(conn, incident_id, include_pii=include_pii, now=now)
            view = evaluation_view(ev, lang, charts=fmt in ("html", "pdf"))
            template = "evaluation.md.j2" if fmt == "md" else "evaluation.html.j2"

            def write(stream: BinaryIO) -> None:
                (write_pdf if fmt == "pdf" else write_text)(template, view, stream)

        deliver(engine, output, private=include_pii, record=record, write=write)


def _iso(value: datetime) -> str:
    from engine.clock import iso_z

    return iso_z(value)


def write_callsheet(engine: Engine, *, incident_id: int, fmt: str, output: Path | None,
                    lang: str, actor: str, now: datetime) -> None:
    """`incident callsheet`: personal data by nature, so 0600 and recorded like an export
    with personal data."""
    from engine.reports.callsheet import assemble_callsheet
    from engine.reports.views import callsheet_view

    check_target(output)

    def record(session: Session) -> None:
        record_export(session, incident_id=incident_id, actor=actor, what="callsheet",
                      fmt=fmt, pii=True, now=now)

    with snapshot(engine) as conn:
        view = callsheet_view(assemble_callsheet(conn, incident_id, now=now), lang)

    def write(stream: BinaryIO) -> None:
        (write_pdf if fmt == "pdf" else write_text)("callsheet.html.j2", view, stream)

    deliver(engine, output, private=True, record=record, write=write)


def write_period_report(engine: Engine, *, start: datetime, end: datetime, zone: str,
                        fmt: str, output: Path | None, lang: str, now: datetime) -> None:
    """`report`: figures over the real incidents of a period; no personal data, so nothing
    to record and the file gets the usual permissions."""
    from engine.reports.period import assemble_period
    from engine.reports.views import period_view

    check_target(output)
    with snapshot(engine) as conn:
        view = period_view(assemble_period(conn, start, end, zone=zone, now=now), lang,
                           charts=fmt != "md")
    template = "period.md.j2" if fmt == "md" else "period.html.j2"

    def write(stream: BinaryIO) -> None:
        (write_pdf if fmt == "pdf" else write_text)(template, view, stream)

    with Output(output, private=False) as out:
        write(out.stream)
        out.publish()
