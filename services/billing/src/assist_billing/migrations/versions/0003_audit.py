"""audit: billing keeps the platform's hash-chained audit trail too (the table comes from `platform_0002`)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 04:00:00

"""
from typing import Sequence, Union

revision: str = '0003'
down_revision: Union[str, Sequence[str], None] = '0002'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = 'platform_0002'


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
