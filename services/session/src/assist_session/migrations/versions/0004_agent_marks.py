"""agent marks: when the gateway saw the agent's socket drop and come back (fair billing, issue #13)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 22:00:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0004'
down_revision: Union[str, Sequence[str], None] = '0003'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('help_session') as batch:
        batch.add_column(sa.Column('agent_marks', sa.JSON(), nullable=False, server_default='[]'))


def downgrade() -> None:
    with op.batch_alter_table('help_session') as batch:
        batch.drop_column('agent_marks')
