"""TOTP secrets sealed at rest: AES-256-GCM under a key derived from the secret key.

A stored value is `v1:` + urlsafe-base64(nonce || ciphertext), with a random 96-bit nonce per
write and associated data naming the row it belongs to (`account:7`, `enrolment:<token hash>`),
so a value copied to another row does not open. A value without the prefix was stored before
secrets were sealed: it is read as it is (`is_sealed` tells the caller to seal it again).
"""

from __future__ import annotations

import base64
import logging
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

PREFIX = "v1:"
INFO = b"verbinder totp v1"
KEY_BYTES = 32
NONCE_BYTES = 12
log = logging.getLogger(__name__)


class Unreadable(Exception):
    """A sealed value that does not open: another key, another row, or a damaged value."""


def totp_key(secret_key: str) -> bytes:
    """The AES-256 key that seals TOTP secrets, derived (HKDF-SHA256) from the secret key."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=INFO)
    return hkdf.derive(secret_key.encode())


def account_aad(account_id: int | None) -> str:
    """The associated data that binds a sealed secret to its account row."""
    return f"account:{account_id}"


def enrolment_aad(token_hash: str) -> str:
    """The associated data that binds a sealed secret to its enrolment row."""
    return f"enrolment:{token_hash}"


def is_sealed(stored: str) -> bool:
    """Whether a stored value was sealed (else it is a plain secret from before sealing)."""
    return stored.startswith(PREFIX)


def seal(key: bytes, aad: str, secret: str) -> str:
    """The stored form of a secret: sealed for the row named by `aad`."""
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(key).encrypt(nonce, secret.encode(), aad.encode())
    return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode()


def open_sealed(key: bytes, aad: str, stored: str) -> str:
    """The secret of a stored value (a plain one as it is); Unreadable when it does not open."""
    if not is_sealed(stored):
        return stored
    try:
        raw = base64.urlsafe_b64decode(stored[len(PREFIX):].encode())
        opened = AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], aad.encode())
        return opened.decode()
    except (InvalidTag, ValueError):  # binascii.Error and bad UTF-8 are ValueErrors
        raise Unreadable(aad) from None


def opens(key: bytes, aad: str, stored: str) -> bool:
    """Whether a stored value can be read under this key (a plain one always can)."""
    try:
        open_sealed(key, aad, stored)
    except Unreadable:
        return False
    return True


def open_or_refuse(key: bytes, aad: str, stored: str | None, *, what: str) -> str | None:
    """The secret of a stored value; None when there is none or it does not open (logged as
    `what`, an account id and no more: the key changed, and `verbinder user reset-2fa` gives
    the account a new enrolment link)."""
    if stored is None:
        return None
    try:
        return open_sealed(key, aad, stored)
    except Unreadable:
        log.warning("the TOTP secret of %s cannot be read (the secret key changed?): it is "
                    "refused; `verbinder user reset-2fa` gives the account a new enrolment "
                    "link", what)
        return None
