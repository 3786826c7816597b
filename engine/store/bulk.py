"""Bulk writes: many rows of one table in one statement.

On PostgreSQL the rows travel as one array per column through `unnest()`. The statement's text
then depends only on which columns are written, so psycopg parses it once and the server
prepares it; a multi-row VALUES list (SQLAlchemy's "insertmanyvalues") has new text for every
batch size, with a parameter per cell, and psycopg split each one anew in Python, which cost
more than the rest of firing a batch of timers. Elsewhere (SQLite) rows go by executemany.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Dialect

Row = Mapping[str, Any]


def insert_rows(conn: Connection, table: sa.Table, rows: list[Row], *,
                skip_conflicts_on: str | None = None, returning: str | None = None) -> list[Any]:
    """Insert rows (all with the same keys); with `skip_conflicts_on`, a row whose value in
    that unique column exists already is left out; `returning` names a column whose values of
    the inserted rows come back (in no particular order)."""
    if not rows:
        return []
    if conn.dialect.name == "postgresql":
        sql, arrays = _unnest_insert(conn.dialect, table, tuple(rows[0]), skip_conflicts_on,
                                     returning)
        result = conn.exec_driver_sql(sql, _columns_of(arrays, rows))
        return list(result.scalars()) if returning else []
    return _insert_many(conn, table, rows, skip_conflicts_on, returning)


def update_rows(conn: Connection, table: sa.Table, rows: list[Row], *, key: str = "id",
                fixed: Row | None = None, only_where: Row | None = None) -> set[Any]:
    """Update rows by `key` (each row: the key and the values to set), setting `fixed` values on
    all of them, where the row still has the `only_where` values; the keys that were updated."""
    if not rows:
        return set()
    fixed, only_where = dict(fixed or {}), dict(only_where or {})
    if conn.dialect.name == "postgresql":
        sql, arrays = _unnest_update(conn.dialect, table, tuple(rows[0]), key, tuple(fixed),
                                     tuple(only_where))
        params = _columns_of(arrays, rows)
        params.update({f"f_{c}": _converter(conn.dialect, table.c[c])(v)
                       for c, v in fixed.items()})
        params.update({f"w_{c}": _converter(conn.dialect, table.c[c])(v)
                       for c, v in only_where.items()})
        return set(conn.exec_driver_sql(sql, params).scalars())
    return _update_many(conn, table, rows, key, fixed, only_where)


def any_of(conn: Connection, column: sa.ColumnElement[Any],
           values: list[Any]) -> sa.ColumnElement[bool]:
    """`column IN (values)`; on PostgreSQL `column = ANY(array)`: one parameter however many
    values, so the statement's text stays the same and the driver parses it once."""
    if conn.dialect.name == "postgresql":
        array = sa.bindparam(None, list(values), type_=postgresql.ARRAY(column.type))
        return column == sa.any_(array)
    return column.in_(values)


# --- PostgreSQL: one array per column ---------------------------------------------------------

Arrays = tuple[tuple[str, Callable[[Any], Any]], ...]  # (column, value converter) in order
_STATEMENTS: dict[tuple[Any, ...], Any] = {}


def _unnest_insert(dialect: Dialect, table: sa.Table, columns: tuple[str, ...],
                   conflict: str | None, returning: str | None) -> tuple[str, Arrays]:
    cache_key = ("insert", table.name, columns, conflict, returning)
    if cache_key not in _STATEMENTS:
        prep = dialect.identifier_preparer
        names = ", ".join(prep.quote(c) for c in columns)
        sql = (f"INSERT INTO {prep.format_table(table)} ({names}) SELECT * FROM "
               f"{_unnest(dialect, table, columns)}")
        if conflict:
            sql += f" ON CONFLICT ({prep.quote(conflict)}) DO NOTHING"
        if returning:
            sql += f" RETURNING {prep.quote(returning)}"
        _STATEMENTS[cache_key] = sql, _arrays(dialect, table, columns)
    return _STATEMENTS[cache_key]


