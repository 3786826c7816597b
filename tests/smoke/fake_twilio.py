"""A stateful fake of Twilio's Messages API on 127.0.0.1, answering as the OpenAPI description says.

Point the real `twilio` library (or a worker process, through TWILIO_API_BASE_URL) at `url`.
Every request is checked against the description; what does not match is answered 400 and kept
in `invalid_requests`, so a test can assert there was none. Faults are programmable for the
next requests or for one recipient; `hang` holds a request (the message is created all the
same) until `release()` or for N seconds; `delay` makes every creation take that long, as a
busy provider does. `deliver()` and `send_inbound()` post signed webhooks.
"""

from __future__ import annotations

import base64
import contextlib
import json
import secrets
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from twilio.request_validator import RequestValidator

from .twilio_spec import SpecValidator, is_e164

ACCOUNT_SID = "AC" + "f00d" * 8
AUTH_TOKEN = "fake-auth-token-0123456789abcdef"
MESSAGING_SERVICE_SID = "MG" + "5e" * 16
FROM_NUMBER = "+3197010203040"
MESSAGE_SCHEMA = "#/components/schemas/api.v2010.account.message"
MESSAGES_PATH = "/2010-04-01/Accounts/{AccountSid}/Messages.json"
MESSAGE_PATH = "/2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json"

_ERRORS: dict[str, tuple[int, int, str]] = {
    # kind: (HTTP status, Twilio code, message). Twilio's messages do contain the number.
    "429": (429, 20429, "Too Many Requests"),
    "500": (500, 20500, "Internal Server Error"),
    "503": (503, 20503, "Service Unavailable"),
    "20003": (401, 20003, "Authenticate"),
    "21211": (400, 21211, "Invalid 'To' Phone Number: {to}"),
    "21408": (400, 21408, "Permission to send an SMS has not been enabled for the region: {to}"),
    "21610": (400, 21610, "Attempt to send to unsubscribed recipient {to}"),
    "21612": (400, 21612, "The 'To' phone number: {to}, is not currently reachable via SMS"),
    "21614": (400, 21614, "'To' number {to} is not a valid mobile number"),
}
FAULT_KINDS = (*_ERRORS, "hang", "drop")


class Server(ThreadingHTTPServer):
    """A threading HTTP server with a listen backlog like a real one's: socketserver's 5 made
    the kernel drop connection attempts when 16 or 32 clients connected at once, and each
    dropped attempt stalled its client for a second (TCP's first retransmission)."""

    request_queue_size = 128


@dataclass
class Fault:
    """One programmed misbehaviour: an error answer, a held request or a dropped connection."""

    kind: str
    retry_after: float | None = None
    seconds: float | None = None  # for hang: hold this long (None: until release())
    times: int | None = 1  # None: every time

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {self.kind!r}; known: {', '.join(FAULT_KINDS)}")


@dataclass
class FakeMessage:
    """A message the fake accepted."""

    sid: str
    to: str
    body: str | None
    from_: str | None
    messaging_service_sid: str | None
    status_callback: str | None
    validity_period: int | None
    status: str
    params: dict[str, list[str]]
    date_created: datetime
    error_code: int | None = None
    held: bool = False


@dataclass(frozen=True)
class LoggedRequest:
    """One request the fake received (with what it answered)."""

    method: str
    path: str
    query: dict[str, list[str]]
    form: dict[str, list[str]]
    status: int


@dataclass(frozen=True)
class InvalidRequest:
    """A request that does not match Twilio's description."""

    method: str
    path: str
    problems: list[str]
    form: dict[str, list[str]]


@dataclass
class _State:
    messages: list[FakeMessage] = field(default_factory=list)
    requests_log: list[LoggedRequest] = field(default_factory=list)
    invalid_requests: list[InvalidRequest] = field(default_factory=list)
    internal_errors: list[str] = field(default_factory=list)
    next_faults: list[Fault] = field(default_factory=list)
    faults_for: dict[str, Fault] = field(default_factory=dict)
    held: int = 0
    connections: int = 0


