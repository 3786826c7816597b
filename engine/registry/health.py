"""Peace-time gaps of the social map: who could not be reached if a crisis came today."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.engine import Connection

from engine.clock import iso_z
from engine.registry.importer import load_rows
from playbook.model import Playbook

Row = dict[str, Any]


def is_eligible(contact: Row) -> bool:
    """Active, with recorded consent not withdrawn, and with an address for some channel
    (PLAYBOOK.md)."""
    return bool(contact["active"] and contact["consent"] is not None
                and contact.get("withdrawn_at") is None
                and (contact["phone"] or contact["email"]))


@dataclass
class HealthReport:
    """Every gap found, as lists of plain JSON-ready items."""

    checked_at: datetime
    consent_stale_days: int
    counts: dict[str, dict[str, int]]
    no_eligible: list[Row] = field(default_factory=list)
    one_eligible: list[Row] = field(default_factory=list)
    without_consent: list[Row] = field(default_factory=list)
    consent_stale: list[Row] = field(default_factory=list)
    without_liaison: list[Row] = field(default_factory=list)
    orphaned_contacts: list[Row] = field(default_factory=list)
    missing_staff_roles: list[str] = field(default_factory=list)
    withdrawn: list[Row] = field(default_factory=list)  # consent withdrawn, not yet erased
    # languages of eligible contacts that templates of the playbook lack (None: not checked)
    untranslated: list[Row] | None = None

    @property
    def gaps(self) -> int:
        """How many findings there are in all."""
        return (len(self.no_eligible) + len(self.one_eligible) + len(self.without_consent)
                + len(self.consent_stale) + len(self.without_liaison)
                + len(self.orphaned_contacts) + len(self.missing_staff_roles)
                + len(self.withdrawn) + len(self.untranslated or ()))

    def as_dict(self) -> dict[str, Any]:
        """The `--json` document."""
        return {
            "checked_at": iso_z(self.checked_at),
            "consent_stale_days": self.consent_stale_days,
            "counts": self.counts,
            "gaps": self.gaps,
            "communities_without_eligible_contact": self.no_eligible,
            "communities_with_one_eligible_contact": self.one_eligible,
            "contacts_without_consent": self.without_consent,
            "contacts_consent_stale": self.consent_stale,
            "communities_without_liaison": self.without_liaison,
            "contacts_of_inactive_communities": self.orphaned_contacts,
            "staff_roles_missing": self.missing_staff_roles,
            "contacts_consent_withdrawn": self.withdrawn,
            "contact_languages_without_template": self.untranslated,
        }


def check_health(conn: Connection, *, now: datetime, consent_stale_days: int,
                 playbook: Playbook | None = None) -> HealthReport:
    """Load the registry once and find every gap (with a playbook: also the languages of
    contacts that its templates do not have)."""
    communities = load_rows(conn, "communities")
    contacts = load_rows(conn, "contacts")
    staff = load_rows(conn, "staff")
    return assess(communities, contacts, staff, now=now, consent_stale_days=consent_stale_days,
                  playbook=playbook)


def assess(communities: dict[str, Row], contacts: dict[str, Row], staff: dict[str, Row], *,
           now: datetime, consent_stale_days: int, playbook: Playbook | None = None
           ) -> HealthReport:
    """Find the gaps in plain registry rows (pure)."""
    report = HealthReport(now, consent_stale_days, counts={
        name: {"active": sum(1 for r in rows.values() if r["active"]),
               "inactive": sum(1 for r in rows.values() if not r["active"])}
        for name, rows in (("communities", communities), ("contacts", contacts),
                           ("staff", staff))
    })
    active_communities = {i: c for i, c in sorted(communities.items()) if c["active"]}
    _eligibility(report, active_communities, contacts)
    _consent(report, contacts, active_communities, now.date() - timedelta(days=consent_stale_days))
    _liaisons(report, active_communities, staff)
    for role in ("coordinator", "oncall", "liaison"):
        if not any(role in s["roles"] for s in staff.values() if s["active"]):
            report.missing_staff_roles.append(role)
    if playbook is not None:
        report.untranslated = untranslated_languages(active_communities, contacts, playbook)
    return report


def untranslated_languages(communities: dict[str, Row], contacts: dict[str, Row],
                           playbook: Playbook) -> list[Row]:
    """Per language of eligible contacts (the contact's, else the community's first, else the
    playbook's), the templates that lack it, when any does: such a contact reads the next
    language of its chain, often Dutch. `in_no_template` when no template has it at all."""
    counts: dict[str, int] = {}
    for contact in contacts.values():
        community = communities.get(contact["community_id"])
        if community is None or not is_eligible(contact):
            continue
        language = (contact["language"] or next(iter(community["languages"] or []), None)
                    or playbook.default_locale)
        counts[language] = counts.get(language, 0) + 1
    has = {tid: t.languages for tid, t in playbook.templates.items()}
    out: list[Row] = []
    for language, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        missing = sorted(tid for tid, langs in has.items() if language not in langs)
        if missing:
            out.append({"language": language, "contacts": n, "templates_missing": missing,
                        "in_no_template": len(missing) == len(has)})
    return out


def _eligibility(report: HealthReport, communities: dict[str, Row],
                 contacts: dict[str, Row]) -> None:
    eligible: dict[str, list[Row]] = {i: [] for i in communities}
    for contact in sorted(contacts.values(), key=lambda c: (c["priority"], c["id"])):
        if is_eligible(contact) and contact["community_id"] in eligible:
            eligible[contact["community_id"]].append(contact)
    for community_id, found in eligible.items():
        item = {"id": community_id, "name": communities[community_id]["name"]}
        if not found:
            report.no_eligible.append(item)
        elif len(found) == 1:
            report.one_eligible.append({**item, "contact": found[0]["id"]})


def _consent(report: HealthReport, contacts: dict[str, Row], communities: dict[str, Row],
             stale_before: date) -> None:
    for contact in sorted(contacts.values(), key=lambda c: (c["community_id"], c["id"])):
        if contact.get("withdrawn_at") is not None and contact.get("erased_at") is None:
            report.withdrawn.append({
                "id": contact["id"], "name": contact["name"],
                "community": contact["community_id"],
                "withdrawn_at": iso_z(contact["withdrawn_at"]), "by": contact["withdrawn_by"]})
            continue
        if not contact["active"]:
            continue
        item = {"id": contact["id"], "name": contact["name"],
                "community": contact["community_id"]}
        if contact["community_id"] not in communities:
            report.orphaned_contacts.append(item)
        elif contact["consent"] is None:
            report.without_consent.append(item)
        elif contact["consent"] < stale_before:
            report.consent_stale.append({**item, "consent": contact["consent"].isoformat()})


def _liaisons(report: HealthReport, communities: dict[str, Row], staff: dict[str, Row]) -> None:
    for community_id, community in communities.items():
        liaison = community["liaison_id"]
        member = staff.get(liaison) if liaison else None
        if liaison is None:
            reason = "none"
        elif member is None:
            reason = "unknown"
        elif not member["active"]:
            reason = "inactive"
        else:
            continue
        report.without_liaison.append({"id": community_id, "name": community["name"],
                                       "liaison": liaison, "reason": reason})
