"""Price list versions: the reviewed files bundled in the package, and the versions stored in the database."""

from __future__ import annotations

import logging
from datetime import datetime
from importlib import resources

import yaml
from assist_platform.audit import stage_audit
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from .domain import InvalidPriceList, PriceList, check_publishable, parse_price_list
from .models import PriceListVersion

log = logging.getLogger(__name__)


class VersionConflict(Exception):
    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def bundled_price_lists() -> list[PriceList]:
    """Every `price_lists/*.yaml` of the package, validated like a published version."""
    folder = resources.files("assist_billing") / "price_lists"
    price_lists = []
    for entry in sorted(folder.iterdir(), key=lambda item: item.name):
        if not entry.name.endswith(".yaml"):
            continue
        try:
            price_lists.append(parse_price_list(yaml.safe_load(entry.read_text(encoding="utf-8"))))
        except InvalidPriceList as error:
            raise InvalidPriceList(f"{entry.name}: {error.detail}") from error
    return price_lists


def _from_row(row: PriceListVersion) -> PriceList:
    return parse_price_list(row.document)


async def store_bundled(*, db: AsyncSession, price_lists: list[PriceList]) -> list[str]:
    """Store the bundled versions not stored yet; a stored version wins over an edited file, and says so."""
    stored = {row.version: row for row in (await db.exec(select(PriceListVersion))).all()}
    added = []
    for price_list in price_lists:
        existing = stored.get(price_list.version)
        if existing is None:
            db.add(_row(price_list, source="bundled", published_by=None))
            _audit_stored(db, price_list, source="bundled", published_by=None)
            added.append(price_list.version)
        elif existing.document != price_list.to_document():
            log.warning("price list %s differs from the stored version; the stored one stays", price_list.version)
    return added


def _row(price_list: PriceList, *, source: str, published_by: str | None) -> PriceListVersion:
    return PriceListVersion(
        version=price_list.version,
        effective_from=price_list.effective_from,
        document=price_list.to_document(),
        source=source,
        published_by=published_by,
    )


async def in_force(*, db: AsyncSession, at: datetime) -> PriceList:
    """The version in force at `at`: the newest that took effect by then, or the oldest for earlier times."""
    row = (
        await db.exec(
            select(PriceListVersion)
            .where(PriceListVersion.effective_from <= at)
            .order_by(PriceListVersion.effective_from.desc())
            .limit(1)
        )
    ).first()
    if row is None:
        row = (await db.exec(select(PriceListVersion).order_by(PriceListVersion.effective_from).limit(1))).first()
    if row is None:
        raise LookupError("no price list is stored")
    return _from_row(row)


# Parsed versions by name, each with the document it was parsed from. A stored version is never edited, but a
# process may talk to more than one database (tests do), so a cached parse is used only for the same document.
_PARSED: dict[str, tuple[dict, PriceList]] = {}


async def all_versions(*, db: AsyncSession) -> list[PriceList]:
    """Every stored version. The consumer asks once per batch: documents are read as plain rows and parsed only
    when this process has not parsed the same document before (parsing cost more than the batch's closes)."""
    table = PriceListVersion.__table__
    rows = (await (await db.connection()).execute(select(table.c.version, table.c.document))).all()
    versions = []
    for version, document in rows:
        cached = _PARSED.get(version)
        if cached is None or cached[0] != document:
            cached = _PARSED[version] = (document, parse_price_list(document))
        versions.append(cached[1])
    return versions


async def list_versions(*, db: AsyncSession) -> list[PriceListVersion]:
    return list((await db.exec(select(PriceListVersion).order_by(PriceListVersion.effective_from))).all())


async def publish(*, db: AsyncSession, price_list: PriceList, now: datetime, published_by: str | None) -> bool:
    """Store a new version; False when this very version was published before (a retried command)."""
    existing = await db.get(PriceListVersion, price_list.version)
    if existing is not None:
        if existing.document == price_list.to_document():
            return False
        raise VersionConflict(f"version {price_list.version} exists with other content; choose a new version name")
    check_publishable(price_list, now=now)
    clash = (
        await db.exec(select(PriceListVersion).where(PriceListVersion.effective_from == price_list.effective_from))
    ).first()
    if clash is not None:
        raise VersionConflict(f"version {clash.version} already takes effect at that moment")
    db.add(_row(price_list, source="published", published_by=published_by))
    _audit_stored(db, price_list, source="published", published_by=published_by)
    return True


def _audit_stored(db: AsyncSession, price_list: PriceList, *, source: str, published_by: str | None) -> None:
    """A stored version is the price of every session that starts in it: on the record, in the same transaction."""
    stage_audit(db, action="billing.price_list.stored", actor=published_by or "system", detail={
        "version": price_list.version, "effective_from": price_list.effective_from, "source": source})
