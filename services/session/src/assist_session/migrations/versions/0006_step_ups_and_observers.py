"""scope_request and observers: the latest step-up request of a session and its answer (consent's events), and
who watches it (the gateway's observer events) (issue #16)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 23:10:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("help_session") as batch:
        batch.add_column(sa.Column("scope_request", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("observers", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("help_session") as batch:
        batch.drop_column("observers")
        batch.drop_column("scope_request")
