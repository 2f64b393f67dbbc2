"""The pricing rule of CONTRACT §4, edge by edge, and the price list and credit rules."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from assist_billing.domain import (
    CreditRefused,
    InvalidCredit,
    InvalidPriceList,
    ServiceType,
    billable_seconds,
    check_credit,
    check_publishable,
    compute_charge,
    money,
    parse_credit_amount,
    parse_price_list,
    price_list_in_force,
    round_half_up,
    split_gross,
)
from assist_billing.price_lists import bundled_price_lists
from hypothesis import given
from hypothesis import strategies as st

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
CONSULTATION = ServiceType(
    code="consultation", name={"bg": "Консултация", "en": "Consultation"}, unit_seconds=900,
    unit_price=Decimal("15.00"), minimum_units=1,
)
TWENTY_PERCENT = Decimal("0.20")


def charge(seconds: int, service_type: ServiceType = CONSULTATION, vat_rate: Decimal = TWENTY_PERCENT):
    return compute_charge(service_type=service_type, vat_rate=vat_rate, currency="EUR", seconds=seconds)


def document(**overrides) -> dict:
    base = bundled_price_lists()[0].to_document()
    base.update(overrides)
    return copy.deepcopy(base)


# ---- billable seconds -------------------------------------------------------------------------------------------


def test_whole_seconds_are_counted_as_they_are():
    assert billable_seconds(started_at=T0, ended_at=T0 + timedelta(seconds=900)) == 900


def test_a_started_second_counts_in_full():
    assert billable_seconds(started_at=T0, ended_at=T0 + timedelta(seconds=900, microseconds=1)) == 901
    assert billable_seconds(started_at=T0, ended_at=T0 + timedelta(microseconds=200_000)) == 1


def test_zero_length_and_clock_skew_bill_zero_seconds():
    assert billable_seconds(started_at=T0, ended_at=T0) == 0
    assert billable_seconds(started_at=T0, ended_at=T0 - timedelta(seconds=3)) == 0


def test_offsets_do_not_change_the_duration():
    sofia = T0.astimezone(datetime.now().astimezone().tzinfo)
    assert billable_seconds(started_at=sofia, ended_at=T0 + timedelta(seconds=61)) == 61


# ---- units and money --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "units"),
    [(0, 1), (1, 1), (899, 1), (900, 1), (901, 2), (1800, 2), (1801, 3), (9000, 10)],
)
def test_units_are_started_units_but_never_fewer_than_the_minimum(seconds, units):
    assert charge(seconds).units == units


def test_minimum_units_apply_to_a_short_session():
    system_help = ServiceType(code="system_help", name={}, unit_seconds=900, unit_price=Decimal("22.50"), minimum_units=2)
    assert charge(1, system_help).units == 2
    assert charge(1800, system_help).units == 2
    assert charge(1801, system_help).units == 3


def test_zero_minimum_bills_nothing_for_zero_seconds_and_one_unit_for_one_second():
    free_start = ServiceType(code="x", name={}, unit_seconds=60, unit_price=Decimal("1.00"), minimum_units=0)
    assert charge(0, free_start).gross == Decimal("0.00")
    assert charge(1, free_start).units == 1


def test_one_consultation_unit_costs_fifteen_plus_three_vat():
    result = charge(600)
    assert (result.net, result.vat, result.gross) == (Decimal("15.00"), Decimal("3.00"), Decimal("18.00"))
    assert money(result.gross) == "18.00"


def test_vat_rounds_half_up_to_the_cent():
    odd = ServiceType(code="x", name={}, unit_seconds=60, unit_price=Decimal("0.05"), minimum_units=1)
    result = charge(60, odd, vat_rate=Decimal("0.10"))  # 0.005 of VAT: half a cent goes up
    assert result.vat == Decimal("0.01")
    assert result.gross == Decimal("0.06")
    just_below = charge(60, ServiceType(code="x", name={}, unit_seconds=60, unit_price=Decimal("0.04"), minimum_units=1),
                        vat_rate=Decimal("0.10"))
    assert just_below.vat == Decimal("0.00")


def test_round_half_up_is_not_bankers_rounding():
    assert round_half_up(Decimal("0.125")) == Decimal("0.13")
    assert round_half_up(Decimal("0.135")) == Decimal("0.14")
    assert round_half_up(Decimal("2.5"), 0) == Decimal("3")


prices = st.decimals(min_value=Decimal("0.00"), max_value=Decimal("100000.00"), places=2)
rates = st.decimals(min_value=Decimal("0.0000"), max_value=Decimal("0.9999"), places=4)


@given(
    seconds=st.integers(min_value=0, max_value=10 * 86_400),
    unit_seconds=st.integers(min_value=1, max_value=86_400),
    minimum=st.integers(min_value=0, max_value=50),
    price=prices,
    rate=rates,
)
def test_the_charge_follows_the_contract_formula(seconds, unit_seconds, minimum, price, rate):
    service_type = ServiceType(code="x", name={}, unit_seconds=unit_seconds, unit_price=price, minimum_units=minimum)
    result = charge(seconds, service_type, vat_rate=rate)
    assert result.units >= minimum
    assert (result.units - 1) * unit_seconds < seconds or result.units == minimum  # no unit more than started
    assert result.units * unit_seconds >= seconds  # every second is paid for
    assert result.net == result.units * price
    assert result.vat == (result.net * rate).quantize(Decimal("0.01"), rounding="ROUND_HALF_UP")
    assert abs(result.vat - result.net * rate) <= Decimal("0.005")
    assert result.gross == result.net + result.vat
    for amount in (result.net, result.vat, result.gross):
        assert amount.as_tuple().exponent == -2  # always cents, on the wire "x.yz"


@given(seconds=st.integers(min_value=0, max_value=100_000), more=st.integers(min_value=0, max_value=100_000))
def test_a_longer_session_never_costs_less(seconds, more):
    assert charge(seconds + more).gross >= charge(seconds).gross


@given(amount=prices, rate=rates)
def test_a_gross_amount_splits_into_net_and_vat_that_add_up(amount, rate):
    net, vat = split_gross(amount, vat_rate=rate)
    assert net + vat == amount
    assert vat >= 0 and net >= 0


# ---- price lists ------------------------------------------------------------------------------------------------


def test_the_bundled_price_list_prices_the_three_service_types_in_eur_with_twenty_percent_vat():
    (price_list,) = bundled_price_lists()
    assert price_list.currency == "EUR"
    assert price_list.vat_rate == Decimal("0.20")
    assert [item.code for item in price_list.service_types] == ["consultation", "system_help", "urgent_help"]
    prices_differ = {item.unit_price for item in price_list.service_types}
    assert len(prices_differ) == 3
    assert all(item.name["bg"] and item.name["en"] for item in price_list.service_types)


def test_a_price_list_document_round_trips():
    price_list = parse_price_list(document())
    assert parse_price_list(price_list.to_document()) == price_list


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        (lambda d: d.update(vat_rate=0.2), "vat_rate"),
        (lambda d: d.update(vat_rate="1.5"), "vat_rate"),
        (lambda d: d.update(currency="euro"), "currency"),
        (lambda d: d.update(version=""), "version"),
        (lambda d: d.update(effective_from="tomorrow"), "effective_from"),
        (lambda d: d.update(effective_from="2026-12-01T00:00:00"), "effective_from"),
        (lambda d: d["service_types"][0].update(unit_price="15.001"), "unit_price"),
        (lambda d: d["service_types"][0].update(unit_price="-1.00"), "unit_price"),
        (lambda d: d["service_types"][0].update(unit_seconds=0), "unit_seconds"),
        (lambda d: d["service_types"][0].update(unit_seconds=True), "unit_seconds"),
        (lambda d: d["service_types"][0].update(minimum_units=-1), "minimum_units"),
        (lambda d: d["service_types"][0]["name"].pop("bg"), "name.bg"),
        (lambda d: d["service_types"][0].update(code="Consultation"), "code"),
        (lambda d: d["service_types"].pop(), "missing: urgent_help"),
        (lambda d: d["service_types"].append(dict(d["service_types"][0])), "twice"),
        (lambda d: d.update(service_types=[]), "non-empty"),
    ],
)
def test_every_field_of_a_price_list_is_checked(change, complaint):
    broken = document()
    change(broken)
    with pytest.raises(InvalidPriceList) as refused:
        parse_price_list(broken)
    assert complaint in refused.value.detail


def test_a_new_version_cannot_take_effect_in_the_past():
    price_list = parse_price_list(document(effective_from="2026-11-20T09:59:59Z"))
    with pytest.raises(InvalidPriceList, match="in the past"):
        check_publishable(price_list, now=T0)
    check_publishable(parse_price_list(document(effective_from="2026-11-20T10:00:00Z")), now=T0)


def test_a_session_is_priced_by_the_version_in_force_when_it_started():
    november = parse_price_list(document(version="nov", effective_from="2026-11-01T00:00:00Z"))
    december = parse_price_list(document(version="dec", effective_from="2026-12-01T00:00:00Z"))
    both = [december, november]
    assert price_list_in_force(both, at=datetime(2026, 11, 30, 23, 59, tzinfo=UTC)).version == "nov"
    assert price_list_in_force(both, at=datetime(2026, 12, 1, tzinfo=UTC)).version == "dec"
    # Before the first version took effect, the first version is the one there is.
    assert price_list_in_force(both, at=datetime(2025, 1, 1, tzinfo=UTC)).version == "nov"


# ---- credits ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("amount", ["0", "0.00", "-1.00", "1.001", "ten", "1e3", ""])
def test_a_credit_amount_is_a_positive_decimal_string_in_cents(amount):
    with pytest.raises(InvalidCredit):
        parse_credit_amount(amount)


def test_a_credit_can_take_what_is_left_but_no_more():
    assert check_credit(amount=Decimal("8.00"), gross=Decimal("18.00"), already_credited=Decimal("10.00")) == 0
    with pytest.raises(CreditRefused, match="8.00 left"):
        check_credit(amount=Decimal("8.01"), gross=Decimal("18.00"), already_credited=Decimal("10.00"))
