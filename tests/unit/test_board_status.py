"""The board's word for a community, derived from its row, messages, tasks and answers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from engine.incidents.board import STATUSES, board_status
from engine.store.models import IncidentCommunity, IncidentTask, Message

NOW = datetime(2026, 3, 1, 9, tzinfo=UTC)


def row(status: str = "open", taken_over_by: str | None = None) -> IncidentCommunity:
    """A community of an incident."""
    return IncidentCommunity(incident_id=1, community_id="c", role="affected", status=status,
                             taken_over_by=taken_over_by)


def message(state: str, kind: str = "contact", step: str = "esc:r0:s0:primary") -> Message:
    """A message about the community."""
    return Message(dedupe_key=f"{state}{kind}{step}", community_ids=["c"], recipient_kind=kind,
                   recipient_id="x", channel="sms", address="+31612340000", locale="nl",
                   body="b", step=step, state=state, created_at=NOW, updated_at=NOW)


def task(done: bool) -> IncidentTask:
    """A task of the community."""
    return IncidentTask(incident_id=1, community_id="c", task_id="t", kind="intake",
                        due_at=NOW, done_at=NOW if done else None)


@pytest.mark.parametrize(("community", "messages", "tasks", "answered", "silent", "expected"), [
    (row(), [], [], False, False, "not_contacted"),
    (row(), [message("pending")], [], False, False, "not_contacted"),
    (row(), [message("failed_perm")], [], False, False, "not_contacted"),
    (row(), [message("accepted")], [], False, False, "sent"),
    (row(), [message("ambiguous")], [], False, False, "unknown"),
    (row(), [message("ambiguous"), message("delivered")], [], False, False, "delivered"),
    (row(), [message("delivered"), message("accepted", "staff", "esc:r0:s2:oncall")], [],
     False, False, "escalated"),
    (row(), [message("delivered")], [], False, True, "escalated"),
    (row(), [message("delivered")], [], True, False, "needs_stated"),
    (row("acknowledged"), [message("delivered")], [], False, False, "acknowledged"),
    (row("acknowledged", "st-oncall"), [], [], False, False, "taken_over"),
    (row("acknowledged"), [], [task(True), task(False)], True, False, "needs_stated"),
    (row("acknowledged"), [], [task(True)], True, False, "needs_met"),
])
def test_the_board_status(community: IncidentCommunity, messages: list[Message],
                          tasks: list[IncidentTask], answered: bool, silent: bool,
                          expected: str) -> None:
    assert expected in STATUSES
    assert board_status(community, messages, tasks, answered, silent) == expected
