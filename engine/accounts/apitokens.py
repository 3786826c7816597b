"""Tokens for scripts on the JSON API: made by a coordinator, scoped to one role, shown
once, kept as a SHA-256 digest, revocable."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select, update

from engine.accounts.audit import account_event
from engine.accounts.roles import Role, parse_role
from engine.accounts.rules import Principal
from engine.accounts.tokens import digest, new_secret
from engine.clock import iso_z
from engine.errors import InputError, NotFoundError
from engine.incidents.options import text_problem
from engine.store.models import ApiToken, Staff

PREFIX = "vbt_"  # recognisable in a secret scanner and in a script's configuration
NAME_CHARS = 100
TOUCH_EVERY = timedelta(minutes=1)


def create_api_token(session: Session, *, name: str, role: str, created_by: str,
                     now: datetime, staff_id: str | None = None) -> tuple[int, str]:
    """A new token, standing for a staff member when given (a liaison's token sees that
    liaison's communities); returns its id and the token itself (shown once, never stored)."""
    problems = []
    name = name.strip()
    if not name:
        problems.append("--name: give the token a name (who or what uses it)")
    problem = text_problem("--name", name, NAME_CHARS)
    if problem:
        problems.append(problem)
    try:
        chosen = parse_role(role)
    except ValueError as exc:
        problems.append(f"--role: {exc}")
    staff_id = (staff_id or "").strip() or None
    if staff_id is not None and (len(staff_id) > 200 or session.get(Staff, staff_id) is None):
        problems.append(f"--staff: {staff_id[:200]!r} is not a staff member of the registry")
    if problems:
        raise InputError(problems)
    token = PREFIX + new_secret()
    row = ApiToken(name=name, role=chosen.value, token_hash=digest(token), created_by=created_by,
                   created_at=now, staff_id=staff_id)
    session.add(row)
    session.flush()
    account_event(session, kind="token.created", actor=created_by, account_id=None, at=now,
                  token=row.id, role=chosen.value, staff=staff_id)
    return row.id or 0, token


def list_api_tokens(session: Session) -> list[dict[str, Any]]:
    """Every token (never the token itself), oldest first."""
    return [{"id": t.id, "name": t.name, "role": t.role, "staff": t.staff_id,
             "created_by": t.created_by,
             "created_at": iso_z(t.created_at),
             "revoked_at": iso_z(t.revoked_at) if t.revoked_at else None,
             "last_used_at": iso_z(t.last_used_at) if t.last_used_at else None}
            for t in session.exec(select(ApiToken).order_by(ApiToken.id))]


def revoke_api_token(session: Session, *, token_id: int, now: datetime, actor: str) -> None:
    """Stop a token from working (from its next request on)."""
    row = session.get(ApiToken, token_id)
    if row is None:
        raise NotFoundError(f"token {token_id}: no such token")
    if row.revoked_at is None:
        row.revoked_at = now
        session.add(row)
        account_event(session, kind="token.revoked", actor=actor, account_id=None, at=now,
                      token=token_id)


def find_api_token(session: Session, *, token: str, now: datetime
                   ) -> tuple[Principal, bool] | None:
    """The principal of a live token, and whether its last use should be written again."""
    if not token.startswith(PREFIX) or len(token) > 100:
        return None
    row = session.exec(select(ApiToken).where(ApiToken.token_hash == digest(token))).first()
    if row is None or row.revoked_at is not None:
        return None
    stale = row.last_used_at is None or now - row.last_used_at >= TOUCH_EVERY
    return Principal(kind="token", id=row.id or 0, role=Role(row.role),
                     staff_id=row.staff_id), stale


def touch_api_token(session: Session, *, token_id: int, now: datetime) -> None:
    """Write when the token was last used."""
    session.exec(update(ApiToken).where(col(ApiToken.id) == token_id).values(last_used_at=now))
