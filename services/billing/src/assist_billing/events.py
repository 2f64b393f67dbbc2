"""The events billing publishes on BILLING (CONTRACT §4, docs/finance.md; their types and payload models are
`assist_contract.billing`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from assist_contract.billing import RECORD_CLOSED, RECORD_CREDITED, RECORD_OPENED
from assist_platform.envelope import CloudEvent, rfc3339_or_none

from .models import Credit

SOURCE = "assist/billing"


def record_opened_event(record: Mapping[str, Any]) -> CloudEvent:
    return RECORD_OPENED.new(
        source=SOURCE,
        subject=record["session_id"],
        data={
            "record_id": record["record_id"],
            "session_id": record["session_id"],
            "service_type": record["service_type"],
            "price_list_version": record["price_list_version"],
            "started_at": rfc3339_or_none(record["started_at"]),
        },
    )


def record_closed_event(record: Mapping[str, Any]) -> CloudEvent:
    return RECORD_CLOSED.new(
        source=SOURCE,
        subject=record["session_id"],
        data={
            "record_id": record["record_id"],
            "session_id": record["session_id"],
            "customer": record["customer"],
            "consultant": record["consultant"],
            "service_type": record["service_type"],
            "price_list_version": record["price_list_version"],
            "started_at": rfc3339_or_none(record["started_at"]),
            "ended_at": rfc3339_or_none(record["ended_at"]),
            "ended_by": record["ended_by"],
            "end_reason": record["end_reason"],
            "billable_seconds": record["billable_seconds"],
            "units": record["units"],
            "unit_seconds": record["unit_seconds"],
            "unit_price": record["unit_price"],
            "net": record["net"],
            "vat_rate": record["vat_rate"],
            "vat": record["vat"],
            "gross": record["gross"],
            "currency": record["currency"],
        },
    )


def credit_fields(credit: Credit) -> dict[str, Any]:
    """A credit note as `billing.record.credited` and the commands' answers (views.py) both show it."""
    return {
        "credit_id": credit.credit_id,
        "number": credit.number,
        "record_id": credit.record_id,
        "session_id": credit.session_id,
        "amount": credit.amount,
        "net": credit.net,
        "vat": credit.vat,
        "currency": credit.currency,
        "reason": credit.reason,
        "issued_by": credit.issued_by,
        "credited_at": rfc3339_or_none(credit.issued_at),
    }


def record_credited_event(credit: Credit, *, credited_total: str, remaining: str) -> CloudEvent:
    return RECORD_CREDITED.new(
        source=SOURCE,
        subject=credit.session_id,
        data={**credit_fields(credit), "credited_total": credited_total, "remaining": remaining},
    )
