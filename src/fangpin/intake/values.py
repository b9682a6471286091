"""Vectorised readers of the value forms of EXPORTS.md section 2, as polars expressions.

Each reader takes a *trimmed* string expression (see :func:`trim`) and returns the typed value, null where
the cell is blank or cannot be read; the caller tells the two apart with :func:`is_blank`. Amounts are
integers of fen, read from the decimal text exactly (never through a binary float) and quantised half-up
before any arithmetic.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache

import polars as pl

WHITESPACE = " \t\r\n\u3000\u00a0\ufeff\u200b"
FULLWIDTH = [chr(code) for code in range(0xFF01, 0xFF5F)]
HALFWIDTH = [chr(code - 0xFEE0) for code in range(0xFF01, 0xFF5F)]

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"

_ID_FORM = r"^\d{17}[\dX]$"
_AMOUNT_FORM = r"^(?:(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d*)?|\.\d+)$"
_AMOUNT_INT_DIGITS = 13  # up to 9,999,999,999,999.99 yuan: fen fit an Int64 with room to add rows up
_CURRENCY_PREFIX = "￥¥" + WHITESPACE
_CURRENCY_SUFFIX = "元" + WHITESPACE
_INT_FORM = r"^\d{1,15}(?:\.0*)?$"
_DATE_FORM = (
    r"^(?<y>\d{4})(?:[-/.年](?<m>\d{1,2})[-/.月](?<d>\d{1,2})日?|(?<mm>\d{2})(?<dd>\d{2}))"
    r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$"
)


def trim(raw: pl.Expr) -> pl.Expr:
    """Surrounding spaces gone, ASCII and full-width alike."""
    return raw.str.strip_chars(WHITESPACE)


def is_blank(trimmed: pl.Expr) -> pl.Expr:
    return trimmed.is_null() | (trimmed.str.len_bytes() == 0)


def to_halfwidth(text: pl.Expr) -> pl.Expr:
    """Full-width digits, letters and punctuation (U+FF01..U+FF5E) to their ASCII forms."""
    return text.str.replace_many(FULLWIDTH, HALFWIDTH)


def text(trimmed: pl.Expr) -> pl.Expr:
    return pl.when(~is_blank(trimmed)).then(trimmed)


def id_number(trimmed: pl.Expr) -> pl.Expr:
    """Upper-case 18-character ID number whose GB 11643 check digit holds, else null."""
    upper = trimmed.str.to_uppercase()
    body = pl.when(upper.str.contains(_ID_FORM)).then(upper.str.slice(0, 17)).cast(pl.Int64, strict=False)
    head, middle, tail = _id_tables()
    weighted = (
        pl.lit(head).gather(body // 10**11)
        + pl.lit(middle).gather((body // 10**5) % 10**6)
        + pl.lit(tail).gather(body % 10**5)
    )
    last = upper.str.slice(17, 1)
    check = pl.when(last == "X").then(pl.lit(10, pl.Int32)).otherwise(last.cast(pl.Int32, strict=False))
    return pl.when(check == (12 - weighted % 11) % 11).then(upper)


def amount_fen(trimmed: pl.Expr) -> pl.Expr:
    """Non-negative amount in yuan (``12,345.67``, ``￥12345.67``, ``12345.67元``) as Int64 fen, half-up.

    The decimal is truncated to three places (exact: the digits are kept, not rounded), then the third
    decides the half-up rounding to fen, which is all half-up needs.
    """
    core = trimmed.str.strip_chars_start(_CURRENCY_PREFIX).str.strip_chars_end(_CURRENCY_SUFFIX)
    digits = pl.when(core.str.contains(_AMOUNT_FORM)).then(core.str.replace_all(",", "", literal=True))
    mills = digits.cast(pl.Decimal(_AMOUNT_INT_DIGITS + 3, 3), strict=False).to_physical().cast(pl.Int64)
    return (mills + 5) // 10


def date(trimmed: pl.Expr) -> pl.Expr:
    """``2019-03-05``, ``2019/3/5``, ``2019.3.5``, ``20190305``, ``2019年3月5日``, optionally followed by a time
    (Excel date cells read as ``2019-03-05 00:00:00``); null for an impossible date."""
    iso = pl.when(trimmed.str.len_bytes() == 10).then(trimmed).str.to_date("%Y-%m-%d", strict=False)
    parts = pl.when(iso.is_null()).then(trimmed).str.extract_groups(_DATE_FORM)
    month = pl.coalesce(parts.struct.field("m"), parts.struct.field("mm"))
    day = pl.coalesce(parts.struct.field("d"), parts.struct.field("dd"))
    other = pl.concat_str(parts.struct.field("y"), month.str.zfill(2), day.str.zfill(2), separator="-")
    return pl.coalesce(iso, other.str.to_date("%Y-%m-%d", strict=False))


def integer(trimmed: pl.Expr) -> pl.Expr:
    """A whole number, also as an Excel number cell writes it (``4`` or ``4.0``)."""
    whole = pl.when(trimmed.str.contains(_INT_FORM)).then(trimmed.str.extract(r"^(\d+)", 1))
    return whole.cast(pl.Int64, strict=False)


def code(trimmed: pl.Expr, values: Mapping[str, str | bool], dtype: pl.DataType) -> pl.Expr:
    """The canonical value of a listed code string, null for anything else."""
    return trimmed.replace_strict(list(values), list(values.values()), default=None, return_dtype=dtype)


@cache
def _id_tables() -> tuple[pl.Series, pl.Series, pl.Series]:
    """Weighted digit sums (mod 11) of every 6-, 6- and 5-digit block of the 17-digit body, so the check
    digit costs three gathers instead of seventeen digit extractions."""
    return _weighted_table(ID_WEIGHTS[0:6]), _weighted_table(ID_WEIGHTS[6:12]), _weighted_table(ID_WEIGHTS[12:17])


def _weighted_table(weights: tuple[int, ...]) -> pl.Series:
    size = len(weights)
    numbers = pl.int_range(0, 10**size, dtype=pl.Int64, eager=True)
    total = sum(((numbers // 10 ** (size - 1 - place)) % 10) * weight for place, weight in enumerate(weights))
    assert isinstance(total, pl.Series)
    return (total % 11).cast(pl.Int32)


def id_check_digit(body: str) -> str:
    """The GB 11643 check character of a 17-digit body (scalar; for tests and messages)."""
    return ID_CHECK[sum(int(digit) * weight for digit, weight in zip(body, ID_WEIGHTS, strict=True)) % 11]
