"""The CSV exports (docs/finance.md lists the columns): UTF-8 text, amounts as strings, in one of two dialects.

- `rfc4180` (the API's default, unchanged since the first release): comma, `"` quoting, CRLF, no BOM, decimal
  point. What scripts and finance systems read.
- `excel-bg` (the finance pages' downloads): a UTF-8 BOM (so a spreadsheet reads Cyrillic as UTF-8), `;` between
  cells and a decimal comma in amounts, as a spreadsheet in a Bulgarian locale expects (its list separator is `;`,
  and `12.50` would be read there as a date or as text). Still `"` quoting and CRLF.

Three exports: the period (closed records by when they ended: reproducible, no credits), the records a filter
matches (what the finance page shows, with the credits so far), and the credit notes issued in a period.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from assist_platform.envelope import rfc3339

from .ledger import credited_total
from .models import BillingRecord, Credit

DialectName = Literal["rfc4180", "excel-bg"]


@dataclass(frozen=True)
class Dialect:
    delimiter: str
    bom: bool
    decimal: str


DIALECTS: dict[str, Dialect] = {
    "rfc4180": Dialect(delimiter=",", bom=False, decimal="."),
    "excel-bg": Dialect(delimiter=";", bom=True, decimal=","),
}

COLUMNS = (
    "record_id", "session_id", "started_at", "ended_at", "billable_seconds", "service_type", "service_name_bg",
    "service_name_en", "price_list_version", "customer_name", "customer_email", "customer_company", "consultant",
    "ended_by", "units", "unit_seconds", "unit_price", "net", "vat_rate", "vat", "gross", "currency",
)
# The records a filter matches: the period's columns, the status and duration, and the credits so far.
RECORD_COLUMNS = (
    "record_id", "session_id", "status", "started_at", "ended_at", "duration", "billable_seconds", "service_type",
    "service_name_bg", "service_name_en", "price_list_version", "customer_name", "customer_email",
    "customer_company", "consultant", "ended_by", "units", "unit_seconds", "unit_price", "net", "vat_rate", "vat",
    "gross", "credited", "remaining", "credit_notes", "currency",
)
CREDIT_COLUMNS = (
    "number", "issued_at", "credit_id", "record_id", "session_id", "customer_name", "customer_email",
    "customer_company", "service_type", "service_name_bg", "service_name_en", "record_gross", "amount", "net",
    "vat_rate", "vat", "currency", "reason", "issued_by",
)
# A cell starting with one of these is a formula to a spreadsheet; a leading apostrophe keeps it text.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
Names = Mapping[tuple[str, str], Mapping[str, str]]


def _text(value: object) -> str:
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(_FORMULA_START) else text


def duration(seconds: int | None) -> str:
    """h:mm:ss (hours not wrapped at 24): 103 → 0:01:43."""
    if seconds is None:
        return ""
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def _writer(dialect: Dialect) -> tuple[io.StringIO, csv.writer]:
    buffer = io.StringIO()
    if dialect.bom:
        buffer.write("\ufeff")
    return buffer, csv.writer(buffer, delimiter=dialect.delimiter, lineterminator="\r\n")


def _amount(value: str | None, dialect: Dialect) -> str:
    return "" if value is None else value.replace(".", dialect.decimal)


def _number(value: object) -> str:
    return "" if value is None else str(value)


def records_csv(records: Iterable[BillingRecord], *, service_names: Names, dialect: DialectName = "rfc4180") -> str:
    """The period export: `service_names[(price_list_version, code)]` gives the names the record was sold under."""
    chosen = DIALECTS[dialect]
    buffer, writer = _writer(chosen)
    writer.writerow(COLUMNS)
    for record in records:
        names = service_names.get((record.price_list_version, record.service_type), {})
        customer = record.customer or {}
        writer.writerow([
            record.record_id, record.session_id, rfc3339(record.started_at), rfc3339(record.ended_at),
            str(record.billable_seconds), record.service_type, names.get("bg", ""), names.get("en", ""),
            record.price_list_version, _text(customer.get("name")), _text(customer.get("email")),
            _text(customer.get("company")), _text(record.consultant), record.ended_by or "", str(record.units),
            str(record.unit_seconds), _amount(record.unit_price, chosen), _amount(record.net, chosen),
            _amount(record.vat_rate, chosen), _amount(record.vat, chosen), _amount(record.gross, chosen),
            record.currency,
        ])
    return buffer.getvalue()


def matching_records_csv(
    records: Iterable[BillingRecord], credits: Mapping[str, Sequence[Credit]], *, service_names: Names,
    dialect: DialectName = "excel-bg",
) -> str:
    """The records a filter matches, in the page's order, each with what is credited so far and the notes' numbers."""
    chosen = DIALECTS[dialect]
    buffer, writer = _writer(chosen)
    writer.writerow(RECORD_COLUMNS)
    for record in records:
        names = service_names.get((record.price_list_version, record.service_type), {})
        customer = record.customer or {}
        notes = list(credits.get(record.record_id, ()))
        credited = credited_total(notes)
        remaining = f"{Decimal(record.gross) - credited:.2f}" if record.gross is not None else None
        writer.writerow([
            record.record_id, record.session_id, record.status, rfc3339(record.started_at),
            rfc3339(record.ended_at) if record.ended_at else "", duration(record.billable_seconds),
            _number(record.billable_seconds), record.service_type, names.get("bg", ""), names.get("en", ""),
            record.price_list_version, _text(customer.get("name")), _text(customer.get("email")),
            _text(customer.get("company")), _text(record.consultant), record.ended_by or "", _number(record.units),
            str(record.unit_seconds), _amount(record.unit_price, chosen), _amount(record.net, chosen),
            _amount(record.vat_rate, chosen), _amount(record.vat, chosen), _amount(record.gross, chosen),
            _amount(f"{credited:.2f}", chosen), _amount(remaining, chosen),
            " ".join(note.number for note in notes), record.currency,
        ])
    return buffer.getvalue()


def credits_csv(
    credits: Iterable[Credit], records: Mapping[str, BillingRecord], *, service_names: Names,
    dialect: DialectName = "rfc4180",
) -> str:
    """Credit notes, one row each, with the customer and service of the record each one credits."""
    chosen = DIALECTS[dialect]
    buffer, writer = _writer(chosen)
    writer.writerow(CREDIT_COLUMNS)
    for credit in credits:
        record = records[credit.record_id]
        names = service_names.get((record.price_list_version, record.service_type), {})
        customer = record.customer or {}
        writer.writerow([
            credit.number, rfc3339(credit.issued_at), credit.credit_id, credit.record_id, credit.session_id,
            _text(customer.get("name")), _text(customer.get("email")), _text(customer.get("company")),
            record.service_type, names.get("bg", ""), names.get("en", ""), _amount(record.gross, chosen),
            _amount(credit.amount, chosen), _amount(credit.net, chosen), _amount(record.vat_rate, chosen),
            _amount(credit.vat, chosen), credit.currency, _text(credit.reason), _text(credit.issued_by),
        ])
    return buffer.getvalue()
