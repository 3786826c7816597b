"""A declared incident keeps its playbook and its checklist, frozen with it at declaration.

`freeze_files` is what declaring stores; `playbook_of` reloads the playbook from the frozen files
(once per digest) and `load_incidents` reads incidents with their frozen checklists (once per
process). Here, below incidents and outreach, so that both read them downward.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from sqlalchemy.orm import defer
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, select

from engine.store.models import Incident
from playbook.loader import load_playbook_files

MAIN_FILE_KEY = "__main__"


@lru_cache(maxsize=32)
def _load(digest: str, files: tuple[tuple[str, str], ...]):  # type: ignore[no-untyped-def]
    mapping = dict(files)
    main = mapping.pop(MAIN_FILE_KEY)
    return load_playbook_files(mapping, main)


def freeze_files(files: dict[str, str], main: str) -> dict[str, str]:
    """The files to keep with an incident, with the name of the main YAML file."""
    return {**files, MAIN_FILE_KEY: main}


_BY_DIGEST: dict[str, Any] = {}


def playbook_of(incident: Incident):  # type: ignore[no-untyped-def]
    """The playbook an incident was declared with."""
    known = _BY_DIGEST.get(incident.playbook_digest)
    if known is None:
        known = _load(incident.playbook_digest, tuple(sorted(incident.playbook_files.items())))
        if len(_BY_DIGEST) >= 32:
            _BY_DIGEST.clear()
        _BY_DIGEST[incident.playbook_digest] = known
    return known


# Checklists kept, counted in communities: firing interleaves many incidents' timers, and a
# community's entry is a few kilobytes.
CHECKLISTS_KEPT = 20_000
_CHECKLISTS: OrderedDict[str, dict[str, Any]] = OrderedDict()
_kept = 0  # communities in the checklists kept
_CHECKLISTS_LOCK = threading.Lock()


def _cached_checklist(key: str | None) -> dict[str, Any] | None:
    with _CHECKLISTS_LOCK:
        if key is None or key not in _CHECKLISTS:
            return None
        _CHECKLISTS.move_to_end(key)
        return _CHECKLISTS[key]


def _keep_checklist(key: str | None, checklist: dict[str, Any]) -> None:
    global _kept
    if key is None:
        return
    with _CHECKLISTS_LOCK:
        if key not in _CHECKLISTS:
            _CHECKLISTS[key] = checklist
            _kept += _weight(checklist)
        while _kept > CHECKLISTS_KEPT and len(_CHECKLISTS) > 1:
            _kept -= _weight(_CHECKLISTS.popitem(last=False)[1])


def _weight(checklist: dict[str, Any]) -> int:
    return 1 + len(checklist.get("communities", ()))


def load_incidents(session: Session, ids: Iterable[int]) -> dict[int, Incident | None]:
    """The incidents with these ids, their frozen checklists read once per process.

    A checklist never changes after declaration, and a large one cost more to read and parse
    for every batch of timers than firing the batch did. Callers treat it as read-only.
    """
    wanted = sorted(set(ids))
    rows = session.exec(
        select(Incident).where(Incident.id.in_(wanted))
        .options(defer(Incident.checklist), defer(Incident.playbook_files))
    ).all()
    found: dict[int, Incident | None] = {i: None for i in wanted}
    for row in rows:
        key = row.checklist_key
        checklist = _cached_checklist(key)
        if checklist is None:
            checklist = session.exec(select(Incident.checklist)
                                     .where(Incident.id == row.id)).one()
            _keep_checklist(key, checklist)
        set_committed_value(row, "checklist", checklist)
        found[row.id] = row
    return found
