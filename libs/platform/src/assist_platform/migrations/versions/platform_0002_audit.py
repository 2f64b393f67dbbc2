"""platform: the append-only, hash-chained audit trail (assist_platform.audit)

Consent, session and gateway created this table in their own `0002_audit` before this branch existed (those now
depend on this revision, so Alembic counts it as applied there); billing had none and gets it here. The table is
created only if it is absent.

Revision ID: platform_0002
Revises: platform_0001
Create Date: 2026-11-29 04:00:00

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

from assist_platform.migrations import table_absent

revision: str = 'platform_0002'
down_revision: Union[str, Sequence[str], None] = 'platform_0001'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    if not table_absent('audit_entry'):
        return
    op.create_table(
        'audit_entry',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('action', sa.String(length=64), nullable=False),
        sa.Column('actor', sa.String(length=200), nullable=False),
        sa.Column('session_id', sa.String(length=64), nullable=True),
        sa.Column('client_address', sa.String(length=100), nullable=True),
        sa.Column('detail', sa.JSON(), nullable=False),
        sa.Column('prev_hash', sa.String(length=64), nullable=False),
        sa.Column('hash', sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('hash'),
    )
    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_entry_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_entry_session_id'), ['session_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_entry_session_id'))
        batch_op.drop_index(batch_op.f('ix_audit_entry_at'))
    op.drop_table('audit_entry')
