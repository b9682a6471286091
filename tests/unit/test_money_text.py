"""Amounts as people read and type them: grouped for the screen, parsed exactly from what a clerk writes."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fangpin.money import fen_grouped, format_yuan, format_yuan_grouped, from_fen, parse_amount

fen_amounts = st.integers(min_value=-(10**15), max_value=10**15)


def test_amounts_are_grouped_by_thousands_with_two_decimals() -> None:
    assert format_yuan_grouped(Decimal("176550.08")) == "176,550.08"
    assert fen_grouped(3_610_500_000) == "36,105,000.00"
    assert fen_grouped(0) == "0.00"
    assert fen_grouped(-123_456_789) == "-1,234,567.89"
    assert format_yuan_grouped(Decimal("999.5")) == "999.50"


def test_grouping_refuses_an_amount_finer_than_a_fen() -> None:
    with pytest.raises(ValueError, match="finer than a fen"):
        format_yuan_grouped(Decimal("1.005"))


@pytest.mark.parametrize(("typed", "amount"), [
    ("1000000", "1000000.00"),
    ("1,000,000", "1000000.00"),
    ("1,000,000.50", "1000000.50"),
    ("100万", "1000000.00"),
    ("12.5万", "125000.00"),
    ("3610.5万元", "36105000.00"),
    ("1.2亿", "120000000.00"),
    ("１，０００，０００", "1000000.00"),
    (" 176,550.08 ", "176550.08"),
    ("-5", "-5.00"),
])
def test_a_clerk_may_type_an_amount_as_accountants_write_it(typed: str, amount: str) -> None:
    assert parse_amount(typed) == Decimal(amount)
    assert format_yuan(parse_amount(typed)) == amount


@pytest.mark.parametrize(("typed", "says"), [
    ("1,00,000", "每三位一组"),       # Indian grouping: which digits did the clerk mean?
    ("1,5", "每三位一组"),            # a decimal comma, or a thousands separator missing digits?
    ("1,000,", "每三位一组"),
    ("1.000.000", "不是金额"),        # points as thousands separators
    ("1,000.000,5", "不是金额"),
    ("abc", "不是金额"),
    ("", "不是金额"),
    ("万", "不是金额"),
    ("1.234567891万", "最多两位小数"),
    ("100.001", "最多两位小数"),
    ("1e6", "不是金额"),
    ("NaN", "不是金额"),
])
def test_an_ambiguous_or_malformed_amount_is_refused_saying_what_to_write(typed: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        parse_amount(typed)


@given(fen_amounts)
def test_a_grouped_amount_reads_back_exactly(fen: int) -> None:
    assert parse_amount(fen_grouped(fen)) == from_fen(fen)


@given(fen_amounts)
def test_a_plain_amount_reads_back_exactly(fen: int) -> None:
    assert parse_amount(format_yuan(from_fen(fen))) == from_fen(fen)


@given(st.integers(min_value=0, max_value=10**9), st.integers(min_value=0, max_value=6))
def test_an_amount_in_wan_is_ten_thousand_yuan_exactly(whole: int, places: int) -> None:
    text = f"{Decimal(whole).scaleb(-places):f}万"

    assert parse_amount(text) == Decimal(whole).scaleb(-places) * 10_000
