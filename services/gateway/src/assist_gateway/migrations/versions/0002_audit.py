"""audit: the append-only, hash-chained audit trail (assist_platform.audit)

The table is the platform branch's now (`platform_0002`, on which this revision depends): this revision, which
created it before that branch existed, keeps its id so that the chain after it stays as it is.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 10:00:00.000000

"""
from typing import Sequence, Union

# revision identifiers, used by Alembic.
revision: str = '0002'
down_revision: Union[str, Sequence[str], None] = '0001'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = 'platform_0002'


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
