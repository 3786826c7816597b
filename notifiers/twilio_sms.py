"""The SMS channel: Twilio's Messages API through the official `twilio` library."""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from requests.utils import get_environ_proxies
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from notifiers.base import (
    LookupQuery,
    LookupResult,
    OutboundMessage,
    Outcome,
    ProviderMessage,
    SendResult,
)
from notifiers.twilio_status import classify_http_error, delivery_state

log = logging.getLogger(__name__)

TWILIO_API_URL = "https://api.twilio.com"
_TWILIO_API = re.compile(r"^https://api(\.[a-z0-9-]+)*\.twilio\.com", re.IGNORECASE)
_NOT_REACHED = ("NewConnectionError", "NameResolutionError", "ConnectTimeoutError")
# A lookup reads at most this many messages to one number per list; more is not "complete".
LOOKUP_LIMIT = 200
# How long Twilio keeps a message queued when no ValidityPeriod is given (its maximum).
TWILIO_DEFAULT_VALIDITY = 36000


class RoutingHttpClient(TwilioHttpClient):  # type: ignore[misc]  # twilio ships no types
    """Twilio's HTTP client, aimed at another base URL when set, remembering response headers,
    and keeping `connections` connections open for as many sending threads."""

    def __init__(self, api_base_url: str | None = None, timeout: float | None = None,
                 connections: int | None = None) -> None:
        super().__init__(timeout=timeout, logger=logging.getLogger("notifiers.twilio_http"))
        self.api_base_url = api_base_url.rstrip("/") if api_base_url else None
        self._local = threading.local()
        if self.session is None:
            return
        if connections:
            # The library keeps min(32, CPUs + 4) connections: with more sending threads than
            # that, every send beyond opened (and TLS-negotiated) a connection of its own.
            adapter = HTTPAdapter(pool_maxsize=connections)
            self.session.mount("https://", adapter)
            self.session.mount("http://", adapter)
        # requests reads the proxy and CA bundle settings from the environment on every
        # request, which cost a sixth of each send; they are read once here, as all settings.
        self.proxy = get_environ_proxies(self.api_base_url or TWILIO_API_URL)
        self.session.verify = (os.environ.get("REQUESTS_CA_BUNDLE")
                               or os.environ.get("CURL_CA_BUNDLE") or True)
        self.session.trust_env = False

    def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        """Send one request, rewriting Twilio's host when a base URL is configured."""
        if self.api_base_url:
            url = _TWILIO_API.sub(self.api_base_url, url, count=1)
        self._local.headers = {}
        response = super().request(
            method, url, params, data, headers, auth, timeout, allow_redirects
        )
        self._local.headers = response.headers or {}
        return response

    def log_request(self, kwargs: dict[str, Any]) -> None:
        """One debug line per request (the library logs six at INFO)."""
        self.logger.debug("twilio %s %s", kwargs["method"], urlsplit(kwargs["url"]).path)

    def log_response(self, status_code: int, response: Any) -> None:
        """One debug line per answer."""
        self.logger.debug("twilio answered HTTP %s", status_code)

    def last_headers(self) -> Mapping[str, str]:
        """The headers of this thread's last response (case-insensitive when from requests)."""
        return getattr(self._local, "headers", {})


