"""The value readers of EXPORTS.md section 2, over whole columns (as the bulk path runs them)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum.cn import ric

from fangpin.intake import values

STATUS = {"脱贫户": "exited", "未脱贫户": "registered_poor", "一般农户": "never_registered"}
YES_NO = {"是": True, "否": False, "Y": True, "N": False, "1": True, "0": False}


def read(kind: str, *cells: str | None, values_map: Mapping[str, str | bool] | None = None,
         dtype: pl.DataType | None = None) -> list[object]:
    series = values.read_series(pl.Series("cell", list(cells), dtype=pl.String), kind, values=values_map, dtype=dtype)
    return list(series.to_list())


def blank(*cells: str | None) -> list[bool]:
    frame = pl.DataFrame({"cell": list(cells)}, schema={"cell": pl.String})
    return frame.select(values.is_blank(values.trim(pl.col("cell"))))["cell"].to_list()


def valid_id(body: str) -> str:
    return body + check_digit(body)


def check_digit(body: str) -> str:
    """stdnum's reference check character of a 17-digit body (it takes a whole number, check char last)."""
    return str(ric.calc_check_digit(body + "0"))


# --- amounts -------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("cell", "fen"), [
    ("12345.67", 1234567),
    ("12,345.67", 1234567),
    ("12345.67元", 1234567),
    ("￥12345.67", 1234567),
    ("¥12,345.67", 1234567),
    ("￥ 12,345.67 元", 1234567),
    ("１２３４５．６７", 1234567),
    ("１２，３４５．６７元", 1234567),
    ("  12345.67\u3000", 1234567),
    ("1,234,567", 123456700),
    ("123456789", 12345678900),
    ("0", 0),
    ("0.1", 10),
    ("12.", 1200),
    (".5", 50),
])
def test_amount_with_yuan_suffix_and_separators_is_read_exactly(cell: str, fen: int) -> None:
    assert read("amount", cell) == [fen]


@pytest.mark.parametrize(("cell", "fen"), [
    ("12.345", 1235),
    ("0.005", 1),
    ("12.3449", 1234),
    ("12.3450", 1235),
    ("0.004999999", 0),
    ("0.00499999999999999999", 0),
    ("0.30000000000000004", 30),
    ("0.00001", 0),
    ("99.995", 10000),
])
def test_amount_is_quantised_half_up_to_fen_from_its_decimal_text(cell: str, fen: int) -> None:
    assert read("amount", cell) == [fen]


@pytest.mark.parametrize("cell", ["N/A", "-", "无", "12.3.4", "-12.00", "-0.01", "1e5", "1E5", "+12", "12,34",
                                  "1,2345.00", "12 345", "(12.00)", "0x10", "12元5",
                                  "100000000000000000000", "0.000000000000000000001"])
def test_text_that_is_not_a_non_negative_amount_reads_as_nothing(cell: str) -> None:
    assert read("amount", cell) == [None]
    assert blank(cell) == [cell.strip() == ""]


def test_blank_cells_are_told_apart_from_bad_ones() -> None:
    assert blank("", "   ", "\u3000", None, "0", "x") == [True, True, True, True, False, False]


@given(st.decimals(min_value=0, max_value=Decimal("9999999999"), places=6, allow_nan=False),
       st.booleans(), st.sampled_from(["", "￥", "¥"]), st.sampled_from(["", "元"]))
def test_any_written_amount_reads_as_its_half_up_fen(amount: Decimal, grouped: bool, prefix: str,
                                                     suffix: str) -> None:
    text = f"{amount:,f}" if grouped else f"{amount:f}"
    expected = int((amount * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))

    assert read("amount", f"{prefix}{text}{suffix}") == [expected]


# --- ID numbers ----------------------------------------------------------------------------------------

def test_id_number_with_a_valid_check_digit_is_kept_in_upper_case() -> None:
    good = valid_id("11010519491231002")  # check character X

    assert read("id_number", good, good.lower(), f"  {good}\u3000") == [good, good, good]


def test_id_number_in_full_width_digits_is_made_ascii() -> None:
    good = valid_id("13043419580504507")
    wide = "".join(chr(ord(ch) + 0xFEE0) for ch in good)

    assert read("id_number", wide) == [good]


@pytest.mark.parametrize("cell", ["110105194912310021", "11010519491231002", "1101051949123100211", "abc",
                                  "11010519491231002Y", "-1010519491231002X", "+1010519491231002X",
                                  "1101051949 231002X", "110105194912310.2X"])
def test_id_number_with_a_wrong_check_digit_length_or_character_is_rejected(cell: str) -> None:
    assert read("id_number", cell) == [None]


def test_region_code_of_an_id_number_is_not_checked() -> None:
    odd_region = valid_id("99999919900101123")

    assert read("id_number", odd_region) == [odd_region]


@given(st.text(alphabet="0123456789", min_size=17, max_size=17), st.sampled_from("0123456789X"))
def test_check_digit_agrees_with_the_reference_implementation(body: str, last: str) -> None:
    number = body + last

    assert (read("id_number", number) == [number]) == (check_digit(body) == last)
    assert values.id_check_digit(body) == check_digit(body)


# --- dates ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("cell", ["2019-03-05", "2019/3/5", "2019.3.5", "20190305", "2019年3月5日", "2019年03月05日",
                                  "2019-03-05 00:00:00", "2019-3-5", " 2019/03/05 ", "２０１９-０３-０５",
                                  "2019-03-05T00:00:00"])
def test_every_written_date_form_reads_as_the_date(cell: str) -> None:
    assert read("date", cell) == [dt.date(2019, 3, 5)]


@pytest.mark.parametrize("cell", ["2019-02-30", "2019-13-01", "20191301", "2019-00-10", "2019/4/31", "2019-02-29",
                                  "2019年2月30日", "05/03/2019", "2019-3", "march", "43529", "2019-03-05x"])
def test_an_impossible_or_unknown_date_reads_as_nothing(cell: str) -> None:
    assert read("date", cell) == [None]


def test_a_leap_day_is_a_date() -> None:
    assert read("date", "2020-02-29", "2020/2/29") == [dt.date(2020, 2, 29)] * 2


# --- integers and codes --------------------------------------------------------------------------------

@pytest.mark.parametrize(("cell", "number"), [("4", 4), ("4.0", 4), ("04", 4), ("４", 4), ("0", 0), ("4.5", None),
                                              ("-1", None), ("四", None), ("4人", None)])
def test_member_counts_are_whole_numbers_as_written_or_as_a_number_cell(cell: str, number: int | None) -> None:
    assert read("int", cell) == [number]


def test_code_strings_are_matched_exactly_after_trimming() -> None:
    assert read("code", " 脱贫户 ", "未脱贫户", "一般农户\u3000", "脱 贫户", "exited", values_map=STATUS) == [
        "exited", "registered_poor", "never_registered", None, None]


def test_yes_no_codes_read_as_booleans() -> None:
    assert read("code", "是", "否", "Y", "N", "1", "0", "Ｙ", "y", "有", values_map=YES_NO, dtype=pl.Boolean()) == [
        True, False, True, False, True, False, True, None, None]
