"""The store migrates on both databases and the migrations match the models."""

from __future__ import annotations

from alembic import command
from sqlalchemy.engine import Engine

from engine.store.db import alembic_config


def test_migrations_match_models(any_engine: Engine) -> None:
    """`alembic check` finds nothing to generate: the models and migrations agree."""
    command.check(alembic_config(any_engine))
