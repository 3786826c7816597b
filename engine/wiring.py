"""The composition root: builds the store, channels, clock, links and workers from settings.

Only this module names the concrete channels. A command, the web application and the demo are
handed an `AppContext`; the services below them are handed its parts.
"""

from __future__ import annotations

import ipaddress
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property, partial
from pathlib import Path
from typing import TYPE_CHECKING, TextIO
from urllib.parse import urlsplit

from config.settings import Settings, load_settings
from engine.clock import Clock, SystemClock

# The store, the channels (twilio, SMTP) and the outreach are imported where they are first
# used: a command that needs none of them (`playbook check`, `incident types`, any `--help`)
# starts without loading them (engine.cli.lazy).
if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlmodel import Session

    from engine.links.tokens import Links
    from engine.outreach.fallback import FallbackHook
    from engine.outreach.policy import DispatchPolicy
    from engine.worker import Worker
    from notifiers.base import Notifier
    from playbook.model import Playbook

STATUS_PATH = "/webhooks/twilio/status"
INBOUND_PATH = "/webhooks/twilio/inbound"


def build_channels(settings: Settings, console_stream: TextIO | None = None) -> dict[str, Notifier]:
    """SMS through Twilio and email through SMTP when configured, else the console channel."""
    from notifiers.console import ConsoleNotifier

    channels: dict[str, Notifier] = {}
    if settings.twilio_configured:
        from notifiers.twilio_sms import TwilioSmsNotifier

        channels["sms"] = TwilioSmsNotifier(
            settings.twilio_account_sid or "", settings.twilio_auth_token or "",
            messaging_service_sid=settings.twilio_messaging_service_sid,
            from_=settings.twilio_from,
            status_callback_url=settings.public_url.rstrip("/") + STATUS_PATH,
            validity_period=settings.twilio_validity_period,
            api_base_url=settings.twilio_api_base_url,
            connections=settings.send_concurrency,
        )
    else:
        channels["sms"] = ConsoleNotifier("sms", settings.console_dir, console_stream)
    if settings.smtp_configured:
        from notifiers.smtp_email import SmtpEmailNotifier

        channels["email"] = SmtpEmailNotifier(
            settings.smtp_host or "", settings.smtp_port, user=settings.smtp_user,
            password=settings.smtp_password, starttls=settings.smtp_starttls,
            sender=settings.smtp_from,
        )
    else:
        channels["email"] = ConsoleNotifier("email", settings.console_dir, console_stream)
    return channels


def public_url_warning(settings: Settings) -> str | None:
    """A warning when SMS goes through Twilio but VERBINDER_PUBLIC_URL is a loopback address:
    links in real SMS and Twilio's webhooks would point at this machine only."""
    if not settings.twilio_configured:
        return None
    host = (urlsplit(settings.public_url).hostname or "").rstrip(".").lower()
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost" or host.endswith(".localhost")
    if not loopback:
        return None
    return (f"warning: Twilio is ingesteld maar VERBINDER_PUBLIC_URL is {settings.public_url}: "
            "links in sms'en en Twilio's webhooks bereiken deze server niet / Twilio is "
            f"configured but VERBINDER_PUBLIC_URL is {settings.public_url}, a loopback address: "
            "links in SMS and Twilio's webhooks cannot reach this server; set it to the public "
            "address")


def stored_secret(engine: Engine) -> str:
    """The development secret key: generated and stored on first run."""
    import sqlalchemy as sa

    from engine.store.bulk import insert_rows
    from engine.store.models import Meta, table_of

    with engine.begin() as conn:
        # Processes started together may each make one: the first stored is everyone's.
        insert_rows(conn, table_of(Meta), [{"key": "secret_key",
                                            "value": secrets.token_urlsafe(32)}],
                    skip_conflicts_on="key")
        return str(conn.execute(sa.select(table_of(Meta).c.value)
                                .where(table_of(Meta).c.key == "secret_key")).scalar_one())


