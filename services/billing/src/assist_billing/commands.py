"""The billing service's commands (docs/commands.md): each registered through its spec in
`assist_contract.billing` (subject, input model), with one thin handler."""

from __future__ import annotations

from datetime import UTC

from assist_contract import billing as contract
from assist_contract.billing import (
    CreditIdInput,
    CreditInput,
    ExportInput,
    ListInput,
    PriceListInput,
    PublishInput,
    RecordIdInput,
    RecordQuery,
    RecordsExportInput,
    SessionReportInput,
)
from assist_contract.spec import command_table
from assist_platform.audit import audit_handler
from assist_platform.commands import refusals_as_problems
from assist_platform.runtime import Command

from .domain import CreditRefused, InvalidCredit, InvalidPriceList
from .ledger import NotFound, RecordFilter
from .price_lists import VersionConflict
from .service import BillingService


def record_filter(query: RecordQuery) -> RecordFilter:
    """The ledger's filter of a records query (`from`/`to`: when the session started).

    It lives with the commands, not in the contract's `RecordQuery`: the query is what any caller may send, the
    filter is how this service's ledger reads it (times in UTC, a blank customer meaning none), and both the
    records and the export command translate through this one function."""
    customer = query.customer.strip() if query.customer else None
    return RecordFilter(
        status=query.status,
        started_from=query.start.astimezone(UTC) if query.start else None,
        started_to=query.end.astimezone(UTC) if query.end else None,
        customer=customer or None,
        service_type=query.service_type,
    )


_STATUS: list[tuple[type[Exception], int, str]] = [
    (InvalidPriceList, 422, "Invalid price list"),
    (InvalidCredit, 422, "Invalid credit"),
    (CreditRefused, 409, "Credit refused"),
    (VersionConflict, 409, "Conflict"),
    (NotFound, 404, "Not found"),
]


# A refusal of the rules leaves as the problem a caller can act on (404, 409, 422), never as a 500; its `code`
# and values go along, so a page says it in its reader's language with the words `problem_<code>`.
_as_problems = refusals_as_problems(_STATUS)


class BillingCommands:
    """The handlers: each translates its input into one call of the service, which owns the transaction."""

    def __init__(self, service: BillingService) -> None:
        self._service = service

    def commands(self) -> list[Command]:
        table = {
            contract.price_list: self.price_list,
            contract.price_list_publish: self.publish_price_list,
            contract.records_list: self.list_records,
            contract.record_get: self.get_record,
            contract.export: self.export,
            contract.records_export: self.export_records,
            contract.credit: self.credit,
            contract.credit_get: self.get_credit,
            contract.credits_export: self.export_credits,
            contract.session_report: self.session_report,
            contract.audit: audit_handler(service="billing", database=self._service.database),
        }
        # Credits are answered in parallel: each waits on its database transaction (the record's row lock and the
        # number's, on PostgreSQL), not on the others' replies.
        return command_table(table, wrap=_as_problems, concurrent={contract.credit})

    async def price_list(self, request: PriceListInput) -> dict:
        return await self._service.price_list(at=request.at.astimezone(UTC) if request.at else None)

    async def publish_price_list(self, request: PublishInput) -> dict:
        return await self._service.publish_price_list(
            document=request.model_dump(exclude={"published_by"}), published_by=request.published_by
        )

    async def list_records(self, request: ListInput) -> dict:
        return await self._service.list_records(
            where=record_filter(request), limit=request.limit, offset=request.offset
        )

    async def get_record(self, request: RecordIdInput) -> dict:
        return await self._service.get_record(record_id=request.record_id)

    async def export(self, request: ExportInput) -> dict:
        return await self._service.export(
            start=request.start.astimezone(UTC), end=request.end.astimezone(UTC), dialect=request.dialect
        )

    async def export_records(self, request: RecordsExportInput) -> dict:
        return await self._service.export_records(where=record_filter(request), dialect=request.dialect)

    async def export_credits(self, request: ExportInput) -> dict:
        return await self._service.export_credits(
            start=request.start.astimezone(UTC), end=request.end.astimezone(UTC), dialect=request.dialect
        )

    async def get_credit(self, request: CreditIdInput) -> dict:
        return await self._service.get_credit(credit_id=request.credit_id)

    async def credit(self, request: CreditInput) -> dict:
        return await self._service.credit(
            record_id=request.record_id, amount=request.amount, reason=request.reason,
            issued_by=request.issued_by, credit_id=request.credit_id,
        )

    async def session_report(self, request: SessionReportInput) -> dict:
        return await self._service.session_report(session_id=request.session_id)
