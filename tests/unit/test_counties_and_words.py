"""County names from the shipped GB/T 2260 table, amounts in capital numerals, and the fund chain's payload of
inputs recorded before and after they carried a day and a purpose."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from fangpin import counties
from fangpin.amount_words import in_words
from fangpin.db.chained import payload
from fangpin.db.claims_models import FundInput

HANDAN = {"130402": "邯山区", "130403": "丛台区", "130404": "复兴区", "130406": "峰峰矿区", "130407": "肥乡区",
          "130408": "永年区", "130423": "临漳县", "130424": "成安县", "130425": "大名县", "130426": "涉县",
          "130427": "磁县", "130430": "邱县", "130431": "鸡泽县", "130432": "广平县", "130433": "馆陶县",
          "130434": "魏县", "130435": "曲周县", "130481": "武安市"}


def test_every_district_and_county_of_handan_has_its_name_and_the_table_says_its_source() -> None:
    assert {code: counties.name_of(code) for code in HANDAN} == HANDAN
    assert counties.name_of("130400") == "邯郸市"
    assert "GB/T 2260" in counties.source()


def test_a_county_reads_as_its_name_and_code_and_an_unknown_code_as_itself() -> None:
    assert counties.label("130434") == "魏县 (130434)"
    assert counties.label("999999") == "999999"
    assert counties.label(None) == "—"


@pytest.mark.parametrize("amount, words", [
    ("1234567.89", "壹佰贰拾叁万肆仟伍佰陆拾柒元捌角玖分"),
    ("36105000.00", "叁仟陆佰壹拾万零伍仟元整"),
    ("100000001", "壹亿零壹元整"),
    ("100010000", "壹亿零壹万元整"),
    ("1680.02", "壹仟陆佰捌拾元零贰分"),
    ("0.50", "伍角整"),
    ("-6105000.00", "负陆佰壹拾万零伍仟元整"),
    ("0", "零元整"),
])
def test_amounts_in_capital_numerals(amount: str, words: str) -> None:
    assert in_words(Decimal(amount)) == words


def test_an_amount_finer_than_a_fen_has_no_capital_numerals() -> None:
    with pytest.raises(ValueError):
        in_words(Decimal("1.001"))


def test_a_fund_input_without_day_and_purpose_is_hashed_as_before_and_one_with_them_includes_them() -> None:
    at = dt.datetime(2019, 3, 1, 2, tzinfo=dt.UTC)
    old = {"county": "130434", "year": 2019, "amount": 100, "recorded_by": "office", "at": at, "seq": 1}
    new = {**old, "paid_on": dt.date(2019, 3, 1), "purpose": "配套", "corrects_id": None}

    assert payload(FundInput, old) == "130434|2019|100|office|2019-03-01T02:00:00|1"  # as migration 0007 hashed it
    assert payload(FundInput, new) == "130434|2019|100|office|2019-03-01T02:00:00|1|2019-03-01|配套|\\N"
    assert payload(FundInput, {**new, "purpose": "改"}) != payload(FundInput, new)
