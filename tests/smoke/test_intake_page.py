"""Acknowledgement links and the needs-intake page over real HTTP, and what the logs hold.

Links are opened as a person (or a mail scanner) would: GET shows a page and changes nothing,
a plain form POST (no JavaScript) acts.
"""

from __future__ import annotations

import logging
import re
import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from engine.clock import FakeClock
from engine.registry.importer import import_registry
from engine.store.models import IntakeAnswer, IntakeToken
from tests.integration.conftest import ENGINE_REGISTRY

from .conftest import ExpectedSends
from .fake_twilio import AUTH_TOKEN, FakeTwilio
from .server import (
    AHMED,
    AHMED_EMAIL,
    AMAL,
    AMAL_EMAIL,
    BORA,
    BORA_EMAIL,
    COORD,
    COR_EMAIL,
    DIRK_EMAIL,
    LIAISON,
    AppServer,
    Scenario,
    community,
    events,
    link_tokens,
    message_to,
    messages,
    rows,
    sent_body,
    serve_app,
    smtp_settings,
    start_scenario,
    store_state,
    twilio_settings,
)
from .smtp_server import SmtpServer

PAGE_WORDS = {  # the send button and the option "Security" of the playbook's form
    "ar": ("إرسال", "Security"), "en": ("Send", "Security"), "nl": ("Versturen", "Beveiliging"),
}


@pytest.fixture
def registry(tmp_path: Path) -> Path:
    """The engine registry, with Bora (b1) writing English, so that nl, en and ar all occur."""
    folder = tmp_path / "registry"
    shutil.copytree(ENGINE_REGISTRY, folder)
    contacts = folder / "contacts.csv"
    text = contacts.read_text(encoding="utf-8")
    assert ",sms,tr," in text
    contacts.write_text(text.replace(",sms,tr,", ",sms,en,"), encoding="utf-8")
    return folder


@pytest.fixture
def app(sqlite_engine: Engine, clock: FakeClock, tmp_path: Path, registry: Path,
        fake_twilio: FakeTwilio, smtp_server: SmtpServer) -> Iterator[AppServer]:
    """The application on SQLite, sending through the fake Twilio and the SMTP server."""
    import_registry(sqlite_engine, [registry], clock=clock)
    with serve_app(sqlite_engine, clock, tmp_path, **twilio_settings(fake_twilio),
                   **smtp_settings(smtp_server)) as served:
        yield served


@pytest.fixture
def scenario(app: AppServer, expected_sends: ExpectedSends) -> Scenario:
    """The attack declared: SMS to Ahmed (ar) and Bora (en), email to Dirk (nl)."""
    return start_scenario(app, expected_sends)


def ack_token(scenario: Scenario, address: str, channel: str = "email") -> str:
    """The acknowledgement token in the only message to an address."""
    (token,) = link_tokens(sent_body(scenario.ctx, message_to(scenario.ctx, address, channel)),
                           "a")
    return token


def intake_token(scenario: Scenario, address: str) -> str:
    """The intake token in the only SMS to an address."""
    (token,) = link_tokens(sent_body(scenario.ctx, message_to(scenario.ctx, address)), "i")
    return token


def assert_plain_page(html: str, lang: str) -> None:
    """A page that works without JavaScript, in this language and direction."""
    assert f'lang="{lang}"' in html
    assert f'dir="{"rtl" if lang == "ar" else "ltr"}"' in html
    assert "<script" not in html.lower() and "javascript:" not in html.lower()
    assert not re.search(r"<[^>]+\son[a-z]+=", html), "an inline event handler"


# --- the acknowledgement link -------------------------------------------------------------------


