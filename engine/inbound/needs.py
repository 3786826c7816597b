"""What an intake answer sets in motion (PLAYBOOK.md, intake_forms): an `action` task added to
the community's checklist, due from the answer, and staff alerted at once.

The alert is a timer due now (kind `alert`): the worker's cycle fires it like a staff step, so
it goes to the same audiences (with their fallbacks: no liaison, nobody on call), with an ack
link for a take-over, and is sent by the worker that sends everything else. Choosing an option
again adds nothing: the task and the alert are unique per community.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, select

from engine.audit.events import record
from engine.store.models import IncidentTask, Timer
from engine.store.states import TimerState
from playbook.answers import chosen_options
from playbook.builder import followup_due


def alert_step(question_id: str, option_id: str) -> str:
    """The step (and timer task id) of the alert an intake option raises."""
    return f"need:{question_id}:{option_id}"


def set_in_motion(session: Session, *, incident_id: int, playbook: Any, form_id: str,
                  community_ids: list[str], answers: dict[str, Any], by: str,
                  now: datetime) -> None:
    """Add the tasks and raise the alerts of the options this answer chose."""
    form = playbook.intake_forms.get(form_id)
    if form is None:
        return
    for question_id, option in chosen_options(form, answers):
        for cid in community_ids:
            if option.task is not None:
                _add_task(session, incident_id, cid, playbook.tasks[option.task], playbook,
                          by, now, option.id)
            if option.alert is not None:
                _raise_alert(session, incident_id, cid, option.alert,
                             alert_step(question_id, option.id), by, now)


def _add_task(session: Session, incident_id: int, community_id: str, task: Any, playbook: Any,
              by: str, now: datetime, option_id: str) -> None:
    exists = session.exec(select(IncidentTask.id).where(
        IncidentTask.incident_id == incident_id, IncidentTask.community_id == community_id,
        IncidentTask.task_id == task.id)).first()
    if exists is not None:
        return
    due = followup_due(task, now, playbook.timezone)
    session.add(IncidentTask(incident_id=incident_id, community_id=community_id,
                             task_id=task.id, kind=task.kind, due_at=due))
    record(session, kind="task.added", at=now, incident_id=incident_id,
           community_id=community_id, actor=by, task=task.id, option=option_id,
           source="intake")


def _raise_alert(session: Session, incident_id: int, community_id: str, alert: Any, step: str,
                 by: str, now: datetime) -> None:
    exists = session.exec(select(Timer.id).where(
        Timer.incident_id == incident_id, Timer.community_id == community_id,
        Timer.kind == "alert", Timer.task_id == step)).first()
    if exists is not None:
        return
    session.add(Timer(incident_id=incident_id, community_id=community_id, kind="alert",
                      notify=alert.notify, template=alert.template, task_id=step, due_at=now,
                      state=TimerState.PENDING))
    record(session, kind="intake.alert", at=now, incident_id=incident_id,
           community_id=community_id, actor=by, notify=alert.notify, step=step)
