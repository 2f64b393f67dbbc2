"""initial: help sessions

The outbox and processed-event tables it once created here belong to the platform branch now
(`platform_0001`, on which this revision depends); a database migrated before has them already.

Revision ID: 0001
Revises: 
Create Date: 2026-11-25 21:57:56.710597

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0001'
down_revision: Union[str, Sequence[str], None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = 'platform_0001'


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('help_session',
    sa.Column('session_id', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('service_type', sa.String(length=64), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('customer', sa.JSON(), nullable=False),
    sa.Column('scopes', sa.JSON(), nullable=False),
    sa.Column('consent_id', sa.String(length=64), nullable=True),
    sa.Column('consultant', sa.String(length=200), nullable=True),
    sa.Column('customer_token_sha256', sa.String(length=64), nullable=False),
    sa.Column('session_code', sa.String(length=9), nullable=False),
    sa.Column('live_code', sa.String(length=9), nullable=True),
    sa.Column('code_expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('code_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('request_expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('assigned_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_by', sa.String(length=16), nullable=True),
    sa.Column('end_reason', sa.String(length=64), nullable=True),
    sa.Column('consent_revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('consent_revoke_pending', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('session_id'),
    sa.UniqueConstraint('live_code')
    )
    with op.batch_alter_table('help_session', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_help_session_consent_revoke_pending'), ['consent_revoke_pending'], unique=False)
        batch_op.create_index(batch_op.f('ix_help_session_consultant'), ['consultant'], unique=False)
        batch_op.create_index(batch_op.f('ix_help_session_request_expires_at'), ['request_expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_help_session_requested_at'), ['requested_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_help_session_session_code'), ['session_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_help_session_status'), ['status'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('help_session', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_help_session_status'))
        batch_op.drop_index(batch_op.f('ix_help_session_session_code'))
        batch_op.drop_index(batch_op.f('ix_help_session_requested_at'))
        batch_op.drop_index(batch_op.f('ix_help_session_request_expires_at'))
        batch_op.drop_index(batch_op.f('ix_help_session_consultant'))
        batch_op.drop_index(batch_op.f('ix_help_session_consent_revoke_pending'))

    op.drop_table('help_session')
