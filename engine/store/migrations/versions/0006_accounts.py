"""staff accounts: accounts, enrolment links, recovery codes, web sessions, API tokens

Revision ID: 0006_accounts
Revises: 0005_links
Create Date: 2026-12-10
"""
from alembic import op
import sqlalchemy as sa


revision = '0006_accounts'
down_revision = '0005_links'
branch_labels = None
depends_on = None

ROLES = "role IN ('coordinator', 'liaison', 'oncall', 'viewer')"


def upgrade() -> None:
    op.create_table(
        'account',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('email', sa.String(length=254), nullable=False),
        sa.Column('role', sa.String(length=20), nullable=False),
        sa.Column('staff_id', sa.String(length=200), nullable=True),
        sa.Column('password_hash', sa.String(), nullable=True),
        sa.Column('totp_secret', sa.String(), nullable=True),
        sa.Column('totp_last_step', sa.Integer(), nullable=True),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('enrolled_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('disabled_at', sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(ROLES, name='ck_account_role'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('email'),
    )
    with op.batch_alter_table('account', schema=None) as batch_op:
        batch_op.create_index('ix_account_staff_id', ['staff_id'], unique=False)

    op.create_table(
        'enrolment',
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('account_id', sa.Integer(), nullable=False),
        sa.Column('purpose', sa.String(length=20), nullable=False),
        sa.Column('totp_secret', sa.String(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['account_id'], ['account.id']),
        sa.PrimaryKeyConstraint('token_hash'),
    )
    with op.batch_alter_table('enrolment', schema=None) as batch_op:
        batch_op.create_index('ix_enrolment_account_id', ['account_id'], unique=False)

    op.create_table(
        'recoverycode',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('account_id', sa.Integer(), nullable=False),
        sa.Column('code_hash', sa.String(length=64), nullable=False),
        sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['account_id'], ['account.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('recoverycode', schema=None) as batch_op:
        batch_op.create_index('ix_recoverycode_account_id', ['account_id'], unique=False)

    op.create_table(
        'websession',
        sa.Column('id_hash', sa.String(length=64), nullable=False),
        sa.Column('account_id', sa.Integer(), nullable=False),
        sa.Column('stage', sa.String(length=20), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('seen_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['account_id'], ['account.id']),
        sa.PrimaryKeyConstraint('id_hash'),
    )
    with op.batch_alter_table('websession', schema=None) as batch_op:
        batch_op.create_index('ix_websession_account_id', ['account_id'], unique=False)

    op.create_table(
        'apitoken',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('role', sa.String(length=20), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('created_by', sa.String(length=100), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(ROLES, name='ck_apitoken_role'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('token_hash'),
    )


def downgrade() -> None:
    op.drop_table('apitoken')
    with op.batch_alter_table('websession', schema=None) as batch_op:
        batch_op.drop_index('ix_websession_account_id')
    op.drop_table('websession')
    with op.batch_alter_table('recoverycode', schema=None) as batch_op:
        batch_op.drop_index('ix_recoverycode_account_id')
    op.drop_table('recoverycode')
    with op.batch_alter_table('enrolment', schema=None) as batch_op:
        batch_op.drop_index('ix_enrolment_account_id')
    op.drop_table('enrolment')
    with op.batch_alter_table('account', schema=None) as batch_op:
        batch_op.drop_index('ix_account_staff_id')
    op.drop_table('account')
