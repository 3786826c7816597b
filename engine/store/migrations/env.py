"""Alembic environment: the connection comes from the caller (engine.store.db.migrate)."""

from alembic import context
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

import engine.store.models  # noqa: F401  (registers the tables, for comparison only)

target_metadata = SQLModel.metadata


def configure(connection: Connection) -> None:
    """Aim the migration context at a connection."""
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )


def run() -> None:
    """Run migrations on the caller's connection, inside the transaction (and the migration
    lock) it holds; else on a connection of its own (an engine or a URL: `alembic check`)."""
    connection = context.config.attributes.get("connection")
    if connection is not None:
        configure(connection)
        context.run_migrations()
        return
    connectable = context.config.attributes.get("engine")
    if connectable is None:
        from sqlalchemy import create_engine

        connectable = create_engine(context.config.get_main_option("sqlalchemy.url"))
    with connectable.connect() as connection:
        configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run()
