"""Link tokens: random and opaque (no name, phone or community inside), signed, expiring.

A token is `NONCE.SIG`: SIG signs NONCE with the secret key, so a forged token is refused
before any database look-up. NONCE is derived from the secret key and a random per-link seed,
and only the seed is ever stored (in the masked link of the message body, `SEED.TAG`, of the
same length as the token) next to the token's SHA-256: a database leak alone holds no usable
link, and turning a masked link back into the token takes the secret key (`reveal`, when the
message is handed to its channel).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, select

from engine.store.models import IntakeToken

SEED_BYTES = 15  # 120 random bits per link; 20 characters, as long as the nonce
TOKEN_MAX = 100
# A masked link: the seed and a tag (8 bytes of MAC), the shape and length of a token.
_MASKED = re.compile(r"(?<![A-Za-z0-9_-])([A-Za-z0-9_-]{20})\.([A-Za-z0-9_-]{11})(?![A-Za-z0-9_-])")


@dataclass
class Links:
    """Where links in messages point, what signs them, and how long they live."""

    public_url: str
    secret: str
    valid_for: timedelta = timedelta(days=14)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _mac(secret: str, label: bytes, text: str, size: int) -> bytes:
    return hmac.new(secret.encode(), label + text.encode(), hashlib.sha256).digest()[:size]


def _sign(secret: str, nonce: str) -> str:
    return _b64(_mac(secret, b"", nonce, 8))


def token_hash(token: str) -> str:
    """The stored form of a token: its SHA-256, so a database leak holds no usable link."""
    return hashlib.sha256(token.encode()).hexdigest()


def token_for(secret: str, seed: str) -> str:
    """The link token of a seed: it takes the secret key to compute."""
    nonce = _b64(_mac(secret, b"link-nonce:", seed, SEED_BYTES))
    return f"{nonce}.{_sign(secret, nonce)}"


def masked(secret: str, seed: str) -> str:
    """What a stored message body holds in place of the token: the seed and a tag that only
    the secret key makes (so text that merely looks like one is never turned into a link)."""
    return f"{seed}.{_b64(_mac(secret, b'link-mask:', seed, 8))}"


def reveal(secret: str, text: str | None) -> str | None:
    """The text with each masked link turned into its token, for handing to a channel."""
    if not text or "." not in text:
        return text

    def swap(found: re.Match[str]) -> str:
        seed = found.group(1)
        if hmac.compare_digest(masked(secret, seed), found.group(0)):
            return token_for(secret, seed)
        return found.group(0)

    return _MASKED.sub(swap, text)


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
    """A new link: the masked token to put in the stored message, and the row to store for it
    (only the token's hash); the outbox stores the row with the message that carries the link."""
    seed = secrets.token_urlsafe(SEED_BYTES)
    row = {
        "token_hash": token_hash(token_for(secret, seed)), "purpose": purpose,
        "incident_id": incident_id, "community_ids": list(community_ids),
        "recipient_kind": recipient_kind, "recipient_id": recipient_id, "form_id": form_id,
        "locale": locale, "expires_at": now + valid_for, "used_at": None,
    }
    return masked(secret, seed), row


def signature_ok(secret: str, token: str) -> bool:
    """True when the token carries our signature (checked before any database look-up)."""
    if len(token) > TOKEN_MAX:
        return False
    nonce, _, sig = token.partition(".")
    return bool(nonce and sig) and hmac.compare_digest(_sign(secret, nonce), sig)


def resolve(session: Session, *, secret: str, token: str, purpose: str,
            now: datetime, lock: bool = False) -> IntakeToken | None:
    """The token's row when it is ours, of this purpose and not expired; else None.

    `lock` takes the row for update: submissions through one link then follow each other.
    """
    if not signature_ok(secret, token):
        return None
    stmt = select(IntakeToken).where(IntakeToken.token_hash == token_hash(token))
    row = session.exec(stmt.with_for_update() if lock else stmt).first()
    if row is None or row.purpose != purpose or row.expires_at <= now:
        return None
    return row
