"""The CSV export of closed records (docs/finance.md lists the columns): UTF-8 text, RFC 4180, amounts as strings."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping

from assist_platform.envelope import rfc3339

from .models import BillingRecord

COLUMNS = (
    "record_id", "session_id", "started_at", "ended_at", "billable_seconds", "service_type", "service_name_bg",
    "service_name_en", "price_list_version", "customer_name", "customer_email", "customer_company", "consultant",
    "ended_by", "units", "unit_seconds", "unit_price", "net", "vat_rate", "vat", "gross", "currency",
)
# A cell starting with one of these is a formula to a spreadsheet; a leading apostrophe keeps it text.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _text(value: object) -> str:
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(_FORMULA_START) else text


def _row(record: BillingRecord, names: Mapping[str, str]) -> list[str]:
    customer = record.customer or {}
    return [
        record.record_id, record.session_id, rfc3339(record.started_at), rfc3339(record.ended_at),
        str(record.billable_seconds), record.service_type, names.get("bg", ""), names.get("en", ""),
        record.price_list_version, _text(customer.get("name")), _text(customer.get("email")),
        _text(customer.get("company")), _text(record.consultant), record.ended_by or "", str(record.units),
        str(record.unit_seconds), record.unit_price, record.net, record.vat_rate, record.vat, record.gross,
        record.currency,
    ]


def records_csv(records: Iterable[BillingRecord], *, service_names: Mapping[tuple[str, str], Mapping[str, str]]) -> str:
    """`service_names[(price_list_version, code)]` gives the names the record was sold under."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for record in records:
        writer.writerow(_row(record, service_names.get((record.price_list_version, record.service_type), {})))
    return buffer.getvalue()
