"""Link tokens: random and opaque (no name, phone or community inside), signed, expiring."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session

from engine.store.models import IntakeToken


def _sign(secret: str, nonce: str) -> str:
    mac = hmac.new(secret.encode(), nonce.encode(), hashlib.sha256).digest()[:8]
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def token_hash(token: str) -> str:
    """The stored form of a token: its SHA-256, so a database leak holds no usable link."""
    return hashlib.sha256(token.encode()).hexdigest()


def mint(
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
) -> tuple[str, dict[str, Any]]:
    """A new link token and the row to store for it (only its hash); the outbox stores the row
    with the message that carries the link."""
    nonce = secrets.token_urlsafe(15)
    token = f"{nonce}.{_sign(secret, nonce)}"
    row = {
        "token_hash": token_hash(token), "purpose": purpose, "incident_id": incident_id,
        "community_ids": list(community_ids), "recipient_kind": recipient_kind,
        "recipient_id": recipient_id, "form_id": form_id, "locale": locale,
        "expires_at": now + valid_for, "used_at": None,
    }
    return token, row


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
