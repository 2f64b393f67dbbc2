"""The billing service's operations (the application layer): each owns its unit of work. It opens the
transaction (or the read-only session), works through the persistence modules (`ledger`, `price_lists`) and the
rules (`domain`), and answers once committed; the events it staged wake the outbox by that commit.

The records themselves are opened and closed by the SESSION consumer (`consumers.py`, `records.py`), inside the
transaction the platform's idempotent consumer opens.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from assist_platform.db import Database
from assist_platform.envelope import rfc3339, utcnow
from assist_platform.problems import Problem
from assist_platform.retrying import on_conflict
from assist_platform.runtime import ServiceRuntime

from . import ledger, price_lists
from .domain import money, parse_price_list
from .export import COLUMNS, CREDIT_COLUMNS, RECORD_COLUMNS, credits_csv, matching_records_csv, records_csv
from .ledger import RecordFilter
from .settings import Settings
from .views import credit_view, record_view, session_report

# The most records one filtered export holds (the page lists 500; its export takes every match up to this).
RECORDS_EXPORT_LIMIT = 10_000


@dataclass
class BillingService:
    database: Database
    settings: Settings

    @classmethod
    def for_runtime(cls, runtime: ServiceRuntime) -> BillingService:
        return cls(database=runtime.database, settings=runtime.settings)

    async def price_list(self, *, at: datetime | None) -> dict:
        async with self.database.session() as db:
            try:
                return (await price_lists.in_force(db=db, at=at or utcnow())).to_document()
            except LookupError as exc:
                raise Problem(503, "Service unavailable", "No price list is stored yet.") from exc

    async def publish_price_list(self, *, document: dict[str, Any], published_by: str | None) -> dict:
        price_list = parse_price_list(document)
        async with self.database.transaction() as db:
            published = await price_lists.publish(
                db=db, price_list=price_list, now=utcnow(), published_by=published_by
            )
        return {"published": published, "price_list": price_list.to_document()}

    async def list_records(self, *, where: RecordFilter, limit: int, offset: int) -> dict:
        async with self.database.session() as db:
            records, total = await ledger.list_records(db=db, where=where, limit=limit, offset=offset)
            sums = await ledger.sums_of(db=db, where=where)
            credits = await ledger.credits_of(db=db, record_ids=[record.record_id for record in records])
            names = await _service_names(db)
        return {
            "records": [
                record_view(record, credits[record.record_id],
                            service_name=names.get((record.price_list_version, record.service_type)))
                for record in records
            ],
            "total": total,
            "limit": limit,
            "offset": offset,
            "sums": {field: money(amount) for field, amount in sums.items()},
        }

    async def get_record(self, *, record_id: str) -> dict:
        async with self.database.session() as db:
            record = await ledger.get_record(db=db, record_id=record_id)
            credits = await ledger.credits_of(db=db, record_ids=[record.record_id])
            names = await _service_names(db)
        return record_view(record, credits[record.record_id],
                           service_name=names.get((record.price_list_version, record.service_type)))

    async def export(self, *, start: datetime, end: datetime, dialect: str) -> dict:
        async with self.database.session() as db:
            records = await ledger.closed_between(db=db, ended_from=start, ended_to=end)
            names = await _service_names(db)
        text = records_csv(records, service_names=names, dialect=dialect)
        self._fits(text, len(records), "records")
        return {
            "from": rfc3339(start), "to": rfc3339(end), "rows": len(records), "columns": list(COLUMNS),
            "dialect": dialect,
            "filename": f"billing-{start:%Y%m%dT%H%M%SZ}-{end:%Y%m%dT%H%M%SZ}.csv", "csv": text,
        }

    def _fits(self, text: str, rows: int, what: str) -> None:
        if len(text.encode()) > self.settings.billing_export_max_bytes:
            raise Problem(
                413, "Export too large", f"{rows} {what} do not fit one reply; export a shorter period.",
                code="export_too_large",
            )

    async def export_records(self, *, where: RecordFilter, dialect: str) -> dict:
        async with self.database.session() as db:
            records = await ledger.matching_records(db=db, where=where, limit=RECORDS_EXPORT_LIMIT + 1)
            if len(records) > RECORDS_EXPORT_LIMIT:
                raise Problem(
                    413, "Export too large",
                    f"more than {RECORDS_EXPORT_LIMIT} records match; narrow the filter.", code="export_too_large",
                )
            credits = await ledger.credits_of(db=db, record_ids=[record.record_id for record in records])
            names = await _service_names(db)
        text = matching_records_csv(records, credits, service_names=names, dialect=dialect)
        self._fits(text, len(records), "records")
        return {
            "rows": len(records), "columns": list(RECORD_COLUMNS), "dialect": dialect,
            "filename": f"billing-records-{utcnow():%Y%m%dT%H%M%SZ}.csv", "csv": text,
        }

    async def export_credits(self, *, start: datetime, end: datetime, dialect: str) -> dict:
        async with self.database.session() as db:
            credits = await ledger.credits_between(db=db, issued_from=start, issued_to=end)
            records = await ledger.records_of(db=db, record_ids=sorted({credit.record_id for credit in credits}))
            names = await _service_names(db)
        text = credits_csv(credits, records, service_names=names, dialect=dialect)
        self._fits(text, len(credits), "credit notes")
        return {
            "from": rfc3339(start), "to": rfc3339(end), "rows": len(credits), "columns": list(CREDIT_COLUMNS),
            "dialect": dialect,
            "filename": f"credit-notes-{start:%Y%m%dT%H%M%SZ}-{end:%Y%m%dT%H%M%SZ}.csv", "csv": text,
        }

    async def get_credit(self, *, credit_id: str) -> dict:
        """A credit note as printed: the note, the record it credits (customer, session, service, amounts)."""
        async with self.database.session() as db:
            credit, record, credits = await ledger.credit_note(db=db, credit_id=credit_id)
            names = await _service_names(db)
        service_name = dict(names.get((record.price_list_version, record.service_type), {}))
        return {
            "credit": credit_view(credit),
            "record": record_view(record, credits, service_name=service_name),
            "service_name": service_name,
            "vat_rate": record.vat_rate,
            "issuer": self.settings.billing_issuer,
        }

    async def credit(
        self, *, record_id: str, amount: str, reason: str, issued_by: str | None, credit_id: str | None
    ) -> dict:
        # The same credit_id raced in for another record: the second pass finds it and says so.
        async for attempt in on_conflict(attempts=2, when=lambda: credit_id is not None):
            with attempt:
                async with self.database.transaction() as db:
                    issued = await ledger.issue_credit(
                        db=db, record_id=record_id, amount=amount, reason=reason, issued_by=issued_by,
                        credit_id=credit_id,
                    )
        return {
            "credit": credit_view(issued.credit),
            "credited": money(issued.credited_total),
            "remaining": money(issued.remaining),
            "already_issued": issued.already_issued,
        }

    async def session_report(self, *, session_id: str) -> dict:
        async with self.database.session() as db:
            record = await ledger.record_of_session(db=db, session_id=session_id)
            credits = await ledger.credits_of(db=db, record_ids=[record.record_id])
            names = await _service_names(db)
        service_name = dict(names.get((record.price_list_version, record.service_type), {}))
        return session_report(record, credits[record.record_id], service_name=service_name)


async def store_bundled_price_lists(database: Database) -> None:
    """The reviewed price list files of this release, stored before any session is priced (at every start)."""
    bundled = price_lists.bundled_price_lists()
    async for attempt in on_conflict(attempts=3):  # another replica stored them at the same moment
        with attempt:
            async with database.transaction() as db:
                await price_lists.store_bundled(db=db, price_lists=bundled)


async def _service_names(db) -> dict[tuple[str, str], dict[str, str]]:
    """(version, code) → {bg, en}: the names each record was sold under."""
    names: dict[tuple[str, str], dict[str, str]] = {}
    for row in await price_lists.list_versions(db=db):
        for item in row.document.get("service_types", []):
            names[(row.version, item["code"])] = item["name"]
    return names
