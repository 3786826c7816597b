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


def task(done: bool, task_id: str = "t") -> IncidentTask:
    """A task of the community."""
    return IncidentTask(incident_id=1, community_id="c", task_id=task_id, kind="intake",
                        due_at=NOW, done_at=NOW if done else None)


NONE: frozenset[str] | None = None  # no intake answer
SECURITY = frozenset({"arrange-security"})  # an answer that added this task


@pytest.mark.parametrize(("community", "messages", "tasks", "needs", "silent", "expected"), [
    (row(), [], [], NONE, False, "not_contacted"),
    (row(), [message("pending")], [], NONE, False, "not_contacted"),
    (row(), [message("failed_perm")], [], NONE, False, "not_contacted"),
    (row(), [message("accepted")], [], NONE, False, "sent"),
    (row(), [message("ambiguous")], [], NONE, False, "unknown"),
    (row(), [message("ambiguous"), message("delivered")], [], NONE, False, "delivered"),
    (row(), [message("delivered"), message("accepted", "staff", "esc:r0:s2:oncall")], [],
     NONE, False, "escalated"),
    (row(), [message("delivered")], [], NONE, True, "escalated"),
    (row("acknowledged"), [message("delivered")], [], NONE, False, "acknowledged"),
    (row("acknowledged", "st-oncall"), [], [], NONE, False, "taken_over"),
    # an answer that added a task: stated until that task is done
    (row(), [message("delivered")], [task(False, "arrange-security")], SECURITY, False,
     "needs_stated"),
    (row("acknowledged"), [], [task(True, "arrange-security"), task(False)], SECURITY, False,
     "needs_met"),  # the community's other tasks (aftercare later) do not hold it back
    (row("acknowledged"), [], [task(False, "arrange-security"), task(True)], SECURITY, False,
     "needs_stated"),
    (row("acknowledged", "st-oncall"), [], [task(False, "arrange-security")], SECURITY,
     False, "needs_stated"),  # a need stated speaks louder than "taken over"
    # an answer that needs nothing done ("nothing right now", only remarks): met as it stands
    (row("acknowledged"), [], [task(False)], frozenset(), False, "needs_met"),
    # an answer outweighs silence: the community spoke
    (row(), [message("delivered")], [task(False, "arrange-security")], SECURITY, True,
     "needs_stated"),
])
def test_the_board_status(community: IncidentCommunity, messages: list[Message],
                          tasks: list[IncidentTask], needs: frozenset[str] | None,
                          silent: bool, expected: str) -> None:
    assert expected in STATUSES
    assert board_status(community, messages, tasks, needs, silent) == expected