def test_ack_link_get_changes_nothing_and_post_acknowledges(scenario: Scenario) -> None:
    client, ctx = scenario.app.client, scenario.ctx
    token = ack_token(scenario, DIRK_EMAIL)
    before = store_state(ctx)
    for _ in range(2):  # a mail scanner, then the person
        page = client.get(f"/a/{token}")
        assert page.status_code == 200
        assert_plain_page(page.text, "nl")
        assert '<form method="post">' in page.text and "<button" in page.text
        assert page.headers["cache-control"] == "no-store"
    assert store_state(ctx) == before, "opening the link changed something"
    assert community(scenario.show(), "buurt-d")["status"] == "open"

    done = client.post(f"/a/{token}")
    assert done.status_code == 200 and "Dank u wel" in done.text
    row = community(scenario.show(), "buurt-d")
    assert (row["status"], row["acknowledged_by"], row["taken_over_by"]) == (
        "acknowledged", "contact:d1", None)
    again = client.post(f"/a/{token}")
    assert again.status_code == 200
    acks = events(ctx, "community.acknowledged")
    assert [(e.community_id, e.actor, e.data["via"]) for e in acks] == [
        ("buurt-d", "contact:d1", "link")]
    assert "<form" not in client.get(f"/a/{token}").text, "the page says it is done"


def test_expired_ack_link_is_gone_and_changes_nothing(scenario: Scenario) -> None:
    client, ctx = scenario.app.client, scenario.ctx
    token = ack_token(scenario, DIRK_EMAIL)
    days = ctx.settings.intake_token_days
    ctx.clock.advance(timedelta(days=days) - timedelta(seconds=1))
    assert client.get(f"/a/{token}").status_code == 200  # one second left
    ctx.clock.advance(timedelta(seconds=1))
    before = store_state(ctx)
    assert client.get(f"/a/{token}").status_code == 410
    gone = client.post(f"/a/{token}")
    assert gone.status_code == 410 and "verlopen" in gone.text
    assert store_state(ctx) == before
    assert community(scenario.show(), "buurt-d")["status"] == "open"


def test_token_with_a_bad_signature_is_gone_without_a_lookup(scenario: Scenario) -> None:
    client, ctx = scenario.app.client, scenario.ctx
    token = ack_token(scenario, DIRK_EMAIL)
    nonce, sig = token.split(".")
    flipped = sig[:-1] + ("A" if sig[-1] != "A" else "B")
    changed = nonce[:-1] + ("x" if nonce[-1] != "x" else "y")  # never the nonce itself
    forged = [f"{nonce}.{flipped}", f"{changed}.{sig}", nonce, "x", "a" * 300]
    looked_up: list[str] = []

    def watch(conn: object, cursor: object, statement: str, *args: object) -> None:
        if "intaketoken" in statement.lower():
            looked_up.append(statement)

    sa.event.listen(ctx.engine, "before_cursor_execute", watch)
    try:
        before = store_state(ctx)
        looked_up.clear()
        for bad in forged:
            for path in (f"/a/{bad}", f"/i/{bad}"):
                assert client.get(path).status_code == 410
                assert client.post(path, data={"needs": "security"}).status_code == 410
        assert looked_up == [], "a token with a bad signature was looked up"
        assert client.get(f"/a/{token}").status_code == 200
        assert looked_up, "the watch sees the look-up of a good token"
    finally:
        sa.event.remove(ctx.engine, "before_cursor_execute", watch)
    assert store_state(ctx) == before


def test_tokens_are_opaque_and_links_carry_nothing_else(scenario: Scenario) -> None:
    ctx, url = scenario.ctx, scenario.app.url
    # long enough that a random token cannot hold one by chance (a flaky test proves nothing)
    personal = ["Ahmed Een", "Bora Een", "Dirk Een", "AhmedEen", "moskee-a", "moskee-b",
                "buurt-d", "Moskee", "Teststad"]
    for address in (AHMED, BORA, DIRK_EMAIL):
        personal += [address, address.lstrip("+"), address[3:], address.split("@")[0] + "@"]
    found = []
    for m in messages(ctx):
        links = re.findall(rf"{re.escape(url)}/[^\s\"'<>]*", sent_body(ctx, m))
        assert links, f"message {m.id} carries no link"
        for link in links:
            shape = rf"{re.escape(url)}/[ai]/([A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+)"
            match = re.fullmatch(shape, link)
            assert match, "a link is /a/<token> or /i/<token>, with nothing else"
            token = match.group(1)
            found.append(token)
            assert not [p for p in personal if p in token], "data in a token"
    assert len(found) == 3  # Ahmed and Bora: the intake link; Dirk: the ack link (no intake)
    assert len({len(t) for t in found}) == 1, "every token has the same shape"
    assert len(set(found)) == len(found)
    stored = rows(ctx, IntakeToken)
    assert not {t.token_hash for t in stored} & set(found), "a token is stored as itself"
    assert all(len(t.token_hash) == 64 for t in stored)


