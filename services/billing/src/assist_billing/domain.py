"""The billing rules (CONTRACT §4), pure: price lists, the charge of a session, credit notes. No FastAPI, NATS or SQL.

Money is `Decimal` throughout and leaves as a string with two places; nothing here ever touches a float.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
# The session service accepts exactly these codes, so every price list must price each of them.
REQUIRED_SERVICE_TYPES = ("consultation", "system_help", "urgent_help")
LANGUAGES = ("bg", "en")

_MONEY = re.compile(r"^\d{1,9}(\.\d{1,2})?$")
_RATE = re.compile(r"^\d(\.\d{1,4})?$")
_CODE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")


class BillingRuleError(ValueError):
    """Input the rules refuse; `detail` says what is wrong in words a caller can act on.

    `code` (and `values`) travel as members of the problem, so a page can say it in its reader's language
    (words `problem_<code>`, placeholders filled from `values`).
    """

    def __init__(self, detail: str, *, code: str | None = None, **values: str) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code
        self.values = values


class InvalidPriceList(BillingRuleError):
    pass


class InvalidCredit(BillingRuleError):
    pass


class CreditRefused(BillingRuleError):
    """A well-formed credit the record's state refuses (still open, or more than is left)."""


@dataclass(frozen=True)
class ServiceType:
    code: str
    name: Mapping[str, str]
    unit_seconds: int
    unit_price: Decimal
    minimum_units: int

    def to_document(self) -> dict:
        return {
            "code": self.code,
            "name": dict(self.name),
            "unit_seconds": self.unit_seconds,
            "unit_price": money(self.unit_price),
            "minimum_units": self.minimum_units,
        }


@dataclass(frozen=True)
class PriceList:
    version: str
    effective_from: datetime
    currency: str
    vat_rate: Decimal
    service_types: tuple[ServiceType, ...] = field(default=())

    def service_type(self, code: str) -> ServiceType | None:
        return next((item for item in self.service_types if item.code == code), None)

    def to_document(self) -> dict:
        """The contract shape, plus when the version took effect."""
        return {
            "version": self.version,
            "effective_from": self.effective_from.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "currency": self.currency,
            "vat_rate": f"{self.vat_rate:f}",
            "service_types": [item.to_document() for item in self.service_types],
        }


# ---- parsing and validating a price list document -------------------------------------------------------------


def _decimal(value: object, *, what: str, pattern: re.Pattern[str], shape: str) -> Decimal:
    # Strings only: a YAML or JSON float (0.1) has already lost the exact value a price must keep.
    if not isinstance(value, str) or not pattern.match(value):
        raise InvalidPriceList(f"{what} must be a decimal string like {shape}, got {value!r}")
    return Decimal(value)


