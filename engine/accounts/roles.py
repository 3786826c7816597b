"""The roles of staff accounts and the sets of roles that routes allow."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """What an account (or an API token) may do."""

    COORDINATOR = "coordinator"  # everything: declare, close, accounts, tokens
    LIAISON = "liaison"  # their own communities' contacts; follow incidents
    ONCALL = "oncall"  # takes over escalations: every contact of an incident's communities
    VIEWER = "viewer"  # reads incidents; sees no contact details


Access = frozenset[Role]

EVERYONE: Access = frozenset(Role)
RESPONDERS: Access = frozenset({Role.COORDINATOR, Role.LIAISON, Role.ONCALL})
COORDINATORS: Access = frozenset({Role.COORDINATOR})


def parse_role(text: str) -> Role:
    """The role named by `text`; ValueError naming the allowed roles otherwise."""
    try:
        return Role(text.strip().lower())
    except ValueError:
        allowed = "|".join(r.value for r in Role)
        raise ValueError(f"unknown role {text[:40]!r} (allowed: {allowed})") from None