# --- the intake page ----------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["ar", "en", "nl"])
def test_intake_page_in_the_contacts_language_without_javascript(
    scenario: Scenario, expected_sends: ExpectedSends, lang: str
) -> None:
    if lang == "nl":
        expected_sends.sms(AMAL)  # the backup of moskee-a writes Dutch
        scenario.cycle(minutes=15)
    address = {"ar": AHMED, "en": BORA, "nl": AMAL}[lang]
    before = store_state(scenario.ctx)
    page = scenario.app.client.get(f"/i/{intake_token(scenario, address)}")
    assert page.status_code == 200
    assert_plain_page(page.text, lang)
    assert store_state(scenario.ctx) == before, "opening the form changed something"
    assert '<form method="post">' in page.text
    send, security = PAGE_WORDS[lang]
    assert send in page.text and security in page.text
    options = re.findall(r'<input type="checkbox" name="needs" value="([a-z_]+)"', page.text)
    assert options == ["security", "conversation", "aftercare"]
    assert ("Moskee B" if lang == "en" else "Moskee A") in page.text


def test_intake_post_records_the_answers_ticks_the_task_and_acknowledges(
    scenario: Scenario,
) -> None:
    client = scenario.app.client
    token = intake_token(scenario, AHMED)
    done = client.post(f"/i/{token}", data={"needs": ["security", "conversation"]})
    assert done.status_code == 200
    assert "شكرًا" in done.text
    doc = scenario.show()
    for cid in ("moskee-a", "moskee-b"):
        row = community(doc, cid)
        assert [(i["by"], i["answers"], i["source"]) for i in row["intake"]] == [
            ("a1", {"needs": ["security", "conversation"]}, "web")]
        task = next(t for t in row["tasks"] if t["id"] == "needs-intake")
        assert task["done_by"] == "contact:a1"
        assert row["status"] == "acknowledged"
    assert "note" in client.get(f"/i/{token}").text  # "we have your answer already"


def test_intake_post_with_nothing_chosen_shows_the_form_again(scenario: Scenario) -> None:
    before = store_state(scenario.ctx)
    path = f"/i/{intake_token(scenario, BORA)}"
    for data in ({}, {"needs": "nonsense"}, {"other": "security"}):
        page = scenario.app.client.post(path, data=data)
        assert page.status_code == 422, data
        assert_plain_page(page.text, "en")
        assert 'role="alert"' in page.text and "Please choose at least one answer." in page.text
        assert '<form method="post">' in page.text
    assert store_state(scenario.ctx) == before
    assert rows(scenario.ctx, IntakeAnswer) == []


def test_expired_intake_link_is_gone_and_records_nothing(scenario: Scenario) -> None:
    client, ctx = scenario.app.client, scenario.ctx
    token = intake_token(scenario, BORA)
    ctx.clock.advance(timedelta(days=ctx.settings.intake_token_days, seconds=1))
    before = store_state(ctx)
    assert client.get(f"/i/{token}").status_code == 410
    assert client.post(f"/i/{token}", data={"needs": "security"}).status_code == 410
    assert store_state(ctx) == before


# --- privacy: the logs of a whole scenario ------------------------------------------------------

NOT_OURS = ("httpx", "httpcore", "mail.log")  # the test's own HTTP client; the SMTP server side


