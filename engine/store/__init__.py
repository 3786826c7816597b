"""The store: SQLModel tables, sessions and Alembic migrations."""
