"""TOTP secrets are sealed at rest, on SQLite and PostgreSQL: the rows never hold the base32
secret; a secret stored before sealing works and is sealed at the next login; a value copied
to another account, or read under a changed secret key, refuses the second step cleanly."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

import pyotp
import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import select

from engine.accounts.enrolment import complete_enrolment, view_enrolment
from engine.accounts.sealed import account_aad, is_sealed, open_sealed
from engine.accounts.service import add_account, list_accounts
from engine.accounts.sessions import finish_login, start_login
from engine.clock import FakeClock
from engine.registry.importer import import_registry
from engine.store.db import session_scope
from engine.store.models import Event
from engine.wiring import AppContext
from tests.dashboard_support import DASHBOARD_REGISTRY, User, enrolled
from tests.engine_support import make_ctx


@pytest.fixture
def app(any_engine: Engine, clock: FakeClock, tmp_path: Path) -> AppContext:
    """A context on SQLite or PostgreSQL with the dashboard registry."""
    import_registry(any_engine, [DASHBOARD_REGISTRY], clock=clock)
    return make_ctx(any_engine, clock, tmp_path)


def _raw(app: AppContext, sql: str, **params: object) -> list[str | None]:
    """The column straight from the database (no model in between)."""
    with app.engine.connect() as conn:
        return [row[0] for row in conn.execute(text(sql), params)]


def _store_raw(app: AppContext, account_id: int, value: str) -> None:
    with app.engine.begin() as conn:
        conn.execute(text("UPDATE account SET totp_secret = :v WHERE id = :id"),
                     {"v": value, "id": account_id})


def _login(app: AppContext, user: User, code: str) -> str | None:
    """Both steps of a login (the password step as the service sees it)."""
    with session_scope(app.engine) as s:
        half = start_login(s, account_id=user.id, now=app.clock.now())
    with session_scope(app.engine) as s:
        return finish_login(s, cookie=half, code=code, now=app.clock.now(), key=app.totp_key)


def _code(secret: str, clock: FakeClock) -> str:
    return pyotp.TOTP(secret).at(clock.now())


def _refusals(app: AppContext, account_id: int) -> int:
    with session_scope(app.engine, read_only=True) as s:
        events = s.exec(select(Event).where(Event.kind == "account.login_refused"))
        return sum(1 for e in events if e.data.get("account") == account_id)


def test_the_rows_never_hold_the_base32_secret(app: AppContext) -> None:
    now = app.clock.now()
    with session_scope(app.engine) as s:
        account, token = add_account(s, email="coco@example.net", role="coordinator",
                                     staff_id=None, now=now, key=app.totp_key)
        view = view_enrolment(s, token=token, now=now, key=app.totp_key)
    assert view is not None
    [link] = _raw(app, "SELECT totp_secret FROM enrolment")
    assert link is not None and is_sealed(link) and view.totp_secret not in link
    with session_scope(app.engine) as s:
        assert complete_enrolment(s, token=token, new_password_hash="h", now=now,
                                  code=_code(view.totp_secret, app.clock),
                                  key=app.totp_key) is not None
    [stored] = _raw(app, "SELECT totp_secret FROM account")
    assert stored is not None and is_sealed(stored) and view.totp_secret not in stored
    assert open_sealed(app.totp_key, account_aad(account.id), stored) == view.totp_secret
    assert _raw(app, "SELECT totp_secret FROM enrolment") == [None]


def test_a_secret_stored_before_sealing_works_and_is_sealed_at_the_next_login(
        app: AppContext, clock: FakeClock) -> None:
    user = enrolled(app, "coco@example.net", "coordinator")
    _store_raw(app, user.id, user.secret)  # as every row was before sealing
    clock.advance(timedelta(seconds=30))
    assert _login(app, user, user.code(clock)) is not None
    [stored] = _raw(app, "SELECT totp_secret FROM account WHERE id = :id", id=user.id)
    assert stored is not None and is_sealed(stored) and user.secret not in stored
    clock.advance(timedelta(seconds=30))
    assert _login(app, user, user.code(clock)) is not None  # and the sealed one works on
    assert _raw(app, "SELECT totp_secret FROM account WHERE id = :id", id=user.id) == [stored]


def test_a_wrong_code_leaves_a_plain_secret_as_it_is(app: AppContext, clock: FakeClock) -> None:
    user = enrolled(app, "coco@example.net", "coordinator")
    _store_raw(app, user.id, user.secret)
    clock.advance(timedelta(seconds=30))
    wrong = "000000" if user.code(clock) != "000000" else "111111"
    assert _login(app, user, wrong) is None
    assert _raw(app, "SELECT totp_secret FROM account WHERE id = :id", id=user.id) == [
        user.secret]


def test_a_sealed_secret_copied_to_another_account_does_not_open(
        app: AppContext, clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    owner = enrolled(app, "coco@example.net", "coordinator")
    thief = enrolled(app, "view@example.net", "viewer")
    [owners] = _raw(app, "SELECT totp_secret FROM account WHERE id = :id", id=owner.id)
    assert owners is not None
    _store_raw(app, thief.id, owners)
    clock.advance(timedelta(seconds=30))
    with caplog.at_level(logging.WARNING, logger="engine.accounts"):
        assert _login(app, thief, owner.code(clock)) is None
    assert _refusals(app, thief.id) == 1
    _assert_one_clean_warning(caplog, thief, owners)
    assert _login(app, owner, owner.code(clock)) is not None  # the owner's row still opens


def test_a_changed_secret_key_refuses_the_second_step_cleanly(
        app: AppContext, clock: FakeClock, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    user = enrolled(app, "coco@example.net", "coordinator")
    [stored] = _raw(app, "SELECT totp_secret FROM account WHERE id = :id", id=user.id)
    rotated = make_ctx(app.engine, clock, tmp_path, secret_key="a new secret key")
    clock.advance(timedelta(seconds=30))
    with caplog.at_level(logging.WARNING, logger="engine.accounts"):
        assert _login(rotated, user, user.code(clock)) is None
    assert _refusals(app, user.id) == 1
    _assert_one_clean_warning(caplog, user, stored or "", "a new secret key", "test-secret")
    assert _raw(app, "SELECT totp_secret FROM account WHERE id = :id", id=user.id) == [stored]
    with session_scope(app.engine, read_only=True) as s:
        assert [a["factor_readable"] for a in list_accounts(s, key=rotated.totp_key)] == [False]
        assert [a["factor_readable"] for a in list_accounts(s, key=app.totp_key)] == [True]
    # a recovery code still lets the person in (and then reset-2fa gives a new factor)
    assert _login(rotated, user, user.recovery[0]) is not None
    clock.advance(timedelta(seconds=30))
    assert _login(app, user, user.code(clock)) is not None  # the old key still opens it


def test_a_changed_secret_key_makes_an_open_enrolment_link_unusable(
        app: AppContext, clock: FakeClock, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    now = clock.now()
    with session_scope(app.engine) as s:
        account, token = add_account(s, email="coco@example.net", role="coordinator",
                                     staff_id=None, now=now, key=app.totp_key)
        view = view_enrolment(s, token=token, now=now, key=app.totp_key)
    assert view is not None
    rotated = make_ctx(app.engine, clock, tmp_path, secret_key="a new secret key")
    with caplog.at_level(logging.WARNING, logger="engine.accounts"), \
            session_scope(app.engine) as s:
        assert view_enrolment(s, token=token, now=now, key=rotated.totp_key) is None
        assert complete_enrolment(s, token=token, new_password_hash="h", now=now,
                                  code=_code(view.totp_secret, clock),
                                  key=rotated.totp_key) is None
    lines = [r.getMessage() for r in caplog.records]
    assert lines and all(f"account {account.id} cannot be read" in line for line in lines)
    assert not any(view.totp_secret in line or "coco" in line for line in lines)


def _assert_one_clean_warning(caplog: pytest.LogCaptureFixture, user: User,
                              *hidden: str) -> None:
    [line] = [r.getMessage() for r in caplog.records]
    assert f"account {user.id} cannot be read" in line and "verbinder user reset-2fa" in line
    for secret in (user.secret, user.email, user.email.split("@")[0], *hidden):
        assert secret not in line
