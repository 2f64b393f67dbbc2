"""The price list as the customer page shows it: one row per service, its unit, price without and with VAT.

Presentation only: what a session costs is billing's to say (the same rule: max(minimum, started units) × unit
price, VAT on top). Amounts are rounded half up to cents, as billing rounds money.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from assist_contract.billing import PriceList

CENT = Decimal("0.01")


def _decimal(value: Any) -> Decimal | None:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def money_text(value: Decimal, lang: str) -> str:
    """`15.00` in English, `15,00` in Bulgarian (thousands spaced: `1 250,00`)."""
    text = f"{value.quantize(CENT, rounding=ROUND_HALF_UP):,.2f}"
    return text.replace(",", " ").replace(".", ",") if lang == "bg" else text


def amount_text(amount: object, lang: str) -> str:
    """An amount as billing gives it (decimal text, or a Decimal) written as `lang` writes money (`money_text`);
    "—" for none, and text that is no number as it is."""
    if amount is None:
        return "—"
    number = _decimal(amount)
    return money_text(number, lang) if number is not None else str(amount)


def rate_text(rate: Decimal, lang: str) -> str:
    percent = (rate * 100).normalize()
    text = f"{percent:f}"
    return text.replace(".", ",") if lang == "bg" else text


def vat_percent(prices: PriceList, lang: str) -> str:
    """The VAT rate of the price list as a percentage (`20`)."""
    return rate_text(_decimal(prices.vat_rate) or Decimal(0), lang)


def price_rows(prices: PriceList, lang: str) -> list[dict[str, Any]]:
    """One row per service type: label, unit minutes, net and gross price per unit, minimum units and minutes."""
    vat = _decimal(prices.vat_rate) or Decimal(0)
    rows = []
    for service in prices.service_types:
        unit_price = _decimal(service.unit_price)
        unit_minutes = -(-service.unit_seconds // 60)
        rows.append({
            "code": service.code,
            "label": service.name_in(lang),
            "unit_minutes": unit_minutes,
            "net": money_text(unit_price, lang) if unit_price is not None else "—",
            "gross": money_text(unit_price * (1 + vat), lang) if unit_price is not None else "—",
            "minimum_units": service.minimum_units,
            "minimum_minutes": service.minimum_units * unit_minutes,
        })
    return rows
