"""initial: price list versions, billing records, credits

The outbox and processed-event tables it once created here belong to the platform branch now
(`platform_0001`, on which this revision depends); a database migrated before has them already.

Revision ID: 0001
Revises: 
Create Date: 2026-11-25 22:01:23.921468

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0001'
down_revision: Union[str, Sequence[str], None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = 'platform_0001'


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('billing_record',
    sa.Column('record_id', sa.String(length=64), nullable=False),
    sa.Column('session_id', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('service_type', sa.String(length=64), nullable=False),
    sa.Column('customer', sa.JSON(), nullable=False),
    sa.Column('customer_search', sa.Text(), nullable=False),
    sa.Column('consultant', sa.String(length=200), nullable=True),
    sa.Column('price_list_version', sa.String(length=64), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_by', sa.String(length=16), nullable=True),
    sa.Column('end_reason', sa.String(length=64), nullable=True),
    sa.Column('billable_seconds', sa.Integer(), nullable=True),
    sa.Column('units', sa.Integer(), nullable=True),
    sa.Column('unit_seconds', sa.Integer(), nullable=False),
    sa.Column('minimum_units', sa.Integer(), nullable=False),
    sa.Column('unit_price', sa.String(length=32), nullable=False),
    sa.Column('vat_rate', sa.String(length=32), nullable=False),
    sa.Column('net', sa.String(length=32), nullable=True),
    sa.Column('vat', sa.String(length=32), nullable=True),
    sa.Column('gross', sa.String(length=32), nullable=True),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('record_id'),
    sa.UniqueConstraint('session_id')
    )
    with op.batch_alter_table('billing_record', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_billing_record_ended_at'), ['ended_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_billing_record_service_type'), ['service_type'], unique=False)
        batch_op.create_index(batch_op.f('ix_billing_record_started_at'), ['started_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_billing_record_status'), ['status'], unique=False)

    op.create_table('price_list_version',
    sa.Column('version', sa.String(length=64), nullable=False),
    sa.Column('effective_from', sa.DateTime(timezone=True), nullable=False),
    sa.Column('document', sa.JSON(), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('published_by', sa.String(length=200), nullable=True),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('version')
    )
    with op.batch_alter_table('price_list_version', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_price_list_version_effective_from'), ['effective_from'], unique=True)

    op.create_table('billing_credit',
    sa.Column('credit_id', sa.String(length=64), nullable=False),
    sa.Column('record_id', sa.String(length=64), nullable=False),
    sa.Column('session_id', sa.String(length=64), nullable=False),
    sa.Column('amount', sa.String(length=32), nullable=False),
    sa.Column('net', sa.String(length=32), nullable=False),
    sa.Column('vat', sa.String(length=32), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('issued_by', sa.String(length=200), nullable=True),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['record_id'], ['billing_record.record_id'], ),
    sa.PrimaryKeyConstraint('credit_id')
    )
    with op.batch_alter_table('billing_credit', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_billing_credit_record_id'), ['record_id'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('billing_credit', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_billing_credit_record_id'))

    op.drop_table('billing_credit')
    with op.batch_alter_table('price_list_version', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_price_list_version_effective_from'))

    op.drop_table('price_list_version')
    with op.batch_alter_table('billing_record', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_billing_record_status'))
        batch_op.drop_index(batch_op.f('ix_billing_record_started_at'))
        batch_op.drop_index(batch_op.f('ix_billing_record_service_type'))
        batch_op.drop_index(batch_op.f('ix_billing_record_ended_at'))

    op.drop_table('billing_record')
