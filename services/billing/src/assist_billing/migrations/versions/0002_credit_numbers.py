"""credit note numbers: `billing_credit.number` (CN-<year>-<6 digits>) and the per-year sequence

Existing credits get their numbers in issue order (issued_at, then credit_id), each in the year (UTC) it was issued;
the sequence table then holds the last number given in each year, so new credits continue without a gap.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 00:30:00

"""
from datetime import UTC
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = '0002'
down_revision: Union[str, Sequence[str], None] = '0001'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        'billing_credit_sequence',
        sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('last', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('year'),
    )
    with op.batch_alter_table('billing_credit', schema=None) as batch_op:
        batch_op.add_column(sa.Column('number', sa.String(length=32), nullable=True))

    credits = sa.table(
        'billing_credit',
        sa.column('credit_id', sa.String()),
        sa.column('issued_at', sa.DateTime(timezone=True)),
        sa.column('number', sa.String()),
    )
    sequence = sa.table('billing_credit_sequence', sa.column('year', sa.Integer()), sa.column('last', sa.Integer()))
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(credits.c.credit_id, credits.c.issued_at).order_by(credits.c.issued_at, credits.c.credit_id)
    ).all()
    last: dict[int, int] = {}
    for credit_id, issued_at in rows:
        # SQLite gives the stored UTC time back naive; PostgreSQL an aware time in the session's zone.
        year = (issued_at.astimezone(UTC) if issued_at.tzinfo else issued_at).year
        last[year] = last.get(year, 0) + 1
        bind.execute(
            credits.update()
            .where(credits.c.credit_id == credit_id)
            .values(number=f"CN-{year:04d}-{last[year]:06d}")
        )
    for year, value in last.items():
        bind.execute(sequence.insert().values(year=year, last=value))

    with op.batch_alter_table('billing_credit', schema=None) as batch_op:
        batch_op.alter_column('number', existing_type=sa.String(length=32), nullable=False)
        batch_op.create_unique_constraint('uq_billing_credit_number', ['number'])


def downgrade() -> None:
    with op.batch_alter_table('billing_credit', schema=None) as batch_op:
        batch_op.drop_constraint('uq_billing_credit_number', type_='unique')
        batch_op.drop_column('number')
    op.drop_table('billing_credit_sequence')
