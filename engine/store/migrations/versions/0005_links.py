"""intakeanswer.link: one current answer per intake link and community

Revision ID: 0005_links
Revises: 0004_workers
Create Date: 2026-12-01
"""
from alembic import op
import sqlalchemy as sa


revision = '0005_links'
down_revision = '0004_workers'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The token hash of the web link an answer came through (NULL for SMS answers): a later
    # answer through the same link replaces the earlier one instead of adding a row.
    with op.batch_alter_table('intakeanswer', schema=None) as batch_op:
        batch_op.add_column(sa.Column('link', sa.String(length=64), nullable=True))
        batch_op.create_index('uq_intakeanswer_link', ['link', 'community_id'], unique=True)


def downgrade() -> None:
    with op.batch_alter_table('intakeanswer', schema=None) as batch_op:
        batch_op.drop_index('uq_intakeanswer_link')
        batch_op.drop_column('link')
