"""Billing's own metrics: what closed records billed, by service type (counted after the record commits)."""

from __future__ import annotations

from decimal import Decimal

from assist_platform.db import after_commit
from prometheus_client import Counter
from sqlmodel.ext.asyncio.session import AsyncSession

BILLED_GROSS = Counter("assist_billed_amount", "Gross amount billed by closed records (VAT included)",
                       ["service_type", "currency"])
BILLABLE_SECONDS = Counter("assist_billable_seconds", "Billable seconds of closed records", ["service_type"])
RECORDS_CLOSED = Counter("assist_billing_records_closed", "Billing records closed", ["service_type"])


def count_closed_record(db: AsyncSession, *, service_type: str, currency: str, gross: str, seconds: int) -> None:
    def count() -> None:
        BILLED_GROSS.labels(service_type=service_type, currency=currency).inc(float(Decimal(gross)))
        BILLABLE_SECONDS.labels(service_type=service_type).inc(seconds)
        RECORDS_CLOSED.labels(service_type=service_type).inc()

    after_commit(db, count)
