"""Who is asking (a Principal) and the rules that go beyond a route's roles: which
community's contacts a principal may see. Routes check roles; these check objects."""

from __future__ import annotations

from dataclasses import dataclass

from engine.accounts.roles import Role


@dataclass(frozen=True)
class Principal:
    """The account behind a web session, or an API token, as routes see it."""

    kind: str  # session | token
    id: int  # the account's id, or the token's
    role: Role
    staff_id: str | None = None  # the registry's staff member an account stands for
    email: str | None = None  # accounts only; shown to the person themselves, never logged

    @property
    def actor(self) -> str:
        """How the timeline names this principal: `account:ID` or `token:ID`."""
        return f"{'account' if self.kind == 'session' else 'token'}:{self.id}"


def may_see_contacts(principal: Principal, liaison_id: str | None) -> bool:
    """Whether the principal may see the contacts of a community with this liaison.

    Coordinators and on-call staff (who take over escalations) see every community's
    contacts; a liaison only those of the communities they are the liaison of; a viewer none.
    """
    if principal.role in (Role.COORDINATOR, Role.ONCALL):
        return True
    if principal.role == Role.LIAISON:
        return principal.staff_id is not None and principal.staff_id == liaison_id
    return False


def may_open_community(principal: Principal, liaison_id: str | None) -> bool:
    """Whether the principal may open a community's page in the registry: coordinators and
    on-call staff every one, a liaison only their own, a viewer none (the registry says who
    believes what and comes from where)."""
    return may_see_contacts(principal, liaison_id)


def may_keep_peacetime(principal: Principal, liaison_id: str | None) -> bool:
    """Whether the principal may read a community's contact notes, log contacts with it and
    add or finish its agreements: coordinators, and its own liaison."""
    if principal.role == Role.COORDINATOR:
        return True
    return (principal.role == Role.LIAISON and principal.staff_id is not None
            and principal.staff_id == liaison_id)


def may_act_for(principal: Principal, liaison_id: str | None) -> bool:
    """Whether the principal may acknowledge or take over a community with this liaison on
    someone's behalf: those who may see its contacts (they are the ones who can call)."""
    return may_see_contacts(principal, liaison_id)
