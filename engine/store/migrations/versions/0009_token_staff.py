"""API tokens may stand for a staff member (a liaison's token sees that liaison's communities)

Revision ID: 0009_token_staff
Revises: 0008_peacetime
Create Date: 2026-12-02
"""
from alembic import op
import sqlalchemy as sa


revision = '0009_token_staff'
down_revision = '0008_peacetime'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('apitoken') as batch:
        batch.add_column(sa.Column('staff_id', sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('apitoken') as batch:
        batch.drop_column('staff_id')