def _unnest_update(dialect: Dialect, table: sa.Table, columns: tuple[str, ...], key: str,
                   fixed: tuple[str, ...], only_where: tuple[str, ...]) -> tuple[str, Arrays]:
    cache_key = ("update", table.name, columns, key, fixed, only_where)
    if cache_key not in _STATEMENTS:
        prep = dialect.identifier_preparer
        target = prep.format_table(table)
        sets = [f"{prep.quote(c)} = v.{prep.quote(c)}" for c in columns if c != key]
        sets += [f"{prep.quote(c)} = %(f_{c})s" for c in fixed]
        conditions = [f"{target}.{prep.quote(key)} = v.{prep.quote(key)}"]
        conditions += [f"{target}.{prep.quote(c)} = %(w_{c})s" for c in only_where]
        sql = (f"UPDATE {target} SET {', '.join(sets)} FROM {_unnest(dialect, table, columns)} "
               f"WHERE {' AND '.join(conditions)} RETURNING {target}.{prep.quote(key)}")
        _STATEMENTS[cache_key] = sql, _arrays(dialect, table, columns)
    return _STATEMENTS[cache_key]


def _unnest(dialect: Dialect, table: sa.Table, columns: tuple[str, ...]) -> str:
    """`unnest(CAST(%(a_x)s AS T[]), ...) AS v(x, ...)`: one typed array parameter per column."""
    prep = dialect.identifier_preparer
    arrays = ", ".join(f"CAST(%(a_{c})b AS {_array_type(dialect, table.c[c])})" for c in columns)
    return f"unnest({arrays}) AS v({', '.join(prep.quote(c) for c in columns)})"


def _array_type(dialect: Dialect, column: sa.Column[Any]) -> str:
    return postgresql.ARRAY(column.type).compile(dialect=dialect)


def _arrays(dialect: Dialect, table: sa.Table, columns: tuple[str, ...]) -> Arrays:
    return tuple((c, _converter(dialect, table.c[c])) for c in columns)


def _converter(dialect: Dialect, column: sa.Column[Any]) -> Callable[[Any], Any]:
    """What SQLAlchemy would do to a value bound to this column, for an array element."""
    kind = column.type
    if isinstance(kind, sa.JSON):
        serialise = dialect._json_serializer or json.dumps  # type: ignore[attr-defined]
        return lambda v: None if v is None else serialise(v)
    return kind.bind_processor(dialect) or _same


def _same(value: Any) -> Any:
    return value


def _columns_of(arrays: Arrays, rows: Iterable[Row]) -> dict[str, list[Any]]:
    rows = list(rows)
    return {f"a_{c}": [convert(r[c]) for r in rows] for c, convert in arrays}


# --- elsewhere: executemany -------------------------------------------------------------------


def _insert_many(conn: Connection, table: sa.Table, rows: list[Row], conflict: str | None,
                 returning: str | None) -> list[Any]:
    cache_key = ("many", conn.dialect.name, table.name, conflict, returning)
    stmt = _STATEMENTS.get(cache_key)
    if stmt is None:  # building it anew for every batch cost more than running it
        stmt = sqlite.insert(table) if conn.dialect.name == "sqlite" else sa.insert(table)
        if conflict:
            stmt = stmt.on_conflict_do_nothing(index_elements=[conflict])
        if returning:
            stmt = stmt.returning(table.c[returning])
        _STATEMENTS[cache_key] = stmt
    result = conn.execute(stmt, list(rows))
    return list(result.scalars()) if returning else []


def _update_many(conn: Connection, table: sa.Table, rows: list[Row], key: str, fixed: Row,
                 only_where: Row) -> set[Any]:
    keys = [r[key] for r in rows]
    matched = set(conn.execute(
        sa.select(table.c[key]).where(table.c[key].in_(keys),
                                      *[table.c[c] == v for c, v in only_where.items()])
    ).scalars())
    kept = [r for r in rows if r[key] in matched]
    if kept:
        values = {c: sa.bindparam(f"u_{c}") for c in kept[0] if c != key}
        conn.execute(
            sa.update(table).where(table.c[key] == sa.bindparam("u_key"))
            .values(**values, **fixed),
            [{"u_key": r[key], **{f"u_{c}": r[c] for c in values}} for r in kept],
        )
    return matched
