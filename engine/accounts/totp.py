"""The second factor: TOTP (RFC 6238, 30-second steps, 6 digits) and recovery codes.

The time is handed in (the injected clock), never read here. A code is accepted for the step
it belongs to, one step either side for clock drift; the caller stores the step and refuses
any step not later than the last one accepted, so a code (a replayed login) works once.
Recovery codes carry 80 random bits, so a SHA-256 digest is enough to keep them.
"""

from __future__ import annotations

import hmac
import re
import secrets
from datetime import datetime

import pyotp
import segno

from engine.accounts.tokens import digest

STEP_SECONDS = 30
DRIFT_STEPS = 1
ISSUER = "Verbinder"
RECOVERY_CODES = 10
# No 0/o, 1/l/i: codes are typed from paper.
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
_RECOVERY_GROUPS, _RECOVERY_GROUP = 4, 4
_CODE = re.compile(r"^\d{6}$")


def new_totp_secret() -> str:
    """A random base32 TOTP secret (160 bits)."""
    return pyotp.random_base32(32)


def otpauth_uri(secret: str, email: str) -> str:
    """The otpauth:// URI an authenticator app reads (shown as text and as a QR code)."""
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """The URI as a QR code: an inline SVG element, drawn on the server (no script)."""
    return segno.make(uri, error="m").svg_inline(scale=4, border=2, dark="#1b1b1b",
                                                 light="#ffffff")


def step_at(at: datetime) -> int:
    """The TOTP time step of a moment."""
    return int(at.timestamp()) // STEP_SECONDS


def matching_step(secret: str, code: str, at: datetime) -> int | None:
    """The time step whose code `code` is (now, or one step either side), else None."""
    code = re.sub(r"\s", "", code)
    if not _CODE.match(code):
        return None
    totp = pyotp.TOTP(secret)
    now = step_at(at)
    for step in (now, now - DRIFT_STEPS, now + DRIFT_STEPS):
        if hmac.compare_digest(totp.at(step * STEP_SECONDS), code):
            return step
    return None


def new_recovery_codes() -> list[str]:
    """Fresh single-use recovery codes, as shown to the person (xxxx-xxxx-xxxx-xxxx)."""
    def one() -> str:
        chars = "".join(secrets.choice(_RECOVERY_ALPHABET)
                        for _ in range(_RECOVERY_GROUPS * _RECOVERY_GROUP))
        return "-".join(chars[i:i + _RECOVERY_GROUP]
                        for i in range(0, len(chars), _RECOVERY_GROUP))
    return [one() for _ in range(RECOVERY_CODES)]


def looks_like_recovery_code(text: str) -> bool:
    """Whether typed text is meant as a recovery code rather than a six-digit TOTP code."""
    return len(_normalise_recovery(text)) == _RECOVERY_GROUPS * _RECOVERY_GROUP


def recovery_digest(code: str) -> str:
    """The digest under which a recovery code is kept (case, spaces and dashes ignored)."""
    return digest("recovery:" + _normalise_recovery(code))


def _normalise_recovery(text: str) -> str:
    return re.sub(r"[\s\-]", "", text[:64]).lower()
