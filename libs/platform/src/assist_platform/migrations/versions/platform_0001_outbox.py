"""platform: the transactional outbox and the processed events of idempotent consumers (assist_platform.outbox)

The first revision of the `platform` branch, which every service's migrations depend on. Until this branch
existed each service created these tables in its own `0001`; a database migrated then already has them, and
Alembic counts this revision as applied there (the service's `0001` depends on it). It creates each table only if
it is absent all the same, so a database in any earlier state reaches the same schema.

Revision ID: platform_0001
Revises:
Create Date: 2026-11-29 04:00:00

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

from assist_platform.migrations import table_absent

revision: str = 'platform_0001'
down_revision: Union[str, Sequence[str], None] = None
branch_labels: Union[str, Sequence[str], None] = ('platform',)
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    if table_absent('outbox_event'):
        op.create_table(
            'outbox_event',
            sa.Column('seq', sa.Integer(), nullable=False),
            sa.Column('event_id', sa.String(length=64), nullable=False),
            sa.Column('subject', sa.String(length=200), nullable=False),
            sa.Column('payload', sa.LargeBinary(), nullable=False),
            sa.Column('headers', sa.Text(), nullable=False),
            sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
            sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
            sa.PrimaryKeyConstraint('seq'),
        )
        with op.batch_alter_table('outbox_event', schema=None) as batch_op:
            batch_op.create_index(batch_op.f('ix_outbox_event_event_id'), ['event_id'], unique=True)
            batch_op.create_index(batch_op.f('ix_outbox_event_sent_at'), ['sent_at'], unique=False)
    if table_absent('processed_event'):
        op.create_table(
            'processed_event',
            sa.Column('consumer', sa.String(length=100), nullable=False),
            sa.Column('event_id', sa.String(length=64), nullable=False),
            sa.Column('processed_at', sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint('consumer', 'event_id'),
        )


def downgrade() -> None:
    op.drop_table('processed_event')
    with op.batch_alter_table('outbox_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_event_sent_at'))
        batch_op.drop_index(batch_op.f('ix_outbox_event_event_id'))
    op.drop_table('outbox_event')
