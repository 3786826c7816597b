"""Changing rows the application may not change, as someone with the database's own rights
could: for tests that need an event gone, and for tests of the audit chain."""

from __future__ import annotations

from sqlalchemy.engine import Connection


def bypass_append_only(conn: Connection) -> None:
    """The append-only triggers stop nothing more: in this transaction on PostgreSQL (as its
    superuser), for good on SQLite (the triggers are dropped)."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        return
    for table in ("event", "auditentry"):
        for what in ("update", "delete"):
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {table}_no_{what}")
