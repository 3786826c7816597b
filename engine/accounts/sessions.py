"""Web sessions: a random id in the cookie, its SHA-256 in a row (so a session can be ended
from the server), an idle and an absolute timeout, and the two-step login.

A login first checks the password (the caller does the argon2 work outside any transaction),
which opens a session at stage `password`; the second factor then replaces that session by a
new one at stage `full` (a new id at every step up, so an id seen before the login is worth
nothing after it). A TOTP code is accepted only for a time step later than the last one the
account used, under the account's row lock: the same code twice is refused, also when two
requests race. The account's TOTP secret is sealed (sealed.py): one stored before sealing is
read as it is and sealed at the next successful second step; one that does not open (the
secret key changed) refuses the step like a wrong code, and says so in the log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, select, update

from engine.accounts.audit import account_event
from engine.accounts.roles import Role
from engine.accounts.rules import Principal
from engine.accounts.sealed import account_aad, is_sealed, open_or_refuse, seal
from engine.accounts.tokens import digest, new_secret
from engine.accounts.totp import looks_like_recovery_code, matching_step, recovery_digest
from engine.store.models import Account, RecoveryCode, WebSession

IDLE = timedelta(minutes=30)  # a crisis-room screen left alone this long is logged out
ABSOLUTE = timedelta(hours=12)  # one shift; then log in again
HALF = timedelta(minutes=5)  # between the password and the second factor
TOUCH_EVERY = timedelta(minutes=1)  # seen_at is written at most this often
PASSWORD, FULL = "password", "full"


@dataclass(frozen=True)
class SessionView:
    """A live session and its account."""

    id_hash: str
    stage: str
    seen_at: datetime
    principal: Principal

    def needs_touch(self, now: datetime) -> bool:
        """Whether seen_at is old enough to be written again."""
        return now - self.seen_at >= TOUCH_EVERY


def open_session(session: Session, *, account_id: int, stage: str, now: datetime) -> str:
    """A new session row; returns the cookie value (the only copy of the id)."""
    cookie = new_secret()
    lasts = HALF if stage == PASSWORD else ABSOLUTE
    session.add(WebSession(id_hash=digest(cookie), account_id=account_id, stage=stage,
                           created_at=now, seen_at=now, expires_at=now + lasts))
    return cookie


def find_session(session: Session, *, cookie: str | None, now: datetime) -> SessionView | None:
    """The live session of a cookie: not revoked, not past its timeouts, its account active."""
    if not cookie or len(cookie) > 100:
        return None
    row = session.exec(
        select(WebSession, Account).join(Account, col(Account.id) == WebSession.account_id)
        .where(WebSession.id_hash == digest(cookie))).first()
    if row is None:
        return None
    web, account = row
    idle = HALF if web.stage == PASSWORD else IDLE
    if (web.revoked_at is not None or now >= web.expires_at or now - web.seen_at >= idle
            or not account.active):
        return None
    principal = Principal(kind="session", id=account.id or 0, role=Role(account.role),
                          staff_id=account.staff_id, email=account.email)
    return SessionView(id_hash=web.id_hash, stage=web.stage, seen_at=web.seen_at,
                       principal=principal)


def touch_session(session: Session, *, id_hash: str, now: datetime) -> None:
    """Mark the session as used now (its idle timeout starts again)."""
    session.exec(update(WebSession).where(col(WebSession.id_hash) == id_hash,
                                          col(WebSession.revoked_at).is_(None))
                 .values(seen_at=now))


def end_session(session: Session, *, cookie: str | None, now: datetime) -> None:
    """Log out: the session's row is revoked (the cookie is worth nothing from now on)."""
    if cookie and len(cookie) <= 100:
        session.exec(update(WebSession).where(col(WebSession.id_hash) == digest(cookie),
                                              col(WebSession.revoked_at).is_(None))
                     .values(revoked_at=now))


def revoke_sessions(session: Session, *, account_id: int | None, now: datetime) -> None:
    """End every session of an account."""
    session.exec(update(WebSession).where(col(WebSession.account_id) == account_id,
                                          col(WebSession.revoked_at).is_(None))
                 .values(revoked_at=now))


def login_candidate(session: Session, *, email: str) -> tuple[int | None, str | None]:
    """The account id and password hash to check a login against (None, None when there is
    no enrolled, active account of that address)."""
    account = session.exec(select(Account).where(
        Account.email == email.strip().lower()[:254])).first()
    if account is None or not account.active or account.totp_secret is None:
        return None, None
    return account.id, account.password_hash


def start_login(session: Session, *, account_id: int, now: datetime) -> str | None:
    """After a correct password: a session waiting for the second factor (its cookie)."""
    account = session.get(Account, account_id)
    if account is None or not account.active or account.totp_secret is None:
        return None
    return open_session(session, account_id=account_id, stage=PASSWORD, now=now)


def finish_login(session: Session, *, cookie: str | None, code: str, now: datetime,
                 key: bytes) -> str | None:
    """The second factor of a login: a TOTP code for a step not used before, or an unused
    recovery code; the TOTP secret opens under `key`. Returns the cookie of the new full
    session, or None (refused)."""
    half = find_session(session, cookie=cookie, now=now)
    if half is None or half.stage != PASSWORD:
        return None
    account = session.exec(select(Account).where(Account.id == half.principal.id)
                           .with_for_update()).one()
    if not _second_factor_ok(session, account, code, now, key):
        account_event(session, kind="account.login_refused", actor=half.principal.actor,
                      account_id=account.id, at=now, reason="second factor")
        return None
    _seal_legacy_secret(session, account, key)
    session.exec(update(WebSession).where(col(WebSession.id_hash) == half.id_hash)
                 .values(revoked_at=now))
    account_event(session, kind="account.login", actor=half.principal.actor,
                  account_id=account.id, at=now)
    return open_session(session, account_id=account.id or 0, stage=FULL, now=now)


def _second_factor_ok(session: Session, account: Account, code: str, now: datetime,
                      key: bytes) -> bool:
    if looks_like_recovery_code(code):
        used = session.exec(update(RecoveryCode).where(
            col(RecoveryCode.account_id) == account.id,
            col(RecoveryCode.code_hash) == recovery_digest(code),
            col(RecoveryCode.used_at).is_(None)).values(used_at=now))
        return used.rowcount == 1
    secret = _account_secret(account, key)
    if secret is None:
        return False
    step = matching_step(secret, code, now)
    if step is None or (account.totp_last_step is not None and step <= account.totp_last_step):
        return False
    account.totp_last_step = step
    session.add(account)
    session.flush()
    return True


def _account_secret(account: Account, key: bytes) -> str | None:
    return open_or_refuse(key, account_aad(account.id), account.totp_secret,
                          what=f"account {account.id}")


def _seal_legacy_secret(session: Session, account: Account, key: bytes) -> None:
    if account.totp_secret is None or is_sealed(account.totp_secret):
        return
    account.totp_secret = seal(key, account_aad(account.id), account.totp_secret)
    session.add(account)
