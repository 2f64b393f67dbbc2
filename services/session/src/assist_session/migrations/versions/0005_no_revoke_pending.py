"""no consent_revoke_pending: the consent service revokes an expired request's consent from its `session.ended`

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 04:00:00.000000

A flagged row still waiting for its revoke at upgrade time needs nothing here: its `session.ended` (end_reason
`expired`) is in the SESSION stream, and the consent service's new durable consumer reads that stream from its
start.
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0005'
down_revision: Union[str, Sequence[str], None] = '0004'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('help_session') as batch:
        batch.drop_index('ix_help_session_consent_revoke_pending')
        batch.drop_column('consent_revoke_pending')


def downgrade() -> None:
    with op.batch_alter_table('help_session') as batch:
        batch.add_column(sa.Column('consent_revoke_pending', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.create_index('ix_help_session_consent_revoke_pending', ['consent_revoke_pending'], unique=False)
