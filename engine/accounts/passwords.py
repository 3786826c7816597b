"""Passwords: argon2id hashes (argon2-cffi's RFC 9106 low-memory profile) and the rules a new
password must meet. Hashing costs ~64 MiB and tens of milliseconds: callers run it in a thread
on a small budget, never on the event loop or inside a database transaction."""

from __future__ import annotations

import re
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 12
MAX_LENGTH = 256  # argon2 takes any length; a bound keeps a request's cost known
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    """The argon2id hash of a password."""
    return _hasher.hash(password)


def verify_password(hashed: str | None, password: str) -> bool:
    """Whether `password` matches `hashed`; with no hash, the same work is done on a dummy
    hash, so that an unknown account takes as long as a wrong password."""
    if len(password) > MAX_LENGTH:
        return False
    try:
        return _hasher.verify(hashed or _dummy_hash(), password) and hashed is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def password_problem(password: str, repeated: str, email: str) -> str | None:
    """The word key of what is wrong with a new password, or None when it will do."""
    if password != repeated:
        return "password_mismatch"
    if len(password) < MIN_LENGTH:
        return "password_short"
    if len(password) > MAX_LENGTH:
        return "password_long"
    if _CONTROL.search(password):
        return "password_control"
    if password.strip().lower() == email.strip().lower():
        return "password_is_email"
    return None


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher.hash("not a password of anyone")
