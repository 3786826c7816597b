"""Accounts: add, list, disable, reset the second factor; each hands out enrolment links.

An account starts without a password: `add_account` returns a one-time enrolment link, on
which the person sets their password and their second factor. Nobody else ever knows the
password, and none is ever passed on a command line.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from email_validator import EmailNotValidError, validate_email
from sqlmodel import Session, col, delete, select

from engine.accounts.audit import account_event
from engine.accounts.roles import Role, parse_role
from engine.accounts.sealed import account_aad, enrolment_aad, opens, seal
from engine.accounts.sessions import revoke_sessions
from engine.accounts.tokens import digest, new_secret
from engine.accounts.totp import new_totp_secret
from engine.clock import iso_z
from engine.errors import InputError, NotFoundError
from engine.store.models import Account, Enrolment, RecoveryCode, Staff

ENROLMENT_VALID = timedelta(hours=72)
ENROL_PATH = "/enrol/"
ENROL, RESET_2FA = "enrol", "reset-2fa"


def normalise_email(text: str) -> str:
    """The email address as stored (lower case); InputError when it is not one."""
    if len(text) > 254:
        raise InputError("EMAIL: longer than 254 characters")
    try:
        return validate_email(text.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise InputError(f"EMAIL: not an email address ({exc})") from None


def add_account(session: Session, *, email: str, role: str, staff_id: str | None,
                now: datetime, key: bytes, actor: str = "cli") -> tuple[Account, str]:
    """Create an account that has yet to enrol; returns it and its enrolment token (the
    link's TOTP secret is sealed under `key`, see sealed.py)."""
    address = normalise_email(email)
    try:
        chosen = parse_role(role)
    except ValueError as exc:
        raise InputError(f"--role: {exc}") from None
    problems = _staff_problems(session, chosen, staff_id)
    if session.exec(select(Account.id).where(Account.email == address)).first() is not None:
        problems.append(f"EMAIL: an account for {address} exists already")
    if problems:
        raise InputError(problems)
    account = Account(email=address, role=chosen.value, staff_id=staff_id, created_at=now)
    session.add(account)
    session.flush()
    token = issue_enrolment(session, account=account, purpose=ENROL, now=now, key=key)
    account_event(session, kind="account.created", actor=actor, account_id=account.id, at=now,
                  role=chosen.value, staff=staff_id)
    return account, token


def _staff_problems(session: Session, role: Role, staff_id: str | None) -> list[str]:
    if staff_id is None:
        return ["--staff: a liaison account needs the staff member it stands for (whose "
                "communities they see)"] if role == Role.LIAISON else []
    if len(staff_id) > 200 or session.get(Staff, staff_id) is None:
        return [f"--staff: {staff_id[:200]!r} is not a staff member of the registry"]
    return []


def issue_enrolment(session: Session, *, account: Account, purpose: str, now: datetime,
                    key: bytes) -> str:
    """A new one-time enrolment token for the account (earlier unused ones stop working)."""
    assert account.id is not None, "an account is stored before it enrols"
    session.exec(delete(Enrolment).where(col(Enrolment.account_id) == account.id,
                                         col(Enrolment.used_at).is_(None)))
    token = new_secret()
    token_hash = digest(token)
    secret = seal(key, enrolment_aad(token_hash), new_totp_secret())
    session.add(Enrolment(token_hash=token_hash, account_id=account.id, purpose=purpose,
                          totp_secret=secret, created_at=now,
                          expires_at=now + ENROLMENT_VALID))
    return token


def enrolment_url(public_url: str, token: str) -> str:
    """Where the person sets their password and second factor."""
    return public_url.rstrip("/") + ENROL_PATH + token


def find_account(session: Session, email: str, *, lock: bool = False) -> Account:
    """The account with this email address, or a refusal naming it."""
    address = normalise_email(email)
    stmt = select(Account).where(Account.email == address)
    if lock:
        stmt = stmt.with_for_update()
    account = session.exec(stmt).first()
    if account is None:
        raise NotFoundError(f"EMAIL: no account for {address}")
    return account


def list_accounts(session: Session, *, key: bytes) -> list[dict[str, Any]]:
    """Every account, in the order they were made (no secrets, no hashes); `factor_readable`
    is False when its TOTP secret does not open under `key` (reset-2fa gives a new one)."""
    rows = session.exec(select(Account).order_by(col(Account.id)))
    return [{"id": a.id, "email": a.email, "role": a.role, "staff": a.staff_id,
             "active": a.active, "enrolled": a.totp_secret is not None,
             "factor_readable": None if a.totp_secret is None
             else opens(key, account_aad(a.id), a.totp_secret),
             "created_at": iso_z(a.created_at),
             "disabled_at": iso_z(a.disabled_at) if a.disabled_at else None}
            for a in rows]


def disable_account(session: Session, *, email: str, now: datetime, actor: str = "cli"
                    ) -> Account:
    """Stop an account: its sessions end now, its enrolment links stop working."""
    account = find_account(session, email, lock=True)
    if account.active:
        account.active = False
        account.disabled_at = now
        session.add(account)
        account_event(session, kind="account.disabled", actor=actor, account_id=account.id,
                      at=now)
    revoke_sessions(session, account_id=account.id, now=now)
    session.exec(delete(Enrolment).where(col(Enrolment.account_id) == account.id,
                                         col(Enrolment.used_at).is_(None)))
    return account


def reset_second_factor(session: Session, *, email: str, now: datetime, key: bytes,
                        actor: str = "cli") -> tuple[Account, str]:
    """Forget the account's second factor and recovery codes, end its sessions, and hand out
    a link on which the person (with their current password) sets a new one. An account that
    never enrolled (its link expired, or no longer opens under a new secret key) gets a new
    enrolment link instead; the earlier one stops working."""
    account = find_account(session, email, lock=True)
    if not account.active:
        raise InputError(f"EMAIL: the account of {account.email} is disabled")
    if account.password_hash is None:
        token = issue_enrolment(session, account=account, purpose=ENROL, now=now, key=key)
        account_event(session, kind="account.enrolment_renewed", actor=actor,
                      account_id=account.id, at=now)
        return account, token
    account.totp_secret = None
    session.add(account)
    session.exec(delete(RecoveryCode).where(col(RecoveryCode.account_id) == account.id))
    revoke_sessions(session, account_id=account.id, now=now)
    token = issue_enrolment(session, account=account, purpose=RESET_2FA, now=now,
                            key=key)
    account_event(session, kind="account.2fa_reset", actor=actor, account_id=account.id, at=now)
    return account, token

