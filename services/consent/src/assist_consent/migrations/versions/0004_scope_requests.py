"""step-up requests: a consultant asks for more, the customer approves (a grant of its own) or refuses (issue #16)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 23:00:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("consent") as batch:
        batch.add_column(sa.Column("scope_grants", sa.JSON(), nullable=True))
    op.create_table(
        "scope_request",
        sa.Column("request_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("consent_id", sa.String(length=36), nullable=False),
        sa.Column("session_id", sa.String(length=64), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("requested_by", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("requested_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("decided_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("decided_by", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("client_address", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("user_agent", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["consent_id"], ["consent.consent_id"]),
        sa.PrimaryKeyConstraint("request_id"),
    )
    op.create_index("ix_scope_request_consent_id", "scope_request", ["consent_id"])
    op.create_index("ix_scope_request_session_id", "scope_request", ["session_id"])


def downgrade() -> None:
    op.drop_index("ix_scope_request_session_id", table_name="scope_request")
    op.drop_index("ix_scope_request_consent_id", table_name="scope_request")
    op.drop_table("scope_request")
    with op.batch_alter_table("consent") as batch:
        batch.drop_column("scope_grants")