def test_no_phone_email_or_token_reaches_a_log_record(
    sqlite_engine: Engine, clock: FakeClock, tmp_path: Path, registry: Path,
    fake_twilio: FakeTwilio, smtp_server: SmtpServer, expected_sends: ExpectedSends,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    uvicorn_loggers = [logging.getLogger(n) for n in ("uvicorn", "uvicorn.error",
                                                      "uvicorn.access", "uvicorn.asgi")]
    import_registry(sqlite_engine, [registry], clock=clock)
    with serve_app(sqlite_engine, clock, tmp_path, **twilio_settings(fake_twilio),
                   **smtp_settings(smtp_server)) as app:
        levels = [(lg, lg.level) for lg in uvicorn_loggers]
        for lg in uvicorn_loggers:  # a handler turns uvicorn's access lines on: the worst case
            lg.setLevel(logging.DEBUG)
            lg.addHandler(caplog.handler)
        try:
            tokens = run_whole_scenario(app, fake_twilio, expected_sends)
        finally:
            for lg, level in levels:
                lg.setLevel(level)
                lg.removeHandler(caplog.handler)
    needles = personal_data(tokens)
    records = [r for r in caplog.records if not r.name.startswith(NOT_OURS)]
    assert len(records) >= 5, "the scenario was logged (only without personal data)"
    access = [r.getMessage() for r in records if r.name == "uvicorn.access"]
    assert any("/a/[token]" in line for line in access), "access lines, forced on, are redacted"
    leaks = []
    for r in records:
        text = r.getMessage() + (r.exc_text or "")
        leaks += [f"{r.name}: {n!r}" for n in needles if n in text]
    assert leaks == []


def personal_data(tokens: list[str]) -> list[str]:
    """Every phone number (in several spellings), email address and token of the scenario."""
    phones = [AHMED, AMAL, BORA, LIAISON, COORD, "+31622222202"]
    out = [*tokens, AUTH_TOKEN]
    for p in phones:
        national = "0" + p[3:]
        out += [p, p[1:], p[3:], national,
                f"{national[:2]} {national[2:4]} {national[4:6]} {national[6:8]} {national[8:]}"]
    out += [AHMED_EMAIL, AMAL_EMAIL, BORA_EMAIL, COR_EMAIL, DIRK_EMAIL, "lia@example.net",
            "otto@example.net", "coco@example.net"]
    return out


def run_whole_scenario(app: AppServer, fake: FakeTwilio, expected: ExpectedSends) -> list[str]:
    """Declare, send, deliver, fail, reply, STOP, open links, answer; the tokens used."""
    scenario = start_scenario(app, expected)
    ctx, client = app.ctx, app.client
    assert fake.deliver(scenario.sid(BORA), "delivered") == 204
    assert fake.deliver(scenario.sid(AHMED), "undelivered", error_code=30003) == 204
    assert fake.deliver(scenario.sid(AHMED), "delivered", token="forged-0123456789abc") == 403
    assert fake.send_inbound(app.inbound_url, BORA, "1 3", unsigned=True) == 403
    expected.email(AHMED_EMAIL)  # the fallback of the undelivered SMS
    scenario.cycle(minutes=1)
    ack = ack_token(scenario, DIRK_EMAIL)
    intake = intake_token(scenario, BORA)
    email_tokens = link_tokens(sent_body(ctx, message_to(ctx, AHMED_EMAIL, "email")), "i")
    assert client.get(f"/a/{ack}").status_code == 200
    assert client.post(f"/a/{ack}").status_code == 200
    assert client.get(f"/i/{intake}").status_code == 200
    assert client.post(f"/i/{intake}", data={}).status_code == 422
    assert client.post(f"/i/{intake}", data={"needs": "aftercare"}).status_code == 200
    assert client.get(f"/i/{ack[:-2]}xx").status_code == 410
    for sender, body in ((BORA, "STOP"), ("+31699999901", "OK"), (BORA, "START"),
                         (BORA, "please call me")):
        assert fake.send_inbound(app.inbound_url, sender, body) == 200
    expected.sms(AMAL, LIAISON)  # moskee-a was not reached yet: the backup, the liaison
    scenario.cycle(minutes=30)
    assert fake.send_inbound(app.inbound_url, LIAISON, "OK") == 200
    assert community(scenario.show(), "moskee-a")["taken_over_by"] == "st-liaison"
    ctx.clock.advance(timedelta(days=ctx.settings.intake_token_days))
    assert client.post(f"/i/{intake}", data={"needs": "aftercare"}).status_code == 410
    return [ack, intake, *email_tokens] + [
        t for m in messages(ctx) for kind in ("a", "i")
        for t in link_tokens(sent_body(ctx, m), kind)]
