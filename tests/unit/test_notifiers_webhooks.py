"""Twilio webhook parsing and signature checks (signatures made by Twilio's own validator)."""

from __future__ import annotations

import pytest
from twilio.request_validator import RequestValidator

from notifiers.base import DeliveryState
from notifiers.twilio_webhooks import parse_inbound_sms, parse_status_callback, verify_signature

URL = "https://verbinder.example.org/webhooks/twilio/status?ref=m-1"
PRIMARY, SECONDARY = "primary-token-0000", "secondary-token-1111"
FORM = {"MessageSid": "SM" + "ab" * 16, "MessageStatus": "delivered", "To": "+31612345279"}


def _sign(token: str, url: str = URL, form: dict[str, str] | None = None) -> str:
    return RequestValidator(token).compute_signature(url, form or FORM)


def test_valid_signature_of_primary_token() -> None:
    assert verify_signature(URL, FORM, _sign(PRIMARY), [PRIMARY, SECONDARY])


def test_secondary_token_is_accepted_for_rotation() -> None:
    assert verify_signature(URL, FORM, _sign(SECONDARY), [PRIMARY, SECONDARY])


@pytest.mark.parametrize(
    ("url", "form", "signature"),
    [
        (URL, {**FORM, "MessageStatus": "failed"}, _sign(PRIMARY)),  # tampered parameter
        (URL.replace("m-1", "m-2"), FORM, _sign(PRIMARY)),  # another URL
        (URL, FORM, _sign("some-other-token")),  # forged
        (URL, FORM, "bm90IGEgc2lnbmF0dXJl"),
        (URL, FORM, ""),
        (URL, FORM, None),
    ],
)
def test_bad_signatures_are_refused(url: str, form: dict[str, str], signature: str | None) -> None:
    assert not verify_signature(url, form, signature, [PRIMARY, SECONDARY])


@pytest.mark.parametrize("tokens", [[], [""], ["", ""]])
def test_no_token_configured_refuses_everything(tokens: list[str]) -> None:
    assert not verify_signature(URL, FORM, _sign(""), tokens)


def test_status_callback_is_parsed() -> None:
    event = parse_status_callback({**FORM, "MessageStatus": "undelivered", "ErrorCode": "30003"})
    assert event.provider_id == FORM["MessageSid"]
    assert event.status == "undelivered"
    assert event.state is DeliveryState.FAILED
    assert event.error_code == "30003"


def test_status_callback_without_error_code() -> None:
    event = parse_status_callback({**FORM, "ErrorCode": ""})
    assert event.error_code is None and event.state is DeliveryState.DELIVERED


def test_legacy_sms_fields_are_understood() -> None:
    event = parse_status_callback({"SmsSid": "SM1", "SmsStatus": "sent"})
    assert (event.provider_id, event.state) == ("SM1", DeliveryState.PROGRESS)


@pytest.mark.parametrize("missing", ["MessageSid", "MessageStatus"])
def test_status_callback_missing_field_is_a_clear_error(missing: str) -> None:
    form = {k: v for k, v in FORM.items() if k != missing}
    with pytest.raises(ValueError, match=missing):
        parse_status_callback(form)


def test_inbound_sms_is_parsed() -> None:
    text = parse_inbound_sms({"MessageSid": "SM2", "From": "+31612345279", "Body": " STOP "})
    assert (text.provider_id, text.sender, text.body) == ("SM2", "+31612345279", " STOP ")


@pytest.mark.parametrize("missing", ["MessageSid", "From", "Body"])
def test_inbound_sms_missing_field_is_a_clear_error(missing: str) -> None:
    form = {"MessageSid": "SM2", "From": "+31612345279", "Body": "JA"}
    del form[missing]
    with pytest.raises(ValueError, match=missing):
        parse_inbound_sms(form)
