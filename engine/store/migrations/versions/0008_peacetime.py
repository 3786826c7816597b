"""peace time: contact log, agreements, liaison history, digest claims

Revision ID: 0008_peacetime
Revises: 0007_audit
Create Date: 2026-12-02
"""
from alembic import op
import sqlalchemy as sa


revision = '0008_peacetime'
down_revision = '0007_audit'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'contactlog',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('staff_id', sa.String(length=200), nullable=False),
        sa.Column('place', sa.String(length=200), nullable=True),
        sa.Column('neutral_ground', sa.Boolean(), nullable=False),
        sa.Column('note_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('created_by', sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('contactlog', schema=None) as batch_op:
        batch_op.create_index('ix_contactlog_at', ['at'], unique=False)
        batch_op.create_index('ix_contactlog_staff_id', ['staff_id'], unique=False)
    op.create_table(
        'contactlogcommunity',
        sa.Column('log_id', sa.Integer(), nullable=False),
        sa.Column('community_id', sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(['log_id'], ['contactlog.id']),
        sa.PrimaryKeyConstraint('log_id', 'community_id'),
    )
    with op.batch_alter_table('contactlogcommunity', schema=None) as batch_op:
        batch_op.create_index('ix_contactlogcommunity_community_id', ['community_id'],
                              unique=False)
    op.create_table(
        'contactlogperson',
        sa.Column('log_id', sa.Integer(), nullable=False),
        sa.Column('contact_id', sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(['log_id'], ['contactlog.id']),
        sa.PrimaryKeyConstraint('log_id', 'contact_id'),
    )
    with op.batch_alter_table('contactlogperson', schema=None) as batch_op:
        batch_op.create_index('ix_contactlogperson_contact_id', ['contact_id'], unique=False)
    op.create_table(
        'agreement',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('community_id', sa.String(length=200), nullable=False),
        sa.Column('text', sa.String(length=500), nullable=False),
        sa.Column('due', sa.Date(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('created_by', sa.String(length=200), nullable=False),
        sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('done_by', sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('agreement', schema=None) as batch_op:
        batch_op.create_index('ix_agreement_community_id', ['community_id'], unique=False)
    op.create_table(
        'liaisonchange',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('community_id', sa.String(length=200), nullable=False),
        sa.Column('liaison_id', sa.String(length=200), nullable=True),
        sa.Column('previous_id', sa.String(length=200), nullable=True),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('source', sa.String(length=20), nullable=False),
        sa.Column('actor', sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('liaisonchange', schema=None) as batch_op:
        batch_op.create_index('ix_liaisonchange_community_id', ['community_id'], unique=False)
    op.create_table(
        'peacetimedigest',
        sa.Column('liaison_id', sa.String(length=200), nullable=False),
        sa.Column('period', sa.String(length=20), nullable=False),
        sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('claimed_by', sa.String(length=200), nullable=False),
        sa.Column('message_id', sa.Integer(), nullable=True),
        sa.Column('communities', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('liaison_id', 'period'),
    )


def downgrade() -> None:
    op.drop_table('peacetimedigest')
    with op.batch_alter_table('liaisonchange', schema=None) as batch_op:
        batch_op.drop_index('ix_liaisonchange_community_id')
    op.drop_table('liaisonchange')
    with op.batch_alter_table('agreement', schema=None) as batch_op:
        batch_op.drop_index('ix_agreement_community_id')
    op.drop_table('agreement')
    with op.batch_alter_table('contactlogperson', schema=None) as batch_op:
        batch_op.drop_index('ix_contactlogperson_contact_id')
    op.drop_table('contactlogperson')
    with op.batch_alter_table('contactlogcommunity', schema=None) as batch_op:
        batch_op.drop_index('ix_contactlogcommunity_community_id')
    op.drop_table('contactlogcommunity')
    with op.batch_alter_table('contactlog', schema=None) as batch_op:
        batch_op.drop_index('ix_contactlog_staff_id')
        batch_op.drop_index('ix_contactlog_at')
    op.drop_table('contactlog')
