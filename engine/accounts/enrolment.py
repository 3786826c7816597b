"""Using an enrolment link: set a password (a new account) or prove the current one (after a
2FA reset), and confirm a new TOTP secret with a code from the app. Recovery codes are made
at the end and shown once.

The link's page offers a TOTP secret made when the link was issued, so showing the page
writes nothing. Password hashing happens outside the transaction (see passwords.py): the
caller hands in the finished hash, or says the current password was checked.
The secret is sealed in both rows (sealed.py): the link's under the enrolment's associated data,
the account's, once confirmed, under the account's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, delete, select

from engine.accounts.audit import account_event
from engine.accounts.sealed import account_aad, enrolment_aad, open_or_refuse, seal
from engine.accounts.service import ENROL
from engine.accounts.tokens import digest
from engine.accounts.totp import matching_step, new_recovery_codes, otpauth_uri, recovery_digest
from engine.store.models import Account, Enrolment, RecoveryCode


@dataclass(frozen=True)
class EnrolmentView:
    """What the enrolment page shows and needs."""

    account_id: int
    email: str
    purpose: str  # enrol | reset-2fa
    totp_secret: str
    uri: str
    password_hash: str | None  # the current one, for a 2FA reset (checked by the caller)


def view_enrolment(session: Session, *, token: str, now: datetime, key: bytes
                   ) -> EnrolmentView | None:
    """The enrolment of a link that is unused, unexpired, of an active account, and whose
    TOTP secret opens under `key`."""
    if not token or len(token) > 100:
        return None
    row = session.exec(select(Enrolment, Account)
                       .join(Account, col(Account.id) == Enrolment.account_id)
                       .where(Enrolment.token_hash == digest(token))).first()
    if row is None:
        return None
    enrolment, account = row
    if (enrolment.used_at is not None or now >= enrolment.expires_at or not account.active
            or enrolment.totp_secret is None):
        return None
    secret = _link_secret(enrolment, key)
    if secret is None:
        return None
    return EnrolmentView(account_id=account.id or 0, email=account.email,
                         purpose=enrolment.purpose, totp_secret=secret,
                         uri=otpauth_uri(secret, account.email),
                         password_hash=account.password_hash)


def complete_enrolment(session: Session, *, token: str, new_password_hash: str | None,
                       code: str, now: datetime, key: bytes) -> list[str] | None:
    """Use the link: store the password (for a new account) and the confirmed TOTP secret,
    replace the recovery codes; returns the new codes, or None when the link is no longer
    usable or the code does not match (nothing changes then)."""
    enrolment = session.exec(select(Enrolment).where(Enrolment.token_hash == digest(token))
                             .with_for_update()).first()
    if enrolment is None or enrolment.used_at is not None or now >= enrolment.expires_at:
        return None
    account = session.exec(select(Account).where(Account.id == enrolment.account_id)
                           .with_for_update()).one()
    secret = _link_secret(enrolment, key)
    step = matching_step(secret, code, now) if secret else None
    if not account.active or secret is None or step is None:
        return None
    if enrolment.purpose == ENROL:
        if new_password_hash is None:
            return None
        account.password_hash = new_password_hash
    account.totp_secret = seal(key, account_aad(account.id), secret)
    account.totp_last_step = step
    account.enrolled_at = now
    enrolment.used_at, enrolment.totp_secret = now, None
    session.add_all([account, enrolment])
    codes = _replace_recovery_codes(session, account.id or 0)
    account_event(session, kind="account.enrolled", actor=f"account:{account.id}",
                  account_id=account.id, at=now, purpose=enrolment.purpose)
    return codes


def _link_secret(enrolment: Enrolment, key: bytes) -> str | None:
    return open_or_refuse(key, enrolment_aad(enrolment.token_hash), enrolment.totp_secret,
                          what=f"an enrolment link of account {enrolment.account_id}")


def _replace_recovery_codes(session: Session, account_id: int) -> list[str]:
    session.exec(delete(RecoveryCode).where(col(RecoveryCode.account_id) == account_id))
    codes = new_recovery_codes()
    session.add_all([RecoveryCode(account_id=account_id, code_hash=recovery_digest(c))
                     for c in codes])
    return codes
