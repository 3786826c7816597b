"""Crisis-ready, measured: per community whether it could be reached well if a crisis came
today, and if not why; the share per kind; and communities whose liaison keeps changing.
Added to `registry health` as sections of their own."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from engine.peacetime.log import last_contacts
from engine.registry.health import is_eligible
from engine.registry.importer import STORE_TABLES, load_rows, plain_row
from engine.store.models import LiaisonChange
from playbook.durations import due_after
from playbook.model import Peacetime, Playbook

CHURN_WINDOW = timedelta(days=365)
CHURN_LIMIT = 2  # more changes than this in the window are flagged
REASONS = {
    "eligible_contacts": "< 2 bereikbare contactpersonen / eligible contacts",
    "consent_stale": "toestemming verouderd / consent stale",
    "no_recent_contact": "geen contact in 2x de cadans / no contact in 2x its cadence",
    "no_liaison": "geen (actieve) contactambtenaar / no (active) liaison",
    "roles_missing": "rollen ontbreken / roles missing",
    "no_template_language": "geen sjabloon in die taal / no template in that language",
}


@dataclass
class Readiness:
    """The peace-time sections of `registry health`."""

    communities: list[dict[str, Any]] = field(default_factory=list)
    by_kind: dict[str, dict[str, Any]] = field(default_factory=dict)
    liaison_churn: list[dict[str, Any]] = field(default_factory=list)

    @property
    def not_ready(self) -> list[dict[str, Any]]:
        """The communities that are not crisis-ready."""
        return [c for c in self.communities if not c["ready"]]

    def as_dict(self) -> dict[str, Any]:
        """The `peacetime` part of the `registry health --json` document."""
        return {"crisis_ready": self.communities, "crisis_ready_by_kind": self.by_kind,
                "liaison_changed_often": self.liaison_churn,
                "reasons": dict(REASONS)}


def assess_readiness(conn: Connection, *, playbook: Playbook, now: datetime,
                     consent_stale_days: int) -> Readiness:
    """Crisis-readiness of every active community, and liaison churn."""
    communities = {i: c for i, c in sorted(load_rows(conn, "communities").items())
                   if c["active"]}
    contacts = load_rows(conn, "contacts")
    staff = load_rows(conn, "staff")
    last = last_contacts(conn)
    per_community: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for contact in contacts.values():
        if contact["active"] and contact["community_id"] in communities:
            per_community[contact["community_id"]].append(contact)
    languages = template_languages(playbook)
    stale_before = now.date() - timedelta(days=consent_stale_days)
    config = playbook.peacetime or Peacetime()
    result = Readiness()
    for community_id, community in communities.items():
        reasons = community_reasons(community, per_community[community_id], staff,
                                    last.get(community_id), config, languages, stale_before,
                                    now, playbook.timezone)
        result.communities.append({"id": community_id, "name": community["name"],
                                   "kind": community["kind"], "ready": not reasons,
                                   "reasons": reasons})
    totals, ready = Counter[str](), Counter[str]()
    for item in result.communities:
        totals[item["kind"]] += 1
        ready[item["kind"]] += item["ready"]
    result.by_kind = {kind: {"ready": ready[kind], "total": total,
                             "share": round(ready[kind] / total, 3)}
                      for kind, total in sorted(totals.items())}
    result.liaison_churn = liaison_churn(conn, communities, now)
    return result


def community_reasons(community: dict[str, Any], contacts: list[dict[str, Any]],
                      staff: dict[str, dict[str, Any]], last: datetime | None,
                      config: Peacetime, languages: set[str], stale_before: date,
                      now: datetime, zone: str) -> list[str]:
    """Why a community is not crisis-ready (empty: it is); reason codes with details."""
    reasons = []
    eligible = [c for c in contacts if is_eligible(c)]
    if len(eligible) < 2:
        reasons.append("eligible_contacts")
    if any(c["consent"] < stale_before for c in eligible):
        reasons.append("consent_stale")
    cadence = config.cadence_for(community["kind"], community["tags"])
    if cadence is not None and (last is None
                                or due_after(last, cadence.every * 2, zone) < now):
        reasons.append("no_recent_contact")
    member = staff.get(community["liaison_id"]) if community["liaison_id"] else None
    if member is None or not member["active"]:
        reasons.append("no_liaison")
    if cadence is not None and cadence.roles:
        have = {(c["role"] or "").strip().casefold() for c in contacts}
        missing = [r for r in cadence.roles if r not in have]
        if missing:
            reasons.append("roles_missing: " + ", ".join(missing))
    wanted = sorted({c["language"] for c in eligible if c["language"]} - languages)
    if wanted and languages:
        reasons.append("no_template_language: " + ", ".join(wanted))
    return reasons


def template_languages(playbook: Playbook) -> set[str]:
    """The languages the playbook's message templates have texts in."""
    return {lang for t in playbook.templates.values() for lang in t.languages}


def liaison_churn(conn: Connection, communities: dict[str, dict[str, Any]],
                  now: datetime) -> list[dict[str, Any]]:
    """Communities whose liaison changed more than twice in the last twelve months."""
    lc = LiaisonChange.__table__  # type: ignore[attr-defined]
    query = (sa.select(lc.c.community_id, sa.func.count())
             .where(lc.c.at > now - CHURN_WINDOW, lc.c.previous_id.is_not(None))
             .group_by(lc.c.community_id).having(sa.func.count() > CHURN_LIMIT)
             .order_by(lc.c.community_id))
    return [{"id": cid, "name": communities.get(cid, {}).get("name", cid), "changes": n}
            for cid, n in conn.execute(query) if cid in communities]


def community_readiness(conn: Connection, *, community_id: str, playbook: Playbook,
                        now: datetime, consent_stale_days: int) -> dict[str, Any] | None:
    """Crisis-readiness of one community (as in `registry health`), read for it alone;
    None when it is not an active community."""
    c, k, s = (STORE_TABLES["communities"], STORE_TABLES["contacts"], STORE_TABLES["staff"])
    community = conn.execute(sa.select(c).where(c.c.id == community_id, c.c.active)
                             ).mappings().first()
    if community is None:
        return None
    row = plain_row(dict(community))
    contacts = [plain_row(dict(r)) for r in conn.execute(
        sa.select(k).where(k.c.community_id == community_id, k.c.active)).mappings()]
    staff = {r["id"]: plain_row(dict(r)) for r in conn.execute(
        sa.select(s).where(s.c.id == row["liaison_id"])).mappings()}
    last = last_contacts(conn, [community_id]).get(community_id)
    reasons = community_reasons(row, contacts, staff, last, playbook.peacetime or Peacetime(),
                                template_languages(playbook),
                                now.date() - timedelta(days=consent_stale_days), now,
                                playbook.timezone)
    return {"ready": not reasons, "reasons": reasons, "last_contact": last}