@dataclass
class AppContext:
    """What a command, the web application and the demo are handed: settings, store, clock,
    channels, links and the configured playbook, each built on first use."""

    settings: Settings = field(default_factory=load_settings)
    clock: Clock = field(default_factory=SystemClock)
    db_url: str | None = None
    playbook_path: str | None = None
    channels_override: dict[str, Notifier] | None = None

    @cached_property
    def engine(self) -> Engine:
        """The database engine, migrated to the newest schema on first use."""
        # Each sending thread holds a connection while it sends; the rest is for firing,
        # recording and web requests.
        from engine.store.db import make_engine, migrate

        engine = make_engine(self.db_url or self.settings.database_url,
                             connections=self.settings.send_concurrency + 10)
        migrate(engine)
        return engine

    @cached_property
    def channels(self) -> dict[str, Notifier]:
        """The channels messages go out on; each gets the real links of the masked ones that
        the outbox stores (engine.outreach.reveal)."""
        from engine.outreach.reveal import revealing

        return revealing(self.channels_override or build_channels(self.settings),
                         self.links.secret)

    @cached_property
    def links(self) -> Links:
        """Where links in messages point, signed with the secret key."""
        from engine.links.tokens import Links

        secret = self.settings.secret_key or stored_secret(self.engine)
        return Links(self.settings.public_url, secret,
                     timedelta(days=self.settings.intake_token_days))

    @cached_property
    def totp_key(self) -> bytes:
        """The key that seals staff TOTP secrets at rest, derived from the same secret key."""
        from engine.accounts.sealed import totp_key

        return totp_key(self.links.secret)

    @property
    def fallback(self) -> FallbackHook:
        """What to do when a message fails for good."""
        from engine.outreach.fallback import fall_back

        return partial(fall_back, links=self.links)

    @cached_property
    def dispatch_policy(self) -> DispatchPolicy:
        """Retries, throttling and concurrency of sending."""
        from engine.outreach.policy import DispatchPolicy

        return DispatchPolicy(
            concurrency=self.settings.send_concurrency,
            claim_refresh=timedelta(seconds=self.settings.claim_timeout_seconds) / 4,
        )

    @property
    def playbook_file(self) -> Path:
        """`--playbook`, else the VERBINDER_PLAYBOOK setting, else the shipped default."""
        from engine.playbooks.service import configured_playbook_path

        return configured_playbook_path(option=self.playbook_path, setting=self.settings.playbook)

    def load_playbook(self) -> Playbook:
        """The configured playbook, loaded and validated (InputError lists its problems)."""
        from engine.playbooks.service import load_path

        return load_path(self.playbook_file)

    def session(self) -> Session:
        """A plain session on the store (use engine.store.db.session_scope for transactions)."""
        from sqlmodel import Session

        return Session(self.engine, expire_on_commit=False)


def build_worker(ctx: AppContext, *, name: str | None = None, kind: str = "worker") -> Worker:
    """A worker on the context's store, clock, channels and links, with its settings."""
    from engine.worker import Worker  # the scheduler is loaded only by what runs a worker

    return Worker(
        engine=ctx.engine, clock=ctx.clock, channels=ctx.channels, links=ctx.links,
        fallback=ctx.fallback, policy=ctx.dispatch_policy,
        claim_timeout=timedelta(seconds=ctx.settings.claim_timeout_seconds),
        heartbeat=timedelta(seconds=ctx.settings.worker_heartbeat_seconds),
        name=name, kind=kind, digests=partial(_send_digests, ctx),
    )


def _send_digests(ctx: AppContext, now: datetime, worker: str) -> int:
    """The worker's digest round on the configured playbook (loaded when it is needed)."""
    from engine.peacetime.service import send_digests

    return send_digests(engine=ctx.engine, playbook=ctx.load_playbook(), now=now, worker=worker)
