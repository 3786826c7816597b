"""The composition root: builds the store, notifiers, clock and scheduler from settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from sqlalchemy.engine import Engine

from config.settings import Settings, load_settings
from engine.clock import Clock, SystemClock
from engine.store.db import make_engine, migrate


@dataclass
class AppContext:
    """What every command, worker and web request is handed: settings, store and clock."""

    settings: Settings = field(default_factory=load_settings)
    clock: Clock = field(default_factory=SystemClock)
    db_url: str | None = None
    playbook_path: str | None = None

    @cached_property
    def engine(self) -> Engine:
        """The database engine, migrated to the newest schema on first use."""
        engine = make_engine(self.db_url or self.settings.database_url)
        migrate(engine)
        return engine
