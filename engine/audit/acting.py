"""Who the process acts for and where it runs: read by the audit log (engine.audit.log).

Kept apart from the log, which needs the store, so that a command sets its actor without
importing SQLAlchemy.
"""

from __future__ import annotations

import getpass
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass


@dataclass(frozen=True)
class Acting:
    """Who the process acts for (None: the call site says) and where it runs or was asked."""

    actor: str | None = None
    source: str | None = None


_acting: ContextVar[Acting | None] = ContextVar("verbinder_audit_acting", default=None)
_NOBODY = Acting()


def act_as(actor: str | None, source: str | None = None) -> Token[Acting | None]:
    """From now on (in this thread or task) audit rows name this actor and source."""
    return _acting.set(Acting(actor, source))


@contextmanager
def acting(actor: str | None, source: str | None = None) -> Iterator[None]:
    """Within the block, audit rows name this actor and source (a web request, a test)."""
    token = act_as(actor, source)
    try:
        yield
    finally:
        _acting.reset(token)


def process_source() -> str:
    """Where this process runs: `HOST/pid N`."""
    return f"{socket.gethostname()}/pid {os.getpid()}"


def cli_actor() -> str:
    """The person running a command: `cli:USER@HOST`."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container)
        user = f"uid{os.getuid()}"
    return f"cli:{user}@{socket.gethostname()}"


def current_acting() -> Acting:
    """Who this thread or task acts for now (an empty Acting: the call site says)."""
    return _acting.get() or _NOBODY
