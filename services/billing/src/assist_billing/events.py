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
    return RECORD_OPENED.from_fields(source=SOURCE, subject=record["session_id"], fields=record)


def record_closed_event(record: Mapping[str, Any]) -> CloudEvent:
    return RECORD_CLOSED.from_fields(source=SOURCE, subject=record["session_id"], fields=record)


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
