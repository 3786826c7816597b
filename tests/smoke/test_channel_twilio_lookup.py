"""The SMS channel's lookup (the real `twilio` library) against the fake Twilio's message list.

Matched by recipient, sender, direction and creation time, never by body; the answer says
whether it covered the whole window, so that "none" can be trusted.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import unquote

import pytest

from notifiers.base import DeliveryState, LookupQuery, OutboundMessage, Outcome
from notifiers.twilio_sms import LOOKUP_LIMIT, TwilioSmsNotifier

from .conftest import ExpectedSends
from .fake_twilio import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, MESSAGING_SERVICE_SID, FakeTwilio

ANNA = "+31612345279"
BRAM = "+31687654321"
NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


class Clock:
    """The fake Twilio's clock: when it creates messages."""

    def __init__(self) -> None:
        self.at = NOW

    def now(self) -> datetime:
        return self.at


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def twilio(twilio_spec, expected_sends: ExpectedSends, clock: Clock):
    fake = FakeTwilio(twilio_spec, clock=clock.now).start()
    expected_sends.watched_twilio.append(fake)
    yield fake
    fake.stop()


def channel(fake: FakeTwilio, **options: object) -> TwilioSmsNotifier:
    settings: dict[str, object] = {"messaging_service_sid": MESSAGING_SERVICE_SID,
                                   "validity_period": 3600}
    settings.update(options)
    return TwilioSmsNotifier(ACCOUNT_SID, AUTH_TOKEN, api_base_url=fake.url, timeout=5,
                             **settings)  # type: ignore[arg-type]


def send(notifier: TwilioSmsNotifier, to: str = ANNA) -> str:
    result = notifier.send(OutboundMessage(channel="sms", to=to, body="Bericht", reference="m1"))
    assert result.outcome is Outcome.ACCEPTED and result.provider_id
    return result.provider_id


def query(to: str = ANNA, *, asked_after: timedelta = timedelta(minutes=10)) -> LookupQuery:
    return LookupQuery(to=to, reference="m1", after=NOW - timedelta(minutes=2),
                       before=NOW + timedelta(minutes=2), asked_at=NOW + asked_after)


def test_a_message_twilio_sent_is_found_through_the_date_sent_filter(twilio, expected_sends):
    expected_sends.sms(ANNA)
    notifier = channel(twilio)
    sid = send(notifier)
    twilio.set_status(sid, "delivered")

    result = notifier.lookup(query())

    assert result.complete
    assert [(p.provider_id, p.created_at, p.status, p.state) for p in result.found] == [
        (sid, NOW, "delivered", DeliveryState.DELIVERED)]
    (first,) = twilio.lists()  # found in the first list: no second one asked for
    assert first.query["To"] == [ANNA]
    assert first.query["DateSent>"] == ["2026-02-28"], "from the GMT day before the window"
    assert not twilio.invalid_requests


def test_a_message_still_queued_at_twilio_is_found_in_the_list_by_recipient(twilio,
                                                                          expected_sends):
    expected_sends.sms(ANNA)
    notifier = channel(twilio)
    sid = send(notifier)  # a messaging service's message waits as `accepted`, no date_sent

    result = notifier.lookup(query())

    assert [(p.provider_id, p.state) for p in result.found] == [(sid, DeliveryState.PROGRESS)]
    assert [sorted(r.query) for r in twilio.lists()] == [
        ["DateSent>", "PageSize", "To"], ["PageSize", "To"]]


def test_none_when_twilio_holds_no_message_from_us_in_the_window(twilio, expected_sends, clock):
    expected_sends.sms(ANNA, ANNA, ANNA, BRAM)
    ours = channel(twilio)
    clock.at = NOW - timedelta(minutes=3)
    send(ours)  # before the window
    clock.at = NOW + timedelta(minutes=3)
    send(ours)  # after it
    clock.at = NOW
    send(channel(twilio, messaging_service_sid=None, from_=FROM_NUMBER))  # another sender
    send(ours, to=BRAM)  # another recipient

    result = ours.lookup(query())

    assert result.found == () and result.complete


def test_a_list_cut_off_is_not_complete_until_a_queued_message_would_have_left(
        twilio, expected_sends, clock):
    expected_sends.sms(*[ANNA] * (LOOKUP_LIMIT + 1))
    for n in range(LOOKUP_LIMIT + 1):  # queued, all older than the window
        clock.at = NOW - timedelta(hours=1, seconds=n)
        twilio._create({"To": [ANNA], "Body": ["x"],
                        "MessagingServiceSid": [MESSAGING_SERVICE_SID]})
    notifier = channel(twilio)  # validity period: an hour

    soon = notifier.lookup(query(asked_after=timedelta(minutes=10)))
    later = notifier.lookup(query(asked_after=timedelta(hours=1, minutes=3)))

    assert (soon.found, soon.complete) == ((), False)
    assert (later.found, later.complete) == ((), True)
    pages = [r for r in twilio.lists() if "DateSent>" not in r.query]
    assert all(unquote(r.path).endswith("/Messages.json") for r in pages)


def test_twilio_not_reached_is_not_an_answer(twilio):
    notifier = channel(twilio)
    twilio.stop()

    result = notifier.lookup(query())

    assert (result.found, result.complete) == ((), False)
    assert result.detail.startswith("twilio not reached")


def test_the_fake_list_pages_and_filters_as_the_description_says(twilio, expected_sends, clock):
    expected_sends.sms(*[ANNA] * 5)
    notifier = channel(twilio)
    sids = []
    for n in range(5):
        clock.at = NOW + timedelta(minutes=n)
        sids.append(send(notifier))
    for sid in sids[:3]:
        twilio.set_status(sid, "sent")

    everything = notifier.client.messages.list(to=ANNA, page_size=2)
    sent_since = notifier.client.messages.list(to=ANNA, date_sent_after="2026-03-01",
                                               page_size=2)
    sent_before = notifier.client.messages.list(to=ANNA, date_sent_before="2026-02-28")

    # not yet sent first, then the most recently sent first; three pages of two
    assert [m.sid for m in everything] == [sids[4], sids[3], sids[2], sids[1], sids[0]]
    assert [m.sid for m in sent_since] == [sids[2], sids[1], sids[0]]
    assert sent_before == []
    assert len([r for r in twilio.lists() if r.query.get("PageSize") == ["2"]]) == 5
    assert not twilio.invalid_requests and not twilio.internal_errors
