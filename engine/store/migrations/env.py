"""Alembic environment: the engine comes from the caller (engine.store.db.migrate)."""

from alembic import context
from sqlmodel import SQLModel

import engine.store.models  # noqa: F401  (registers the tables)

target_metadata = SQLModel.metadata


def run() -> None:
    """Run migrations online against the engine that the caller passed in."""
    connectable = context.config.attributes.get("engine")
    if connectable is None:
        from sqlalchemy import create_engine

        connectable = create_engine(context.config.get_main_option("sqlalchemy.url"))
    with connectable.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run()
