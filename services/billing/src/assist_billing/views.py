"""What commands return: plain JSON-ready dicts built from the rows (times RFC 3339 UTC, money as strings)."""

from __future__ import annotations

from decimal import Decimal

from assist_platform.envelope import rfc3339_or_none

from .domain import money
from .events import credit_fields
from .ledger import credited_total
from .models import BillingRecord, Credit


def _price(record: BillingRecord) -> dict:
    """How a record is priced: units of so many seconds, at least so many, at a price, net, VAT and gross."""
    return {
        "units": record.units,
        "unit_seconds": record.unit_seconds,
        "minimum_units": record.minimum_units,
        "unit_price": record.unit_price,
        "net": record.net,
        "vat_rate": record.vat_rate,
        "vat": record.vat,
        "gross": record.gross,
    }


# A credit note in an answer is what its event says of it.
credit_view = credit_fields


def record_view(record: BillingRecord, credits: list[Credit], *, service_name: dict[str, str] | None = None) -> dict:
    credited = credited_total(credits)
    return {
        "record_id": record.record_id,
        "session_id": record.session_id,
        "status": record.status,
        "service_type": record.service_type,
        "service_name": dict(service_name or {}),  # {bg, en} as in the price list version used
        "customer": record.customer,
        "consultant": record.consultant,
        "price_list_version": record.price_list_version,
        "started_at": rfc3339_or_none(record.started_at),
        "ended_at": rfc3339_or_none(record.ended_at),
        "ended_by": record.ended_by,
        "end_reason": record.end_reason,
        "billable_seconds": record.billable_seconds,
        **_price(record),
        "currency": record.currency,
        "credits": [credit_view(credit) for credit in credits],
        "credited": money(credited),
        "remaining": money(Decimal(record.gross) - credited) if record.gross is not None else None,
        "opened_at": rfc3339_or_none(record.opened_at),
        "closed_at": rfc3339_or_none(record.closed_at),
    }


def session_report(record: BillingRecord, credits: list[Credit], *, service_name: dict[str, str]) -> dict:
    """The customer's account of one session: when, who, how long, and what it costs."""
    return {
        "session_id": record.session_id,
        "status": record.status,
        "service_type": record.service_type,
        "service_name": service_name,
        "consultant": record.consultant,
        "started_at": rfc3339_or_none(record.started_at),
        "ended_at": rfc3339_or_none(record.ended_at),
        "ended_by": record.ended_by,
        "duration_seconds": record.billable_seconds,
        **_price(record),
        "credited": money(credited_total(credits)),
        "currency": record.currency,
        "price_list_version": record.price_list_version,
    }
