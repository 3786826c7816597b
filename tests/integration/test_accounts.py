"""Staff accounts on SQLite and PostgreSQL: enrolment, the two-step login, replays,
timeouts, disabling, resetting the second factor, API tokens."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pyotp
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from engine.accounts import sessions
from engine.accounts.apitokens import create_api_token, find_api_token, revoke_api_token
from engine.accounts.enrolment import complete_enrolment, view_enrolment
from engine.accounts.sealed import account_aad, enrolment_aad, open_sealed
from engine.accounts.service import add_account, disable_account, reset_second_factor
from engine.accounts.sessions import (
    end_session,
    find_session,
    finish_login,
    login_candidate,
    start_login,
)
from engine.accounts.tokens import digest
from engine.clock import FakeClock
from engine.errors import InputError, NotFoundError
from engine.registry.importer import import_registry
from engine.store.db import session_scope
from engine.store.models import Account, ApiToken, Enrolment, Event, RecoveryCode, WebSession
from engine.wiring import AppContext
from tests.dashboard_support import DASHBOARD_REGISTRY, User, enrolled
from tests.engine_support import make_ctx


@pytest.fixture
def app(any_engine: Engine, clock: FakeClock, tmp_path: Path) -> AppContext:
    """A context on SQLite or PostgreSQL with the dashboard registry."""
    import_registry(any_engine, [DASHBOARD_REGISTRY], clock=clock)
    return make_ctx(any_engine, clock, tmp_path)


def _half(app: AppContext, user: User) -> str:
    with session_scope(app.engine) as s:
        account_id, hashed = login_candidate(s, email=user.email)
        assert account_id == user.id and hashed
        cookie = start_login(s, account_id=user.id, now=app.clock.now())
    assert cookie is not None
    return cookie


def _finish(app: AppContext, cookie: str, code: str) -> str | None:
    with session_scope(app.engine) as s:
        return finish_login(s, cookie=cookie, code=code, now=app.clock.now(),
                            key=app.totp_key)


def _find(app: AppContext, cookie: str | None) -> sessions.SessionView | None:
    with session_scope(app.engine, read_only=True) as s:
        return find_session(s, cookie=cookie, now=app.clock.now())


def test_adding_refuses_what_is_wrong_and_stores_nothing(app: AppContext) -> None:
    cases = {
        ("not-an-address", "viewer", None): "EMAIL: not an email address",
        ("a@example.org", "boss", None): "--role: unknown role 'boss'",
        ("a@example.org", "liaison", None): "--staff: a liaison account needs",
        ("a@example.org", "viewer", "st-nobody"): "--staff: 'st-nobody' is not a staff member",
    }
    for (email, role, staff), message in cases.items():
        with pytest.raises(InputError) as refused, session_scope(app.engine) as s:
            add_account(s, email=email, role=role, staff_id=staff, now=app.clock.now(),
                        key=app.totp_key)
        assert message in str(refused.value)
    with session_scope(app.engine) as s:
        add_account(s, email="A@Example.org", role="viewer", staff_id=None, now=app.clock.now(),
                    key=app.totp_key)
    with pytest.raises(InputError, match="exists already"), session_scope(app.engine) as s:
        add_account(s, email="a@example.org", role="coordinator", staff_id=None,
                    now=app.clock.now(), key=app.totp_key)
    with session_scope(app.engine) as s:
        accounts = list(s.exec(select(Account)))
    assert [(a.email, a.role, a.password_hash) for a in accounts] == [
        ("a@example.org", "viewer", None)]


def test_enrolment_sets_password_and_factor_once(app: AppContext) -> None:
    now = app.clock.now()
    with session_scope(app.engine) as s:
        _, token = add_account(s, email="lia@example.net", role="liaison",
                               staff_id="st-liaison", now=now, key=app.totp_key)
    with session_scope(app.engine) as s:
        view = view_enrolment(s, token=token, now=now, key=app.totp_key)
        assert view is not None and view.purpose == "enrol"
        assert view.uri.startswith("otpauth://totp/Verbinder:lia%40example.net?secret=")
        wrong = "000000" if pyotp.TOTP(view.totp_secret).at(now) != "000000" else "111111"
        assert complete_enrolment(s, token=token, new_password_hash="h", code=wrong,
                                  now=now, key=app.totp_key) is None
    with session_scope(app.engine) as s:
        assert s.exec(select(Account)).one().password_hash is None  # nothing stored
        codes = complete_enrolment(s, token=token, new_password_hash="h",
                                   code=pyotp.TOTP(view.totp_secret).at(now), now=now,
                                   key=app.totp_key)
    assert codes is not None and len(set(codes)) == 10
    with session_scope(app.engine) as s:
        account = s.exec(select(Account)).one()
        assert account.password_hash == "h" and view.totp_secret not in account.totp_secret
        assert open_sealed(app.totp_key, account_aad(account.id),
                           account.totp_secret) == view.totp_secret
        stored = {r.code_hash for r in s.exec(select(RecoveryCode))}
        assert len(stored) == 10 and not any(c in h for c in codes for h in stored)
        # used: the link is gone
        assert view_enrolment(s, token=token, now=now, key=app.totp_key) is None
        assert s.exec(select(Enrolment)).one().totp_secret is None


def test_an_enrolment_link_expires(app: AppContext, clock: FakeClock) -> None:
    with session_scope(app.engine) as s:
        _, token = add_account(s, email="v@example.org", role="viewer", staff_id=None,
                               now=clock.now(), key=app.totp_key)
    clock.advance(timedelta(hours=72))
    with session_scope(app.engine) as s:
        assert view_enrolment(s, token=token, now=clock.now(), key=app.totp_key) is None
        sealed = s.get(Enrolment, digest(token)).totp_secret
        secret = open_sealed(app.totp_key, enrolment_aad(digest(token)), sealed)
        assert complete_enrolment(s, token=token, new_password_hash="h",
                                  code=pyotp.TOTP(secret).at(clock.now()),
                                  now=clock.now(), key=app.totp_key) is None


def test_login_takes_password_then_a_fresh_code(app: AppContext, clock: FakeClock) -> None:
    user = enrolled(app, "coco@example.net", "coordinator", "st-coord")
    half = _half(app, user)
    assert _find(app, half).stage == "password"
    # the step used at enrolment is spent: the same code does not log in
    assert _finish(app, half, user.code(clock)) is None
    clock.advance(timedelta(seconds=30))
    full = _finish(app, half, user.code(clock))
    assert full is not None and full != half
    view = _find(app, full)
    assert view.stage == "full" and view.principal.role == "coordinator"
    assert view.principal.staff_id == "st-coord"
    assert _find(app, half) is None  # the half session ended with the step up


def test_a_replayed_code_is_refused(app: AppContext, clock: FakeClock) -> None:
    user = enrolled(app, "coco@example.net", "coordinator")
    clock.advance(timedelta(seconds=30))
    code = user.code(clock)
    assert _finish(app, _half(app, user), code) is not None
    assert _finish(app, _half(app, user), code) is None  # the same code, a second login
    # an older step (within the drift window) is refused too
    clock.advance(timedelta(seconds=30))
    assert _finish(app, _half(app, user), user.code(clock, steps=-2)) is None
    assert _finish(app, _half(app, user), user.code(clock)) is not None
    with session_scope(app.engine, read_only=True) as s:
        kinds = [e.kind for e in s.exec(select(Event).where(Event.kind.like("account.login%"))
                                         .order_by(Event.id))]
    assert kinds == ["account.login", "account.login_refused", "account.login_refused",
                     "account.login"]


def test_two_logins_racing_with_one_code_let_one_in(pg_engine: Engine, clock: FakeClock,
                                                     tmp_path: Path) -> None:
    """A second login with the same code, while the first one's transaction is still open,
    waits for it and is then refused (PostgreSQL; SQLite's writers take turns anyway)."""
    app = make_ctx(pg_engine, clock, tmp_path)
    user = enrolled(app, "coco@example.net", "coordinator")
    clock.advance(timedelta(seconds=30))
    code = user.code(clock)
    first_half, second_half = _half(app, user), _half(app, user)
    second: list[str | None] = []
    with session_scope(app.engine) as s:
        assert finish_login(s, cookie=first_half, code=code, now=clock.now(),
                            key=app.totp_key) is not None
        racer = threading.Thread(target=lambda: second.append(_finish(app, second_half, code)))
        racer.start()
        _wait_for_a_lock_waiter(pg_engine)
    racer.join(timeout=30)
    assert second == [None]


def _wait_for_a_lock_waiter(engine: Engine) -> None:
    """Return once some backend of this database waits for a lock (polled, bounded)."""
    import time

    deadline = time.monotonic() + 20
    with engine.connect() as conn:
        while time.monotonic() < deadline:
            waiting = conn.exec_driver_sql(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'").scalar_one()
            conn.rollback()
            if waiting:
                return
            time.sleep(0.01)
    raise AssertionError("the second login never waited for the first")


def test_a_recovery_code_works_once(app: AppContext) -> None:
    user = enrolled(app, "coco@example.net", "coordinator")
    code = user.recovery[3].upper().replace("-", " ")  # typed from paper
    assert _finish(app, _half(app, user), code) is not None
    assert _finish(app, _half(app, user), user.recovery[3]) is None
    assert _finish(app, _half(app, user), "abcd-efgh-jkmn-pqrs") is None


def test_sessions_expire_when_idle_and_after_a_shift(app: AppContext, clock: FakeClock) -> None:
    user = enrolled(app, "coco@example.net", "coordinator")
    clock.advance(timedelta(seconds=30))
    full = _finish(app, _half(app, user), user.code(clock))
    clock.advance(sessions.IDLE - timedelta(seconds=1))
    view = _find(app, full)
    assert view is not None and view.needs_touch(clock.now())
    with session_scope(app.engine) as s:
        sessions.touch_session(s, id_hash=view.id_hash, now=clock.now())
    clock.advance(sessions.IDLE - timedelta(seconds=1))
    assert _find(app, full) is not None  # kept alive by use
    clock.advance(timedelta(seconds=1))
    assert _find(app, full) is None  # idle too long
    clock.advance(timedelta(seconds=30))
    other = _finish(app, _half(app, user), user.code(clock))
    for _ in range(int(sessions.ABSOLUTE / (sessions.IDLE / 2))):
        with session_scope(app.engine) as s:
            sessions.touch_session(s, id_hash=digest(other), now=clock.now())
        clock.advance(sessions.IDLE / 2)
    assert _find(app, other) is None  # used all the time, but a shift is over
    half = _half(app, user)
    clock.advance(sessions.HALF)
    assert _find(app, half) is None


def test_logout_and_disabling_end_sessions(app: AppContext, clock: FakeClock) -> None:
    user = enrolled(app, "coco@example.net", "coordinator")
    clock.advance(timedelta(seconds=30))
    one = _finish(app, _half(app, user), user.code(clock))
    clock.advance(timedelta(seconds=30))
    two = _finish(app, _half(app, user), user.code(clock))
    with session_scope(app.engine) as s:
        end_session(s, cookie=one, now=clock.now())
    assert _find(app, one) is None and _find(app, two) is not None
    with session_scope(app.engine) as s:
        disable_account(s, email="COCO@example.net", now=clock.now())
    assert _find(app, two) is None
    with session_scope(app.engine, read_only=True) as s:
        assert login_candidate(s, email=user.email) == (None, None)
        assert all(r.revoked_at is not None for r in s.exec(select(WebSession)))


def test_resetting_the_second_factor(app: AppContext, clock: FakeClock) -> None:
    user = enrolled(app, "coco@example.net", "coordinator")
    clock.advance(timedelta(seconds=30))
    full = _finish(app, _half(app, user), user.code(clock))
    with session_scope(app.engine) as s:
        _, token = reset_second_factor(s, email=user.email, now=clock.now(), key=app.totp_key)
    assert _find(app, full) is None
    with session_scope(app.engine, read_only=True) as s:
        assert login_candidate(s, email=user.email) == (None, None)  # no factor: no login
        assert list(s.exec(select(RecoveryCode))) == []
        view = view_enrolment(s, token=token, now=clock.now(), key=app.totp_key)
    assert view is not None and view.purpose == "reset-2fa" and view.totp_secret != user.secret
    with session_scope(app.engine) as s:
        codes = complete_enrolment(s, token=token, new_password_hash=None,
                                   code=pyotp.TOTP(view.totp_secret).at(clock.now()),
                                   now=clock.now(), key=app.totp_key)
    assert codes is not None
    with session_scope(app.engine, read_only=True) as s:
        account = s.get(Account, user.id)
    assert account.password_hash is not None
    assert open_sealed(app.totp_key, account_aad(user.id), account.totp_secret) == view.totp_secret
    with pytest.raises(NotFoundError), session_scope(app.engine) as s:
        reset_second_factor(s, email="nobody@example.org", now=clock.now(), key=app.totp_key)


def test_api_tokens_are_kept_hashed_and_revocable(app: AppContext, clock: FakeClock) -> None:
    with session_scope(app.engine) as s:
        token_id, token = create_api_token(s, name="rapport", role="viewer", created_by="cli",
                                           now=clock.now())
    with session_scope(app.engine, read_only=True) as s:
        row = s.get(ApiToken, token_id)
        assert row.token_hash == digest(token) and token not in row.model_dump_json()
        principal, stale = find_api_token(s, token=token, now=clock.now())
        assert (principal.role, principal.actor, stale) == ("viewer", f"token:{token_id}", True)
        assert find_api_token(s, token=token + "x", now=clock.now()) is None
    with session_scope(app.engine) as s:
        revoke_api_token(s, token_id=token_id, now=clock.now(), actor="cli")
    with session_scope(app.engine, read_only=True) as s:
        assert find_api_token(s, token=token, now=clock.now()) is None
    for name, role, message in (("", "viewer", "--name: give the token a name"),
                                ("x" * 101, "viewer", "--name: 101 characters long"),
                                ("a\x1bb", "viewer", "--name: holds a control character"),
                                ("ok", "admin", "--role: unknown role")):
        with pytest.raises(InputError, match=message), session_scope(app.engine) as s:
            create_api_token(s, name=name, role=role, created_by="cli", now=clock.now())
