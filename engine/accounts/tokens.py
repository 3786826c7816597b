"""Random secrets and how they are kept: only a SHA-256 digest is ever stored."""

from __future__ import annotations

import hashlib
import secrets


def new_secret(nbytes: int = 32) -> str:
    """A random URL-safe secret of `nbytes` bytes (256 bits by default)."""
    return secrets.token_urlsafe(nbytes)


def digest(value: str) -> str:
    """The SHA-256 hex digest under which a secret is stored."""
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()
