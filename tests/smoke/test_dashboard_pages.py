"""Dashboard pages over HTTP: downloads from the board (the after-action export and the call
sheet, as attachments, recorded like the commands' exports, refused to roles that may not take
them), and ticking tasks on the board."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from engine.clock import FakeClock
from engine.registry.importer import import_registry
from engine.store.models import Event
from tests.dashboard_support import DASHBOARD_REGISTRY, Browserless, enrolled
from tests.smoke.server import AppServer, declare, rows, serve_app

_numbers = itertools.count(1)


@pytest.fixture
def app(sqlite_engine: Engine, clock: FakeClock, tmp_path: Path) -> Iterator[AppServer]:
    """The application with the dashboard registry and one declared incident."""
    import_registry(sqlite_engine, [DASHBOARD_REGISTRY], clock=clock)
    with serve_app(sqlite_engine, clock, tmp_path) as served:
        declare(served.ctx)
        yield served


def logged_in(app: AppServer, role: str) -> Browserless:
    """A client logged in with a new account of this role."""
    user = enrolled(app.ctx, f"{role}-{next(_numbers)}@example.org", role, None)
    app.ctx.clock.advance(timedelta(seconds=30))
    client = Browserless(app.url)
    assert client.login(user, app.ctx.clock).status_code == 303
    return client


def test_a_coordinator_downloads_the_export_and_the_call_sheet(app: AppServer) -> None:
    client = logged_in(app, "coordinator")
    board = client.get("/incidents/1")
    for link in ("/incidents/1/export.html", "/incidents/1/export.csv",
                 "/incidents/1/callsheet.html"):
        assert f'href="{link}"' in board.text
    report = client.get("/incidents/1/export.html")
    assert report.status_code == 200
    assert report.headers["content-disposition"] == 'attachment; filename="incident-1.html"'
    assert "Incident" in report.text
    timeline = client.get("/incidents/1/export.csv")
    assert timeline.status_code == 200 and "incident.declared" in timeline.text
    sheet = client.get("/incidents/1/callsheet.html")
    assert sheet.status_code == 200 and "Ahmed Een" in sheet.text
    assert sheet.headers["cache-control"] == "no-store"
    taken = [(e.data["what"], e.data["format"], e.data["pii"], e.actor)
             for e in rows(app.ctx, Event, Event.kind == "incident.exported")]
    assert [t[:3] for t in taken] == [("export", "html", False), ("export", "csv", False),
                                      ("callsheet", "html", True)]
    assert {t[3] for t in taken} == {"account:1"}
    assert client.get("/incidents/1/export.exe").status_code == 404
    assert client.get("/incidents/99/export.html").status_code == 404


def test_who_may_not_take_them_is_refused(app: AppServer) -> None:
    viewer = logged_in(app, "viewer")
    assert "/callsheet." not in viewer.get("/incidents/1").text
    for path in ("/incidents/1/export.html", "/incidents/1/callsheet.html"):
        assert viewer.get(path).status_code == 403
    oncall = logged_in(app, "oncall")
    assert oncall.get("/incidents/1/export.csv").status_code == 403
    assert oncall.get("/incidents/1/callsheet.html").status_code == 200
    assert [e.data["what"] for e in rows(app.ctx, Event, Event.kind == "incident.exported")
            ] == ["callsheet"]


def test_a_task_is_ticked_on_the_board_and_opened_again(app: AppServer) -> None:
    from engine.store.models import IncidentTask

    def task() -> IncidentTask:
        [row] = rows(app.ctx, IncidentTask, IncidentTask.community_id == "moskee-a",
                     IncidentTask.task_id == "needs-intake")
        return row

    client = logged_in(app, "coordinator")
    board = client.get("/incidents/1")
    assert 'name="tick" value="moskee-a/needs-intake"' not in board.text  # first-contact first
    assert 'name="tick" value="moskee-a/first-contact"' in board.text
    # the task's owner (the playbook's `owner: liaison`), named: the community's liaison
    assert re.search(r'data-owner="liaison">· (voor|for) (contactpersoon|liaison) '
                     r'\(Lia Son\)</span>', board.text), board.text
    ticked = client.post("/incidents/1/act", {"tick": "moskee-a/needs-intake"})
    assert ticked.status_code == 303
    assert task().done_at is not None and task().done_by.startswith("account:")
    timeline = client.get("/incidents/1").text
    done = re.search(r'data-kind="task.done">.*?</li>', timeline)
    assert done and re.search(r'title="account:\d+">coordinator-\d+@example.org<', done[0])
    assert client.post("/incidents/1/act", {"untick": "moskee-a/needs-intake"}
                       ).status_code == 303
    assert task().done_at is None
    refused = client.post("/incidents/1/act", {"tick": "moskee-a/no-such-task"})
    assert refused.status_code == 422 and "no-such-task" in refused.text
    liaison = Browserless(app.url)
    user = enrolled(app.ctx, "lia-tick@example.org", "liaison", "st-liaison2")
    app.ctx.clock.advance(timedelta(seconds=30))
    liaison.login(user, app.ctx.clock)
    liaison.get("/incidents/1")
    assert liaison.post("/incidents/1/act", {"tick": "moskee-a/needs-intake"}
                        ).status_code == 403  # moskee-a is st-liaison's
    assert task().done_at is None


def test_the_declare_preview_says_refusals_and_warnings_in_the_pages_language(
        app: AppServer) -> None:
    client = logged_in(app, "coordinator")
    client.get("/declare")

    def preview(lang: str, **form: str) -> str:
        answer = client.post("/declare/preview", {"type": "attack_on_place_of_worship",
                                                  **form},
                             headers={"hx-request": "true", "accept-language": lang})
        assert answer.status_code == 200
        return answer.text.replace("&#39;", "'")

    assert "veld 'target_faith': verplicht bij type 'attack_on_place_of_worship'" in \
        preview("nl")
    assert "field 'target_faith': required for type 'attack_on_place_of_worship'" in \
        preview("en")
    assert "ernst: 'x' is geen heel getal" in preview("nl", severity="x")
    assert "ernst: 9 moet een heel getal van 1 tot 5 zijn" in preview(
        "nl", severity="9", **{"f.target_faith": "islam"})
    typo = {"f.target_faith": "islam", "f.target_community": "moskee-aa"}
    assert "veld 'target_community': 'moskee-aa' is geen id van een actieve gemeenschap " \
        "(bedoelt u 'moskee-a' of 'moskee-b'?)" in preview("nl", **typo)
    assert "is not the id of an active community (did you mean 'moskee-a'" in preview(
        "en", **typo)
    dutch = preview("nl", **{"f.target_faith": "christian"})  # no target_community given
    english = preview("en", **{"f.target_faith": "christian"})
    assert "Kerk C</span> <span class=\"badge\">rol: loopt risico" in dutch
    assert "Kerk C</span> <span class=\"badge\">role: at risk" in english
    assert "geen gemeenschap als getroffen gevonden: controleer --field target_faith" in dutch
    assert "no community matched as affected" in english
    assert "no community matched" not in dutch and "Informeer burgemeester" in dutch


def test_a_declaration_with_a_community_typo_shows_the_form_again(app: AppServer) -> None:
    client = logged_in(app, "coordinator")
    client.get("/declare")
    refused = client.post("/declare", {"type": "attack_on_place_of_worship",
                                       "f.target_faith": "islam",
                                       "f.target_community": "moskee-aa"},
                          headers={"accept-language": "nl"})
    assert refused.status_code == 422
    text = refused.text.replace("&#39;", "'")
    assert '<form id="declare"' in text and "(bedoelt u 'moskee-a' of 'moskee-b'?)" in text
    assert len(rows(app.ctx, Event, Event.kind == "incident.declared")) == 1  # the fixture's
