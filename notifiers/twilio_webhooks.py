"""What Twilio sends us: signature check, status callbacks and inbound texts."""

from __future__ import annotations

from collections.abc import Mapping

from twilio.request_validator import RequestValidator

from notifiers.base import InboundText, StatusEvent
from notifiers.twilio_status import delivery_state

SIGNATURE_HEADER = "X-Twilio-Signature"


def verify_signature(
    url: str, params: Mapping[str, str], signature: str | None, tokens: list[str]
) -> bool:
    """True when `signature` was made by one of `tokens` over this URL and form.

    `url` is the public URL Twilio was given (with its query), not one rebuilt from proxy
    headers. No token configured or no signature: refused.
    """
    usable = [token for token in tokens if token]
    if not usable or not signature:
        return False
    form = dict(params)
    return any(RequestValidator(token).validate(url, form, signature) for token in usable)


def _require(form: Mapping[str, str], *names: str) -> str:
    for name in names:
        value = form.get(name)
        if value is not None and str(value).strip():
            return str(value).strip()
    raise ValueError(f"Twilio request lacks the field {names[0]}")


def parse_status_callback(form: Mapping[str, str]) -> StatusEvent:
    """A status callback's form as a StatusEvent; ValueError when a field is missing."""
    sid = _require(form, "MessageSid", "SmsSid")
    status = _require(form, "MessageStatus", "SmsStatus").lower()
    error_code = (form.get("ErrorCode") or "").strip() or None
    return StatusEvent(
        provider_id=sid, status=status, state=delivery_state(status), error_code=error_code
    )


def parse_inbound_sms(form: Mapping[str, str]) -> InboundText:
    """An inbound SMS webhook's form as an InboundText; ValueError when a field is missing."""
    sid = _require(form, "MessageSid", "SmsSid")
    sender = _require(form, "From")
    if "Body" not in form:
        raise ValueError("Twilio request lacks the field Body")
    return InboundText(provider_id=sid, sender=sender, body=str(form["Body"]))