class TwilioSmsNotifier:
    """Sends one SMS per message through Twilio; answers with an outcome, never raises."""

    channel = "sms"

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        *,
        messaging_service_sid: str | None = None,
        from_: str | None = None,
        status_callback_url: str | None = None,
        validity_period: int | None = None,
        api_base_url: str | None = None,
        timeout: float = 10.0,
        connections: int | None = None,
    ) -> None:
        if not (messaging_service_sid or from_):
            raise ValueError("TwilioSmsNotifier needs messaging_service_sid or from_")
        self.messaging_service_sid = messaging_service_sid
        self.from_ = from_
        self.status_callback_url = status_callback_url
        self.validity_period = validity_period
        self.http_client = RoutingHttpClient(api_base_url, timeout=timeout,
                                             connections=connections)
        self.client = Client(account_sid, auth_token, http_client=self.http_client)

    def send(self, message: OutboundMessage) -> SendResult:
        """Create the message at Twilio and map whatever happens to one outcome."""
        try:
            created = self.client.messages.create(**self._create_arguments(message))
        except (TwilioRestException, TwilioServiceException) as exc:
            result = self._result_of_error(exc.status, exc.code)
        except requests.exceptions.RequestException as exc:
            result = result_of_transport_error(exc)
        else:
            result = _result_of_created(created.sid, created.status)
        log.info("sms %s: %s %s", message.reference, result.outcome, result.detail)
        return result

    def lookup(self, query: LookupQuery) -> LookupResult:
        """Which messages from us to `query.to` Twilio created within the window.

        Matched by recipient (the list's To filter), sender (our messaging service or From
        number), direction (created through the API) and creation time within the window;
        never by body. First the list filtered by To and DateSent, from the GMT day before the
        window (the filter counts in days), which holds every message Twilio sent; when none of
        those is ours, the list by To alone, which also holds messages still queued (they have
        no date_sent yet). Complete when no list was cut off at LOOKUP_LIMIT, or, for queued
        ones, when the window ended longer ago than Twilio keeps a message queued.
        """
        try:
            day = (query.after - timedelta(days=1)).astimezone(UTC).date().isoformat()
            sent = self._list(to=query.to, date_sent_after=day)
            found = self._ours(sent, query)
            if found:
                return LookupResult(found, complete=True, detail="twilio: sent")
            recent = self._list(to=query.to)
            found = self._ours(recent, query)
        except (TwilioRestException, TwilioServiceException) as exc:
            code = exc.code if exc.code is not None else exc.status
            return LookupResult(detail=f"twilio {code}: message list failed")
        except requests.exceptions.RequestException as exc:
            return LookupResult(detail=f"twilio not reached: {type(exc).__name__}")
        if found:
            return LookupResult(found, complete=True, detail="twilio: queued")
        queue_ended = query.before + timedelta(
            seconds=self.validity_period or TWILIO_DEFAULT_VALIDITY)
        complete = len(sent) <= LOOKUP_LIMIT and (
            len(recent) <= LOOKUP_LIMIT or query.asked_at >= queue_ended)
        return LookupResult((), complete=complete,
                            detail="twilio: none" if complete else "twilio: list cut off")

    def _list(self, **filters: Any) -> list[Any]:
        # One more than the limit: a list that fills it was cut off.
        found: list[Any] = self.client.messages.list(**filters, limit=LOOKUP_LIMIT + 1,
                                                     page_size=LOOKUP_LIMIT + 1)
        return found

    def _ours(self, messages: list[Any], query: LookupQuery) -> tuple[ProviderMessage, ...]:
        found = []
        for m in messages[:LOOKUP_LIMIT]:
            created = m.date_created
            if created is None or not query.after <= created <= query.before:
                continue
            if str(m.direction or "") != "outbound-api" or not self._from_us(m):
                continue
            status = str(m.status or "")
            found.append(ProviderMessage(m.sid, created, status, delivery_state(status)))
        return tuple(sorted(found, key=lambda p: p.created_at))

    def _from_us(self, m: Any) -> bool:
        if self.messaging_service_sid:
            return bool(m.messaging_service_sid == self.messaging_service_sid)
        return bool(m.from_ == self.from_)

    def _create_arguments(self, message: OutboundMessage) -> dict[str, Any]:
        arguments: dict[str, Any] = {"to": message.to, "body": message.body}
        if self.messaging_service_sid:
            arguments["messaging_service_sid"] = self.messaging_service_sid
        else:
            arguments["from_"] = self.from_
        if self.status_callback_url:
            arguments["status_callback"] = with_reference(
                self.status_callback_url, message.reference
            )
        if self.validity_period:
            arguments["validity_period"] = self.validity_period
        return arguments

    def _result_of_error(self, status: int, code: int | None) -> SendResult:
        rule = classify_http_error(status, code)
        retry_after = None
        if rule.outcome is Outcome.RETRY:
            retry_after = parse_retry_after(self.http_client.last_headers().get("Retry-After"))
        shown = code if code is not None else status
        return SendResult(
            rule.outcome,
            detail=f"twilio {shown}: {rule.reason} (HTTP {status})",
            retry_after=retry_after,
            error_code=str(shown),
            config_error=rule.config,
        )


def _result_of_created(sid: str | None, status: str | None) -> SendResult:
    if not sid:
        # A 2xx without a sid: something took it, but we cannot follow it up.
        return SendResult(Outcome.AMBIGUOUS, detail="twilio answered without a message sid")
    return SendResult(Outcome.ACCEPTED, provider_id=sid, detail=f"twilio {status or 'created'}")


def result_of_transport_error(exc: requests.exceptions.RequestException) -> SendResult:
    """Retry when the request never reached Twilio; ambiguous when it may have."""
    name = type(exc).__name__
    if isinstance(exc, requests.exceptions.ConnectTimeout) or _never_reached(exc):
        return SendResult(Outcome.RETRY, detail=f"twilio not reached: {name}")
    if isinstance(exc, requests.exceptions.SSLError):
        return SendResult(Outcome.RETRY, detail=f"twilio TLS failed: {name}")
    if isinstance(exc, requests.exceptions.InvalidURL | requests.exceptions.MissingSchema):
        return SendResult(Outcome.RETRY, detail=f"twilio URL invalid: {name}", config_error=True)
    return SendResult(Outcome.AMBIGUOUS, detail=f"twilio request sent, no answer: {name}")


def _never_reached(exc: BaseException) -> bool:
    seen: set[int] = set()
    pending: list[object] = [exc]
    while pending:
        item = pending.pop()
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        seen.add(id(item))
        if type(item).__name__ in _NOT_REACHED or isinstance(item, ConnectionRefusedError):
            return True
        reason = getattr(item, "reason", None)
        pending.extend([*item.args, item.__cause__, item.__context__, reason])
    return False


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP date); None when absent."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def with_reference(url: str, reference: str) -> str:
    """The callback URL with our message reference, so even an ambiguous send can be matched."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "ref"]
    query.append(("ref", reference))
    return urlunsplit(parts._replace(query=urlencode(query)))
