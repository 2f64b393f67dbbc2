"""no pending_revocation: a terminate that cannot reach consent is a `gateway.terminate_requested` in the outbox

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 04:00:00.000000

Revocations still queued at upgrade time are not lost: each becomes that event, in the outbox, with the time it
was asked for (the consent service consumes it idempotently).
"""
import json
import uuid
from datetime import UTC, datetime
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel


# revision identifiers, used by Alembic.
revision: str = '0003'
down_revision: Union[str, Sequence[str], None] = '0002'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def _rfc3339(moment: datetime) -> str:
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _terminate_requested(row, now: datetime) -> dict:
    event_id = str(uuid.uuid4())
    requested_at = row.requested_at
    if isinstance(requested_at, str):
        requested_at = datetime.fromisoformat(requested_at)
    event = {
        "specversion": "1.0", "id": event_id, "source": "assist/gateway", "type": "gateway.terminate_requested",
        "subject": row.session_id, "time": _rfc3339(now), "datacontenttype": "application/json",
        "data": {"session_id": row.session_id, "ended_by": row.ended_by, "reason": row.reason,
                 "requested_at": _rfc3339(requested_at)},
    }
    return {"event_id": event_id, "subject": "gateway.terminate_requested",
            "payload": json.dumps(event, separators=(",", ":")).encode(),
            "headers": json.dumps({"Nats-Msg-Id": event_id}), "created_at": now, "sent_at": None}


def upgrade() -> None:
    connection = op.get_bind()
    pending = connection.execute(
        sa.text("SELECT session_id, reason, ended_by, requested_at FROM pending_revocation")
    ).all()
    if pending:
        outbox = sa.table(
            "outbox_event", sa.column("event_id"), sa.column("subject"), sa.column("payload", sa.LargeBinary),
            sa.column("headers"), sa.column("created_at", sqlmodel.sql.sqltypes.UTCDateTime()), sa.column("sent_at"),
        )
        now = datetime.now(UTC)
        op.bulk_insert(outbox, [_terminate_requested(row, now) for row in pending])
    op.drop_table("pending_revocation")


def downgrade() -> None:
    op.create_table(
        "pending_revocation",
        sa.Column("session_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("ended_by", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("requested_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.PrimaryKeyConstraint("session_id"),
    )
