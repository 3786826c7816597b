"""The text form of a checklist's communities (`incident preview`): a summary by role, then
the communities in the checklist's order (the most affected first), the first `ROWS` of them
unless every one is asked for.

A checklist of a large city holds thousands of communities; a coordinator reads the summary
and the first rows, and a Rich table of every row (with the SMS of each contact rendered to
count its segments) took seconds. `--all` prints every row, still as one table.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from rich.table import Table

from engine.cli.output import plain, stdout

if TYPE_CHECKING:
    from playbook.builder import Checklist, CommunityItem

ROWS = 50  # communities listed without --all
ROLE_WORDS = {"affected": "getroffen / affected", "at_risk": "risico / at risk",
              "bridging": "brug / bridging", "informed": "informeren / informed"}


def print_role_summary(checklist: Checklist) -> None:
    """Per role: communities, their eligible contacts, those without any, and by channel."""
    communities: Counter[str] = Counter()
    contacts: Counter[str] = Counter()
    unreachable: Counter[str] = Counter()
    channels: Counter[tuple[str, str]] = Counter()
    for item in checklist.communities:
        communities[item.role] += 1
        contacts[item.role] += len(item.contacts)
        unreachable[item.role] += not item.contacts
        for eligible in item.contacts:
            channels[item.role, eligible.channel] += 1
    names = sorted({channel for _, channel in channels})
    table = Table(title="Per rol / by role", title_justify="left")
    table.add_column("rol / role", no_wrap=True)
    for column in ("gemeenschappen\ncommunities", "contacten\ncontacts",
                   "zonder contact\nunreachable", *names):
        table.add_column(column, justify="right")
    for role in sorted(communities, key=_role_order):
        table.add_row(plain(ROLE_WORDS.get(role, role)), plain(communities[role]),
                      plain(contacts[role]),
                      plain(unreachable[role], "red" if unreachable[role] else ""),
                      *(plain(channels[role, name]) for name in names))
    table.add_row(plain("totaal / total", "bold"), plain(sum(communities.values()), "bold"),
                  plain(sum(contacts.values()), "bold"),
                  plain(sum(unreachable.values()), "bold"),
                  *(plain(sum(n for (_, c), n in channels.items() if c == name), "bold")
                    for name in names))
    stdout.print(table)


def print_communities(checklist: Checklist, *, public_url: str, smart_encoding: bool = False,
                      every: bool = False) -> None:
    """The communities as a table: the first `ROWS`, or every one with `every`."""
    from engine.incidents.preview import first_message_segments

    shown = checklist.communities if every else checklist.communities[:ROWS]
    table = Table(title="Gemeenschappen / Communities", title_justify="left")
    for column in ("gemeenschap/community", "rol/role", "regels/rules", "escalatie",
                   "contacten/contacts", "sms-delen/segments", "taken/tasks"):
        table.add_column(column)
    for item in shown:
        segments = first_message_segments(
            playbook=checklist.playbook, checklist=checklist, item=item, public_url=public_url,
            smart_encoding=smart_encoding)
        table.add_row(*community_row(item, segments))
    stdout.print(table)
    rest = len(checklist.communities) - len(shown)
    if rest:
        stdout.print(f"... en nog {rest} / and {rest} more: --all toont ze allemaal / "
                     "lists every one")


def community_row(item: CommunityItem, segments: dict[str, int]) -> list[object]:
    """One community's cells: name, role, rules, escalation, contacts, segments, tasks."""
    contacts = ", ".join(f"{c.contact.priority}:{c.channel}/{c.language}"
                         for c in item.contacts)
    return [plain(f"{item.community.name} ({item.community.id})"), plain(item.role),
            plain(", ".join(item.rules)), plain(item.escalation or "-"),
            plain(contacts) if contacts else plain("-", "red"),
            plain(", ".join(f"{lang}: {n}" for lang, n in segments.items()) or "-"),
            plain(", ".join(t.task.id for t in item.tasks))]


def _role_order(role: str) -> int:
    order = list(ROLE_WORDS)
    return order.index(role) if role in order else len(order)
