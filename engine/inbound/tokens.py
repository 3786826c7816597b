"""Link tokens: random and opaque (no name, phone or community inside), signed, expiring."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from sqlmodel import Session

from engine.store.models import IntakeToken


def _sign(secret: str, nonce: str) -> str:
    mac = hmac.new(secret.encode(), nonce.encode(), hashlib.sha256).digest()[:8]
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def token_hash(token: str) -> str:
    """The stored form of a token: its SHA-256, so a database leak holds no usable link."""
    return hashlib.sha256(token.encode()).hexdigest()


def issue(
    session: Session,
    *,
    secret: str,
    purpose: str,
    incident_id: int,
    community_ids: list[str],
    recipient_kind: str,
    recipient_id: str,
    locale: str,
    now: datetime,
    valid_for: timedelta,
    form_id: str | None = None,
) -> str:
    """Create a link token for one recipient and return it (only its hash is stored)."""
    nonce = secrets.token_urlsafe(15)
    token = f"{nonce}.{_sign(secret, nonce)}"
    session.add(
        IntakeToken(
            token_hash=token_hash(token), purpose=purpose, incident_id=incident_id,
            community_ids=list(community_ids), recipient_kind=recipient_kind,
            recipient_id=recipient_id, form_id=form_id, locale=locale,
            expires_at=now + valid_for,
        )
    )
    return token


def signature_ok(secret: str, token: str) -> bool:
    """True when the token carries our signature (checked before any database look-up)."""
    nonce, _, sig = token.partition(".")
    return bool(nonce and sig) and hmac.compare_digest(_sign(secret, nonce), sig)


def resolve(session: Session, *, secret: str, token: str, purpose: str,
            now: datetime) -> IntakeToken | None:
    """The token's row when it is ours, of this purpose and not expired; else None."""
    if len(token) > 100 or not signature_ok(secret, token):
        return None
    row = session.get(IntakeToken, token_hash(token))
    if row is None or row.purpose != purpose or row.expires_at <= now:
        return None
    return row
