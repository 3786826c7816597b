"""The tests' own databases: copies of a template migrated once, made once however many test
processes ask at the same moment, and named by the migrations they hold."""

from __future__ import annotations

import shutil
import stat
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

import tests.conftest as harness
from engine.store.db import MIGRATIONS, at_head, make_engine


def _databases(admin: Engine, pattern: str) -> list[tuple[str, bool, bool]]:
    with admin.connect() as conn:
        return [tuple(row) for row in conn.exec_driver_sql(
            "SELECT datname, datistemplate, datallowconn FROM pg_database "
            "WHERE datname LIKE %s ORDER BY datname", (pattern,)).all()]


def _drop_template(admin: Engine, name: str) -> None:
    with admin.connect() as conn:
        conn.exec_driver_sql(f'ALTER DATABASE "{name}" WITH IS_TEMPLATE false')
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def admin(_pg_admin: Engine | str) -> Engine:
    return harness._reachable(_pg_admin)


@pytest.fixture
def digest(admin: Engine) -> Iterator[str]:
    """A digest no other run uses; its template is dropped after the test."""
    value = uuid.uuid4().hex[:16]
    yield value
    for name, is_template, _ in _databases(admin, f"verbinder_tpl%{value}%"):
        if is_template:
            _drop_template(admin, name)
        else:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.postgres
def test_processes_asking_at_once_get_one_template_built_once(
    admin: Engine, digest: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    builds: list[str] = []
    build = harness._build_template
    monkeypatch.setattr(harness, "_build_template",
                        lambda conn, name, building: (builds.append(name),
                                                      build(conn, name, building)))
    start = threading.Barrier(3)
    names: list[str] = []

    def ask() -> None:
        start.wait()
        names.append(harness.ensure_template(admin, digest))

    askers = [threading.Thread(target=ask) for _ in range(3)]
    for thread in askers:
        thread.start()
    for thread in askers:
        thread.join(timeout=120)
    template = f"verbinder_tpl_{digest}"
    assert names == [template] * 3
    assert builds == [template]
    assert _databases(admin, f"verbinder_tpl%{digest}%") == [(template, True, False)]


@pytest.mark.postgres
def test_a_copy_of_the_template_is_at_head_and_empty(admin: Engine, digest: str) -> None:
    template = harness.ensure_template(admin, digest)
    database = harness.PgDatabase(admin)
    database.make(template=template)
    engine = make_engine(database.url)
    try:
        assert at_head(engine)
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM community").scalar_one() == 0
    finally:
        engine.dispose()
        database.drop()


@pytest.mark.postgres
def test_a_build_left_half_way_by_a_killed_process_is_dropped(admin: Engine, digest: str) -> None:
    leftover = f"verbinder_tplb_{digest}_killed"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{leftover}"')
    template = harness.ensure_template(admin, digest)
    assert _databases(admin, f"verbinder_tpl%{digest}%") == [(template, True, False)]


def test_a_new_or_changed_migration_names_a_new_template(tmp_path: Path) -> None:
    copy = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS, copy, ignore=shutil.ignore_patterns("__pycache__"))
    same = harness.migrations_digest(copy)
    assert same == harness.migrations_digest()
    new = copy / "versions" / "0099_next.py"
    new.write_text('revision = "0099_next"\n', encoding="utf-8")
    added = harness.migrations_digest(copy)
    new.write_text('revision = "0099_next"  # changed\n', encoding="utf-8")
    changed = harness.migrations_digest(copy)
    assert len({same, added, changed}) == 3


@pytest.mark.postgres
def test_pg_url_alone_is_an_empty_database(pg_url: str) -> None:
    engine = make_engine(pg_url)
    try:
        assert sa.inspect(engine).get_table_names() == []
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_pg_engine_and_pg_url_of_one_test_are_one_database(pg_engine: Engine, pg_url: str) -> None:
    assert pg_engine.url.render_as_string(hide_password=False) == pg_url
    assert at_head(pg_engine)


def test_a_sqlite_copy_is_private_at_head_and_the_tests_own(
    sqlite_engine: Engine, sqlite_url: str, sqlite_template: Path
) -> None:
    path = Path(sa.engine.make_url(sqlite_url).database or "")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert at_head(sqlite_engine)
    with sqlite_engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO meta (key, value) VALUES ('mine', 'x')")
    template = make_engine(f"sqlite:///{sqlite_template}")
    try:
        with template.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM meta").scalar_one() == 0
    finally:
        template.dispose()
