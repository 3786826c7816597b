"""worker heartbeats; message.ambiguous_at and message.resends for settling ambiguous sends

Revision ID: 0004_workers
Revises: 0003_states
Create Date: 2026-12-01
"""
from alembic import op
import sqlalchemy as sa


revision = '0004_workers'
down_revision = '0003_states'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'worker',
        sa.Column('id', sa.String(length=200), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('seen_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('worker', schema=None) as batch_op:
        batch_op.create_index('ix_worker_seen_at', ['seen_at'], unique=False)
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ambiguous_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('resends', sa.Integer(), server_default='0',
                                      nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.drop_column('resends')
        batch_op.drop_column('ambiguous_at')
    with op.batch_alter_table('worker', schema=None) as batch_op:
        batch_op.drop_index('ix_worker_seen_at')
    op.drop_table('worker')
