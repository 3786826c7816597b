"""states: the database refuses an unknown state; a cancelled timer is not fired

Revision ID: 0003_states
Revises: 0002
Create Date: 2027-01-18

CHECK constraints name the states each state column may hold (engine/store/states.py, written
out here: a migration never imports live code). A cancelled timer keeps its cancel time in
`cancelled_at`; `fired_at` is only for fired ones. SQLite cannot add a constraint to a table:
batch mode rebuilds each table (engine.store.db.migrate runs it with foreign key enforcement
off and checks the keys before committing).
"""
from alembic import op
import sqlalchemy as sa


revision = '0003_states'
down_revision = '0002'
branch_labels = None
depends_on = None

STATES = {
    ('message', 'state'): ('pending', 'claimed', 'sending', 'accepted', 'delivered',
                           'failed_temp', 'failed_perm', 'ambiguous', 'cancelled'),
    ('timer', 'state'): ('pending', 'fired', 'cancelled'),
    ('incidentcommunity', 'status'): ('open', 'acknowledged'),
    ('incident', 'status'): ('open', 'closed'),
}


def _allowed(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


def _refuse_unknown() -> None:
    """Name every state no writer may have written, before a constraint refuses it blindly."""
    conn = op.get_bind()
    problems = []
    for (table, column), values in STATES.items():
        found = conn.execute(sa.text(
            f"SELECT DISTINCT {column} FROM {table} WHERE {column} NOT IN ({_allowed(values)})"
        )).scalars().all()
        if found:
            problems.append(f"{table}.{column} holds {sorted(found)}; allowed: {list(values)}")
    if problems:
        raise RuntimeError("migration 0003_states: unknown states: " + "; ".join(problems))


def upgrade() -> None:
    _refuse_unknown()
    with op.batch_alter_table('timer', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE timer SET cancelled_at = fired_at, fired_at = NULL "
               "WHERE state = 'cancelled'")
    for (table, column), values in STATES.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_check_constraint(f'ck_{table}_{column}',
                                             f"{column} IN ({_allowed(values)})")


def downgrade() -> None:
    for table, column in reversed(list(STATES)):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(f'ck_{table}_{column}', type_='check')
    op.execute("UPDATE timer SET fired_at = cancelled_at WHERE state = 'cancelled'")
    with op.batch_alter_table('timer', schema=None) as batch_op:
        batch_op.drop_column('cancelled_at')
