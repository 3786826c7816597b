"""A deterministic generator of synthetic registries (fake people, fake numbers) for benchmarks.

`generate_registry(n, k, seed)` gives rows in the import format; `write_registry(folder, rows)`
writes them as communities.csv, contacts.csv and staff.csv. Same arguments, same output.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path
from typing import Any

KINDS = ("faith", "migrant", "neighbourhood", "youth", "women", "lgbti", "culture", "sport",
         "other")
TAGS = ("islam", "christian", "judaism", "hinduism", "turkish", "moroccan", "surinamese",
        "polish", "ukrainian", "eritrean", "syrian", "residents", "youth", "mosque", "church")
LANGUAGES = ("nl", "en", "tr", "ar", "pl", "uk", "ti", "pap", "zh", "so")
FIRST = ("Anna", "Daan", "Fatma", "Jan", "Lotte", "Mehmet", "Olena", "Rahwa", "Sanne", "Wei",
         "Youssef", "Priya", "Kevin", "Esther", "Omar", "Marieke")
LAST = ("Jansen", "de Vries", "Kaya", "Bennani", "Visser", "Haile", "Nowak", "Chen", "Pinas",
        "Mulder", "Bakker", "Smit", "Demir", "Haddad")
ROLES = ("voorzitter", "secretaris", "imam", "voorganger", "bestuurslid", "coördinator")

Rows = dict[str, list[dict[str, str]]]


def generate_registry(n_communities: int, contacts_per_community: int, seed: int = 1) -> Rows:
    """Rows for the three tables, as strings keyed by the import columns (REGISTRY.md)."""
    rng = random.Random(seed)
    staff = _staff(max(3, n_communities // 50))
    liaisons = [s["id"] for s in staff if "liaison" in s["roles"]]
    communities: list[dict[str, str]] = []
    contacts: list[dict[str, str]] = []
    for i in range(n_communities):
        community = _community(rng, i, liaisons)
        communities.append(community)
        for j in range(contacts_per_community):
            contacts.append(_contact(rng, i * contacts_per_community + j, community["id"], j))
    return {"communities": communities, "contacts": contacts, "staff": staff}


def write_registry(folder: str | Path, rows: Rows, delimiter: str = ",") -> list[Path]:
    """Write the tables as UTF-8 CSV files in a folder; return their paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, table in rows.items():
        path = folder / f"{name}.csv"
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(table[0]), delimiter=delimiter)
            writer.writeheader()
            writer.writerows(table)
        paths.append(path)
    return paths


def _staff(n: int) -> list[dict[str, str]]:
    result = []
    for i in range(n):
        roles = "coordinator;oncall" if i == 0 else "liaison;oncall" if i % 2 else "liaison"
        result.append({"id": f"st-{i:04d}", "name": f"Medewerker {i}",
                       "phone": f"06-1{i:07d}",
                       "email": f"staff{i}@example.net", "roles": roles})
    return result


def _community(rng: random.Random, i: int, liaisons: list[str]) -> dict[str, Any]:
    kind = rng.choice(KINDS)
    wk = 1 + i % 90
    return {
        "id": f"c{i:06d}", "name": f"{kind.title()} gemeenschap {i}", "kind": kind,
        "tags": ";".join(rng.sample(TAGS, rng.randint(0, 3))),
        "languages": ";".join(rng.sample(LANGUAGES, rng.randint(1, 2))),
        "area": f"BU0999{wk:02d}{1 + i % 99:02d}",
        "lat": f"{52.0 + rng.random() * 0.1:.5f}", "lon": f"{5.0 + rng.random() * 0.2:.5f}",
        "liaison": liaisons[i % len(liaisons)], "organisation_type": rng.choice(
            ("association", "foundation", "mosque", "church", "")),
    }


def _contact(rng: random.Random, n: int, community_id: str, level: int) -> dict[str, str]:
    name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
    has_phone, has_email = rng.random() < 0.9, rng.random() < 0.7
    if not (has_phone or has_email):
        has_phone = True
    phone = f"06-{rng.choice('12345')}{n % 10_000_000:07d}" if has_phone else ""
    return {
        "id": f"p{n:07d}", "community": community_id, "name": name,
        "role": rng.choice(ROLES), "priority": str(level + 1), "phone": phone,
        "email": f"contact{n}@example.org" if has_email else "",
        "channel": "" if not (has_phone and has_email) else rng.choice(("sms", "email", "")),
        "language": rng.choice(LANGUAGES),
        "consent": "" if rng.random() < 0.1 else f"2026-{rng.randint(1, 12):02d}-"
                                                  f"{rng.randint(1, 28):02d}",
        "active": "nee" if rng.random() < 0.02 else "ja",
    }
