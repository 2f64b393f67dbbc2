"""agent resume: the hash of the token with which an agent comes back after a network drop

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 23:00:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0003'
down_revision: Union[str, Sequence[str], None] = '0002'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('help_session') as batch:
        batch.add_column(sa.Column('agent_resume_sha256', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('help_session') as batch:
        batch.drop_column('agent_resume_sha256')