def _int(value: object, *, what: str, minimum: int, maximum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise InvalidPriceList(f"{what} must be a whole number from {minimum} to {maximum}, got {value!r}")
    return value


def _names(value: object, *, what: str) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise InvalidPriceList(f"{what} must name the service in {' and '.join(LANGUAGES)}")
    names = {}
    for lang in LANGUAGES:
        text = value.get(lang)
        if not isinstance(text, str) or not text.strip() or len(text) > 200:
            raise InvalidPriceList(f"{what}.{lang} must be a non-empty text of at most 200 characters")
        names[lang] = text.strip()
    return names


def parse_service_type(document: object, *, index: int) -> ServiceType:
    what = f"service_types[{index}]"
    if not isinstance(document, Mapping):
        raise InvalidPriceList(f"{what} must be an object")
    code = document.get("code")
    if not isinstance(code, str) or not _CODE.match(code):
        raise InvalidPriceList(f"{what}.code must be a lower-case code like 'consultation', got {code!r}")
    return ServiceType(
        code=code,
        name=_names(document.get("name"), what=f"{what}.name"),
        unit_seconds=_int(document.get("unit_seconds"), what=f"{what}.unit_seconds", minimum=1, maximum=86_400),
        unit_price=_decimal(document.get("unit_price"), what=f"{what}.unit_price", pattern=_MONEY, shape="'15.00'"),
        minimum_units=_int(document.get("minimum_units"), what=f"{what}.minimum_units", minimum=0, maximum=1000),
    )


def parse_effective_from(value: object) -> datetime:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as exc:
            raise InvalidPriceList(f"effective_from must be an RFC 3339 time, got {value!r}") from exc
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise InvalidPriceList("effective_from must be an RFC 3339 time with a UTC offset")
    return value.astimezone(UTC)


def parse_price_list(document: object) -> PriceList:
    """A price list from its document (YAML file or publish command); every field is checked."""
    if not isinstance(document, Mapping):
        raise InvalidPriceList("a price list must be an object")
    version = document.get("version")
    if not isinstance(version, str) or not _VERSION.match(version):
        raise InvalidPriceList(f"version must be a short name like '2026-11-01', got {version!r}")
    currency = document.get("currency")
    if not isinstance(currency, str) or not _CURRENCY.match(currency):
        raise InvalidPriceList(f"currency must be an ISO 4217 code like 'EUR', got {currency!r}")
    vat_rate = _decimal(document.get("vat_rate"), what="vat_rate", pattern=_RATE, shape="'0.20'")
    if vat_rate >= 1:
        raise InvalidPriceList("vat_rate must be below 1 (0.20 is 20 %)")
    items = document.get("service_types")
    if not isinstance(items, Sequence) or isinstance(items, str) or not items:
        raise InvalidPriceList("service_types must be a non-empty list")
    service_types = tuple(parse_service_type(item, index=index) for index, item in enumerate(items))
    codes = [item.code for item in service_types]
    if len(set(codes)) != len(codes):
        raise InvalidPriceList("service_types lists a code twice")
    missing = [code for code in REQUIRED_SERVICE_TYPES if code not in codes]
    if missing:
        raise InvalidPriceList(f"service_types must price every service type; missing: {', '.join(missing)}")
    return PriceList(
        version=version,
        effective_from=parse_effective_from(document.get("effective_from")),
        currency=currency,
        vat_rate=vat_rate,
        service_types=service_types,
    )


def check_publishable(price_list: PriceList, *, now: datetime) -> None:
    """A published version takes effect from now on: a price already in force in the past never changes."""
    if price_list.effective_from < now:
        raise InvalidPriceList(
            f"effective_from {price_list.effective_from.isoformat()} is in the past; a new version can only "
            "take effect from now on"
        )


def price_list_in_force(price_lists: Sequence[PriceList], *, at: datetime) -> PriceList:
    """The newest version whose effective time is not after `at`; the oldest one before any took effect."""
    if not price_lists:
        raise LookupError("no price list is stored")
    ordered = sorted(price_lists, key=lambda item: item.effective_from)
    in_force = [item for item in ordered if item.effective_from <= at]
    return in_force[-1] if in_force else ordered[0]


# ---- the charge of a session ------------------------------------------------------------------------------------


def round_half_up(value: Decimal, places: int = 2) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def money(value: Decimal) -> str:
    """A decimal string with two places, as money travels on the wire."""
    return f"{round_half_up(value):f}"


AwayPeriod = tuple[datetime, datetime | None]
"""A period the customer's agent was away (its socket dropped): from, and to (None: it never came back)."""


def billable_seconds(*, started_at: datetime, ended_at: datetime, away: Sequence[AwayPeriod] = ()) -> int:
    """Whole seconds the session was active with the agent connected; a started second counts in full (10.2 s
    bills as 11 s).

    The periods the agent was away are not billed: nobody could use the session then. Only their part inside
    the active span counts, overlapping or repeated periods count once, and a period that never ended (the agent
    was lost) runs to the end, so a session ended as `agent_lost` is billed up to the moment the agent was lost.
    An end before the start (clock skew between hosts) bills nothing beyond the minimum.
    """
    if ended_at <= started_at:
        return 0
    active = ended_at - started_at
    paused = timedelta(0)
    reached = started_at  # the union is measured left to right: time before `reached` is already counted
    for start, end in sorted((max(start, started_at), min(end or ended_at, ended_at)) for start, end in away):
        start = max(start, reached)
        if end > start:
            paused += end - start
            reached = end
    microseconds = (active - paused) // timedelta(microseconds=1)
    return max(0, -(-microseconds // 1_000_000))


@dataclass(frozen=True)
class Charge:
    billable_seconds: int
    units: int
    unit_seconds: int
    unit_price: Decimal
    net: Decimal
    vat_rate: Decimal
    vat: Decimal
    gross: Decimal
    currency: str


def compute_charge(*, service_type: ServiceType, vat_rate: Decimal, currency: str, seconds: int) -> Charge:
    """`units = max(minimum_units, ceil(seconds / unit_seconds))`, `net = units × unit_price`,
    `vat = round_half_up(net × vat_rate, 2)`, `gross = net + vat`."""
    if seconds < 0:
        raise ValueError("billable seconds cannot be negative")
    started_units = -(-seconds // service_type.unit_seconds)
    units = max(service_type.minimum_units, started_units)
    net = round_half_up(units * service_type.unit_price)
    vat = round_half_up(net * vat_rate)
    return Charge(
        billable_seconds=seconds,
        units=units,
        unit_seconds=service_type.unit_seconds,
        unit_price=service_type.unit_price,
        net=net,
        vat_rate=vat_rate,
        vat=vat,
        gross=net + vat,
        currency=currency,
    )


# ---- credit notes -----------------------------------------------------------------------------------------------


REASON_MIN_CHARS = 3
REASON_MAX_CHARS = 500
CREDIT_NUMBER_PREFIX = "CN"


def parse_credit_amount(value: str) -> Decimal:
    if not isinstance(value, str) or not _MONEY.match(value):
        raise InvalidCredit(
            f"amount must be a decimal string with at most two places, like '10.00'; got {value!r}",
            code="credit_amount_invalid",
        )
    amount = Decimal(value)
    if amount <= 0:
        raise InvalidCredit("amount must be more than 0.00", code="credit_amount_not_positive")
    return amount


def check_reason(reason: str) -> str:
    """The reason printed on the credit note: 3 to 500 characters once trimmed."""
    text = reason.strip()
    if len(text) < REASON_MIN_CHARS:
        raise InvalidCredit(
            f"reason must be at least {REASON_MIN_CHARS} characters", code="credit_reason_too_short",
            min=str(REASON_MIN_CHARS),
        )
    if len(text) > REASON_MAX_CHARS:
        raise InvalidCredit(
            f"reason must be at most {REASON_MAX_CHARS} characters", code="credit_reason_too_long",
            max=str(REASON_MAX_CHARS),
        )
    return text


def check_credit(*, amount: Decimal, gross: Decimal, already_credited: Decimal) -> Decimal:
    """The amount left uncredited after this credit; refuses a credit above what is left."""
    remaining = gross - already_credited
    if amount > remaining:
        raise CreditRefused(
            f"amount {money(amount)} is more than the {money(remaining)} left uncredited",
            code="credit_over_remaining", amount=money(amount), remaining=money(remaining),
        )
    return remaining - amount


def credit_number(year: int, sequence: int) -> str:
    """`CN-2026-000001`: the year it was issued (UTC) and its place in that year, from 1, without gaps."""
    return f"{CREDIT_NUMBER_PREFIX}-{year:04d}-{sequence:06d}"


def split_gross(amount: Decimal, *, vat_rate: Decimal) -> tuple[Decimal, Decimal]:
    """(net, vat) inside a gross amount, so a credit note states the VAT it corrects."""
    vat = round_half_up(amount * vat_rate / (1 + vat_rate))
    return amount - vat, vat
