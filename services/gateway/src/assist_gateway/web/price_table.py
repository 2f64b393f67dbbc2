"""The price list as the customer page shows it: one row per service, its unit, price without and with VAT.

Presentation only: what a session costs is billing's to say (the same rule: max(minimum, started units) × unit
price, VAT on top). Amounts are rounded half up to cents, as billing rounds money.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

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


def rate_text(rate: Decimal, lang: str) -> str:
    percent = (rate * 100).normalize()
    text = f"{percent:f}"
    return text.replace(".", ",") if lang == "bg" else text


def vat_percent(prices: dict[str, Any], lang: str) -> str:
    """The VAT rate of the price list as a percentage (`20`)."""
    return rate_text(_decimal(prices.get("vat_rate")) or Decimal(0), lang)


def service_label(service: dict[str, Any], lang: str) -> str:
    names = service.get("name")
    if isinstance(names, dict):
        return str(names.get(lang) or next(iter(names.values()), ""))
    return str(names or service.get("code", ""))


def price_rows(prices: dict[str, Any], lang: str) -> list[dict[str, Any]]:
    """One row per service type: label, unit minutes, net and gross price per unit, minimum units and minutes."""
    vat = _decimal(prices.get("vat_rate")) or Decimal(0)
    rows = []
    for service in prices.get("service_types", []):
        unit_price = _decimal(service.get("unit_price"))
        unit_seconds = int(service.get("unit_seconds") or 0)
        minimum = int(service.get("minimum_units") or 0)
        unit_minutes = -(-unit_seconds // 60)
        rows.append({
            "code": service.get("code", ""),
            "label": service_label(service, lang),
            "unit_minutes": unit_minutes,
            "net": money_text(unit_price, lang) if unit_price is not None else "—",
            "gross": money_text(unit_price * (1 + vat), lang) if unit_price is not None else "—",
            "minimum_units": minimum,
            "minimum_minutes": minimum * unit_minutes,
        })
    return rows