class FakeTwilio:
    """The fake server; use as a context manager or call start()/stop()."""

    def __init__(
        self,
        spec: dict[str, Any],
        *,
        account_sid: str = ACCOUNT_SID,
        auth_token: str = AUTH_TOKEN,
        callback_timeout: float = 10.0,
        delay: float = 0.0,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.validator = SpecValidator(spec)
        self.delay = delay  # seconds each message creation takes before it answers
        self.clock = clock or (lambda: datetime.now(UTC))  # when messages are created
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.callback_timeout = callback_timeout
        self._state = _State()
        self._changed = threading.Condition()
        self._release = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- life cycle -------------------------------------------------------------------------

    def start(self) -> FakeTwilio:
        """Listen on a random port of 127.0.0.1 in a background thread."""
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = Server(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Release held requests and stop listening."""
        self._release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeTwilio:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The base URL to give as TWILIO_API_BASE_URL."""
        if self._server is None:
            raise RuntimeError("the fake Twilio server is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def environment(self, *, messaging_service: bool = True) -> dict[str, str]:
        """The settings a worker process needs to send through this fake."""
        env = {
            "TWILIO_ACCOUNT_SID": self.account_sid,
            "TWILIO_AUTH_TOKEN": self.auth_token,
            "TWILIO_API_BASE_URL": self.url,
        }
        if messaging_service:
            env["TWILIO_MESSAGING_SERVICE_SID"] = MESSAGING_SERVICE_SID
        else:
            env["TWILIO_FROM"] = FROM_NUMBER
        return env

    # --- what happened ----------------------------------------------------------------------

    @property
    def messages(self) -> list[FakeMessage]:
        """Accepted messages, in order."""
        with self._changed:
            return list(self._state.messages)

    @property
    def requests_log(self) -> list[LoggedRequest]:
        """Every request received, in order."""
        with self._changed:
            return list(self._state.requests_log)

    @property
    def invalid_requests(self) -> list[InvalidRequest]:
        """Requests that did not match Twilio's description."""
        with self._changed:
            return list(self._state.invalid_requests)

    @property
    def internal_errors(self) -> list[str]:
        """Answers of the fake itself that did not match the description (a fake bug)."""
        with self._changed:
            return list(self._state.internal_errors)

    @property
    def connections(self) -> int:
        """TCP connections clients opened to the fake so far."""
        with self._changed:
            return self._state.connections

    def recipients(self) -> list[str]:
        """The To of every accepted message, in order."""
        return [message.to for message in self.messages]

    def message(self, sid: str) -> FakeMessage:
        """The accepted message with this sid."""
        for message in self.messages:
            if message.sid == sid:
                return message
        raise KeyError(sid)

    def set_status(self, sid: str, status: str) -> None:
        """Move a message to a status (sent, delivered, ...) without a callback."""
        message = self.message(sid)
        with self._changed:
            message.status = status

    def lists(self) -> list[LoggedRequest]:
        """The requests that read the Messages list."""
        return [r for r in self.requests_log
                if r.method == "GET" and r.path.endswith("/Messages.json")]

    def reset(self) -> None:
        """Forget messages, logs and faults; release held requests."""
        self.release()
        with self._changed:
            self._state = _State()
            self._release = threading.Event()
            self._changed.notify_all()

    def wait_for(self, predicate: Callable[[FakeTwilio], bool], timeout: float = 10.0) -> bool:
        """Block until predicate(self) holds (woken by each request); False on timeout."""
        with self._changed:
            return self._changed.wait_for(lambda: predicate(self), timeout=timeout)

    def wait_for_messages(self, count: int, timeout: float = 10.0) -> bool:
        """Block until at least `count` messages were accepted."""
        return self.wait_for(lambda fake: len(fake._state.messages) >= count, timeout)

    def wait_for_held(self, count: int = 1, timeout: float = 10.0) -> bool:
        """Block until at least `count` requests are being held by a `hang` fault."""
        return self.wait_for(lambda fake: fake._state.held >= count, timeout)

    # --- programming faults -----------------------------------------------------------------

    def fail_next(
        self,
        kind: str,
        *,
        times: int = 1,
        retry_after: float | None = None,
        seconds: float | None = None,
    ) -> None:
        """Make the next `times` message creations fail this way."""
        fault = Fault(kind, retry_after=retry_after, seconds=seconds, times=times)
        with self._changed:
            self._state.next_faults.append(fault)

    def fail_for(
        self,
        to: str,
        kind: str,
        *,
        times: int | None = None,
        retry_after: float | None = None,
        seconds: float | None = None,
    ) -> None:
        """Make message creations to `to` fail this way (every time unless `times`)."""
        fault = Fault(kind, retry_after=retry_after, seconds=seconds, times=times)
        with self._changed:
            self._state.faults_for[to] = fault

    def release(self) -> None:
        """Let every held request answer now."""
        self._release.set()

    def reset_release(self) -> None:
        """Hold `hang` requests again after release() (messages and logs are kept)."""
        self._release = threading.Event()

    def _take_fault(self, to: str) -> Fault | None:
        with self._changed:
            fault = self._state.faults_for.get(to)
            if fault is not None:
                return _spend(fault, lambda: self._state.faults_for.pop(to, None))
            if self._state.next_faults:
                fault = self._state.next_faults[0]
                return _spend(fault, lambda: self._state.next_faults.pop(0))
        return None

    # --- webhooks to the application ---------------------------------------------------------

    def deliver(
        self, sid: str, status: str = "delivered", error_code: int | None = None, **signing: Any
    ) -> int:
        """Post a signed status callback for a message to its StatusCallback; the HTTP status."""
        message = self.message(sid)
        if not message.status_callback:
            raise ValueError(f"message {sid} has no StatusCallback")
        with self._changed:
            message.status = status
            message.error_code = error_code
        params = {
            "AccountSid": self.account_sid,
            "ApiVersion": "2010-04-01",
            "From": message.from_ or FROM_NUMBER,
            "MessageSid": sid,
            "MessageStatus": status,
            "SmsSid": sid,
            "SmsStatus": status,
            "To": message.to,
        }
        if message.messaging_service_sid:
            params["MessagingServiceSid"] = message.messaging_service_sid
        if error_code is not None:
            params["ErrorCode"] = str(error_code)
        return self.post_signed(message.status_callback, params, **signing)

    def send_inbound(
        self, url: str, from_: str, body: str, *, to: str = FROM_NUMBER, **signing: Any
    ) -> int:
        """Post a signed inbound SMS webhook to `url`; the HTTP status."""
        sid = new_sid("SM")
        params = {
            "AccountSid": self.account_sid,
            "ApiVersion": "2010-04-01",
            "Body": body,
            "From": from_,
            "MessageSid": sid,
            "NumMedia": "0",
            "NumSegments": "1",
            "SmsMessageSid": sid,
            "SmsSid": sid,
            "SmsStatus": "received",
            "To": to,
        }
        return self.post_signed(url, params, **signing)

    def post_signed(
        self,
        url: str,
        params: Mapping[str, str],
        *,
        token: str | None = None,
        signature: str | None = None,
        sign_url: str | None = None,
        tamper: Mapping[str, str] | None = None,
        unsigned: bool = False,
    ) -> int:
        """POST a form signed as Twilio does; forge with `token`, `signature`, `sign_url`,
        `tamper` (changes params after signing) or `unsigned`."""
        signed = signature or RequestValidator(token or self.auth_token).compute_signature(
            sign_url or url, dict(params)
        )
        sent = {**params, **(tamper or {})}
        headers = {
            "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
            "User-Agent": "TwilioProxy/1.1",
        }
        if not unsigned:
            headers["X-Twilio-Signature"] = signed
        request = urllib.request.Request(
            url, data=urlencode(sent).encode(), headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=self.callback_timeout) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code

    # --- answering ---------------------------------------------------------------------------

    def _log(self, entry: LoggedRequest, problems: list[str] | None = None) -> None:
        with self._changed:
            self._state.requests_log.append(entry)
            if problems:
                invalid = InvalidRequest(entry.method, entry.path, problems, entry.form)
                self._state.invalid_requests.append(invalid)
            self._changed.notify_all()

    def _check_answer(self, payload: dict[str, Any], schema_ref: str) -> None:
        problems = self.validator.check_json(payload, {"$ref": schema_ref}, "answer")
        if problems:
            with self._changed:
                self._state.internal_errors.extend(problems)

    def _create(self, form: dict[str, list[str]]) -> FakeMessage:
        one = {name: values[0] for name, values in form.items() if values}
        service = one.get("MessagingServiceSid")
        message = FakeMessage(
            sid=new_sid("SM"),
            to=one["To"],
            body=one.get("Body"),
            from_=one.get("From"),
            messaging_service_sid=service,
            status_callback=one.get("StatusCallback"),
            validity_period=int(one["ValidityPeriod"]) if "ValidityPeriod" in one else None,
            status="accepted" if service and "From" not in one else "queued",
            params=form,
            date_created=self.clock(),
        )
        with self._changed:
            self._state.messages.append(message)
            self._changed.notify_all()
        return message

    @contextmanager
    def _holding(self, message: FakeMessage) -> Iterator[None]:
        with self._changed:
            message.held = True
            self._state.held += 1
            self._changed.notify_all()
        try:
            yield
        finally:
            with self._changed:
                message.held = False
                self._state.held -= 1
                self._changed.notify_all()

    def resource(self, message: FakeMessage) -> dict[str, Any]:
        """The message as Twilio's API shows it."""
        uri = f"/2010-04-01/Accounts/{self.account_sid}/Messages/{message.sid}"
        created = format_datetime(message.date_created)
        return {
            "account_sid": self.account_sid,
            "api_version": "2010-04-01",
            "body": message.body,
            "date_created": created,
            "date_sent": format_datetime(sent) if (sent := date_sent(message)) else None,
            "date_updated": created,
            "direction": "outbound-api",
            "error_code": message.error_code,
            "error_message": None,
            "from": message.from_,
            "messaging_service_sid": message.messaging_service_sid,
            "num_media": "0",
            "num_segments": "1" if message.from_ else "0",
            "price": None,
            "price_unit": "USD",
            "sid": message.sid,
            "status": message.status,
            "subresource_uris": {"media": f"{uri}/Media.json"},
            "to": message.to,
            "uri": f"{uri}.json",
        }


def date_sent(message: FakeMessage) -> datetime | None:
    """When Twilio sent it: none while it is queued (or accepted by a messaging service)."""
    return None if message.status in ("queued", "accepted", "scheduled") else message.date_created


def _sent_filter(query: dict[str, list[str]]) -> Callable[[FakeMessage], bool]:
    """The DateSent filters of a list request, as the description says: GMT dates (a
    date-time is taken as the instant); `DateSent>` on and after, `DateSent<` on and before.
    A message not sent yet has no date_sent and passes no DateSent filter."""
    tests: list[Callable[[datetime], bool]] = []
    for name, compare in (("DateSent", lambda a, b: a == b), ("DateSent>", lambda a, b: a >= b),
                          ("DateSent<", lambda a, b: a <= b)):
        if name not in query:
            continue
        text = query[name][0]
        if "T" in text or " " in text:
            bound = datetime.fromisoformat(text.replace("Z", "+00:00"))
            tests.append(lambda sent, c=compare, b=bound: c(sent, b))
        else:
            day = datetime.fromisoformat(text).date()
            tests.append(lambda sent, c=compare, d=day: c(sent.astimezone(UTC).date(), d))
    if not tests:
        return lambda message: True
    return lambda message: (sent := date_sent(message)) is not None and all(
        t(sent) for t in tests)


def _spend(fault: Fault, remove: Callable[[], object]) -> Fault:
    if fault.times is not None:
        fault.times -= 1
        if fault.times <= 0:
            remove()
    return fault


def new_sid(prefix: str) -> str:
    """A Twilio-shaped sid: two letters and 32 hex digits."""
    return prefix + secrets.token_hex(16)


def twilio_error(status: int, code: int, message: str) -> dict[str, Any]:
    """Twilio's JSON error body."""
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


class _Handler(BaseHTTPRequestHandler):
    fake: FakeTwilio
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # the reply goes out in two writes: no 40 ms delayed ACK

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: request lines hold nothing useful and the tests read `requests_log`."""

    def setup(self) -> None:
        """Count the connection (one handler serves one connection)."""
        super().setup()
        with self.fake._changed:
            self.fake._state.connections += 1

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def _serve(self, method: str) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if len(raw) < length:  # the client died mid-request (a test's SIGKILL): nothing came
            self.close_connection = True
            return
        query = parse_qs(parts.query, keep_blank_values=True)
        try:
            form = parse_qs(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(raw))
        except (UnicodeDecodeError, ValueError):
            form = {}
            problems = ["the body is not UTF-8 form data"]
        else:
            problems = []
        self._dispatch(method, parts.path, query, form, problems)

    def _dispatch(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        form: dict[str, list[str]],
        problems: list[str],
    ) -> None:
        fake = self.fake

        def answer(status: int, payload: dict[str, Any] | None, **headers: str) -> None:
            fake._log(LoggedRequest(method, path, query, form, status), problems)
            if payload is None:  # drop: the request was read, no answer will come
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            self._reply(status, payload, headers)

        if not self._authorised():
            answer(
                401,
                twilio_error(401, 20003, "Authenticate"),
                **{"WWW-Authenticate": 'Basic realm="Twilio API"'},
            )
            return
        route = fake.validator.route(method, path)
        if route is None:
            problems.append(f"no such path in Twilio's description: {path}")
            answer(404, twilio_error(404, 20404, "The requested resource was not found"))
            return
        problems += fake.validator.check_request(
            route, self.headers.get("Content-Type"), query, form
        )
        if route.path_params.get("AccountSid") not in (None, fake.account_sid):
            problems.append("AccountSid in the path is not the authenticated account")
        if route.template == MESSAGES_PATH and method == "POST":
            problems += _twilio_rules(form)
        if problems:
            answer(400, twilio_error(400, 21000, "Invalid request: " + "; ".join(problems)))
            return
        if route.template == MESSAGES_PATH and method == "POST":
            self._create(form, answer)
        elif route.template == MESSAGE_PATH and method == "GET":
            self._fetch(route.path_params["Sid"], answer)
        elif route.template == MESSAGES_PATH and method == "GET":
            self._list(query, answer)
        else:
            problems.append(f"{method} {route.template} is described but not faked")
            answer(501, twilio_error(501, 20500, "Not implemented by the fake"))

    def _authorised(self) -> bool:
        header = self.headers.get("Authorization") or ""
        if not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return user == self.fake.account_sid and password == self.fake.auth_token

    def _create(self, form: dict[str, list[str]], answer: Callable[..., None]) -> None:
        fake = self.fake
        to = form["To"][0]
        fault = fake._take_fault(to)
        if fault is not None and fault.kind in _ERRORS:
            status, code, text = _ERRORS[fault.kind]
            headers = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after else {}
            answer(status, twilio_error(status, code, text.format(to=to)), **headers)
            return
        if not is_e164(to):
            answer(400, twilio_error(400, 21211, f"Invalid 'To' Phone Number: {to}"))
            return
        if len(form.get("Body", [""])[0]) > 1600:
            answer(400, twilio_error(400, 21617, "The concatenated message body exceeds 1600"))
            return
        message = fake._create(form)
        if fake.delay:
            time.sleep(fake.delay)  # a provider that takes its time answering
        if fault is not None and fault.kind == "drop":
            answer(0, None)
            return
        if fault is not None and fault.kind == "hang":
            with fake._holding(message):
                fake._release.wait(timeout=fault.seconds)
        payload = fake.resource(message)
        fake._check_answer(payload, MESSAGE_SCHEMA)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            answer(201, payload)  # the client may have given up while we held the request

    def _fetch(self, sid: str, answer: Callable[..., None]) -> None:
        try:
            message = self.fake.message(sid)
        except KeyError:
            answer(404, twilio_error(404, 20404, "The requested resource was not found"))
            return
        payload = self.fake.resource(message)
        self.fake._check_answer(payload, MESSAGE_SCHEMA)
        answer(200, payload)

    def _list(self, query: dict[str, list[str]], answer: Callable[..., None]) -> None:
        """Messages filtered by To, From and DateSent, most recent first (those not sent yet
        first of all), one page at a time."""
        fake = self.fake
        sent_ok = _sent_filter(query)
        chosen = [
            message
            for message in fake.messages
            if message.to == query.get("To", [message.to])[0]
            and (message.from_ or FROM_NUMBER)
            == query.get("From", [message.from_ or FROM_NUMBER])[0]
            and sent_ok(message)
        ]
        epoch = datetime.min.replace(tzinfo=UTC)
        chosen.sort(key=lambda m: (date_sent(m) is None, date_sent(m) or epoch, m.date_created),
                    reverse=True)
        size = int(query.get("PageSize", ["50"])[0])
        page = int(query.get("Page", ["0"])[0])
        token = query.get("PageToken", [""])[0]
        start = int(token[2:]) if token.startswith("PT") and token[2:].isdigit() else page * size
        shown = chosen[start:start + size]
        uri = f"/2010-04-01/Accounts/{fake.account_sid}/Messages.json"
        kept = {k: v[0] for k, v in query.items() if k not in ("Page", "PageSize", "PageToken")}

        def page_uri(number: int, offset: int | None = None) -> str:
            params = {**kept, "PageSize": str(size), "Page": str(number)}
            if offset is not None:
                params["PageToken"] = f"PT{offset}"
            return f"{uri}?{urlencode(params)}"

        more = start + size < len(chosen)
        payload = {
            "messages": [fake.resource(message) for message in shown],
            "end": start + max(len(shown) - 1, 0),
            "first_page_uri": page_uri(0),
            "next_page_uri": page_uri(page + 1, start + size) if more else None,
            "page": page,
            "page_size": size,
            "previous_page_uri": page_uri(page - 1, max(0, start - size)) if page else None,
            "start": start,
            "uri": page_uri(page, start if token else None),
        }
        list_schema = fake.validator.spec["paths"][MESSAGES_PATH]["get"]["responses"]["200"]
        problems = fake.validator.check_json(
            payload, list_schema["content"]["application/json"]["schema"], "answer"
        )
        if problems:
            with fake._changed:
                fake._state.internal_errors.extend(problems)
        answer(200, payload)

    def _reply(self, status: int, payload: dict[str, Any], headers: Mapping[str, str]) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Twilio-Request-Id", new_sid("RQ"))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


def _twilio_rules(form: dict[str, list[str]]) -> list[str]:
    """What Twilio's docs require of a message beyond the schema."""
    problems = []
    if "From" not in form and "MessagingServiceSid" not in form:
        problems.append("one of From or MessagingServiceSid is required")
    if not any(name in form for name in ("Body", "MediaUrl", "ContentSid")):
        problems.append("one of Body, MediaUrl or ContentSid is required")
    validity = form.get("ValidityPeriod", ["1"])[0]
    if validity.isdigit() and not 1 <= int(validity) <= 36000:
        problems.append("ValidityPeriod must be 1..36000")
    return problems


@dataclass(frozen=True)
class ReceivedWebhook:
    """One request a CallbackSink received."""

    url: str  # as the sender addressed it: scheme, host, port, path and query
    headers: dict[str, str]
    form: dict[str, str]
    status: int


class CallbackSink:
    """A tiny HTTP endpoint on 127.0.0.1 that records POSTed forms and answers via `respond`.

    `respond(url, headers, form) -> int` decides the status (200 by default), e.g. by checking
    the signature as the application would.
    """

    def __init__(
        self, respond: Callable[[str, Mapping[str, str], dict[str, str]], int] | None = None
    ) -> None:
        self.respond = respond or (lambda url, headers, form: 200)
        self.received: list[ReceivedWebhook] = []
        self._lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                """Quiet."""

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                pairs = parse_qs(self.rfile.read(length).decode(), keep_blank_values=True)
                form = {name: values[-1] for name, values in pairs.items()}
                url = f"{sink.url}{self.path}"
                headers = dict(self.headers.items())
                status = sink.respond(url, headers, form)
                with sink._lock:
                    sink.received.append(ReceivedWebhook(url, headers, form, status))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self._server = Server(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    @property
    def url(self) -> str:
        """The base URL of the sink."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        """Stop listening."""
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> CallbackSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
