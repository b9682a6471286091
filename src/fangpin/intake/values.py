"""Vectorised readers of the value forms of docs/exports.md section 2, as polars expressions.

A reader turns a column of *prepared* strings (see :func:`prepared`: trimmed, full-width forms made ASCII)
into the typed value, null where the cell is blank or cannot be read; the caller tells the two apart with
:func:`is_blank`. Amounts are integers of fen, read from the decimal text exactly (never through a binary
float) and quantised half-up before any arithmetic. Dates are read in two passes: :func:`date` (ISO, fast)
on every cell, :func:`date_any` on the cells it left.

A reader is given as *stages*: lists of expressions, each stage reading only columns that earlier stages
wrote. The caller runs stage k of every field in one ``with_columns``, so fields are read in parallel and
no intermediate result is computed twice (polars does not reliably share sub-expressions).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache

import polars as pl

Stages = list[list[pl.Expr]]

WHITESPACE = " \t\r\n\u3000\u00a0"
FULLWIDTH = [chr(code) for code in range(0xFF01, 0xFF5F)]
HALFWIDTH = [chr(code - 0xFEE0) for code in range(0xFF01, 0xFF5F)]

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"

# At most 13 integer digits (sums of fen stay far inside Int64) and 20 decimals (all kept: a decimal with
# more places would be rounded by the cast, and half-up to fen must see the digits as written).
_AMOUNT_FORM = r"^(?:(?:\d{1,3}(?:,\d{3}){1,4}|\d{1,13})(?:\.\d{0,20})?|\.\d{1,20})$"
_AMOUNT_SCALE = 20
_CURRENCY_MARKS = "￥¥元" + WHITESPACE
_INT_FORM = r"^\d{1,15}(?:\.0*)?$"
_DATE_FORM = (
    r"^(?<y>\d{4})(?:[-/.年](?<m>\d{1,2})[-/.月](?<d>\d{1,2})日?|(?<mm>\d{2})(?<dd>\d{2}))"
    r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$"
)


def prepared(raw: pl.Expr, kind: str, *, widen: bool = True, plain: bool = False) -> pl.Expr:
    """A cell as the readers take it: full-width forms made ASCII (``widen``), surrounding spaces gone and,
    for an amount, a leading ``￥``/``¥`` and a trailing ``元`` too (unless the column is ``plain`` ASCII).
    A cell of only a currency sign is thus blank."""
    cell = to_halfwidth(raw) if widen and kind != "text" else raw
    if kind == "amount" and not plain:
        return cell.str.strip_chars(_CURRENCY_MARKS)
    return trim(cell)


def trim(raw: pl.Expr) -> pl.Expr:
    """Surrounding spaces gone, ASCII and full-width (U+3000) alike: Unicode whitespace."""
    return raw.str.strip_chars()


def is_blank(trimmed: pl.Expr) -> pl.Expr:
    return trimmed.is_null() | (trimmed.str.len_bytes() == 0)


def to_halfwidth(text: pl.Expr) -> pl.Expr:
    """Full-width digits, letters and punctuation (U+FF01..U+FF5E) to their ASCII forms."""
    return text.str.replace_many(FULLWIDTH, HALFWIDTH)


def is_ascii(column: pl.Expr) -> pl.Expr:
    """Whether a whole column is ASCII (an aggregate): such a column needs no full-width or currency handling."""
    return column.str.len_bytes().sum() == column.str.len_chars().sum()


def has_fullwidth(column: pl.Expr) -> pl.Expr:
    """Whether any cell of a column holds a full-width form (an aggregate; a byte search, so cheap)."""
    raw = column.cast(pl.Binary)
    return (raw.bin.contains(b"\xef\xbc") | raw.bin.contains(b"\xef\xbd")).any()


def text(source: str, target: str) -> Stages:
    cell = pl.col(source)
    return [[pl.when(~is_blank(cell)).then(cell).alias(target)]]


def id_number(source: str, target: str) -> Stages:
    """Upper-case 18-character ID number whose GB 11643 check digit holds, else null.

    The check sum is three table lookups (6-, 6- and 5-digit blocks of the 17-digit body) instead of
    seventeen digit extractions.
    """
    cell, body, last = pl.col(source), pl.col(f"{target}__body"), pl.col(f"{target}__last")
    head, middle, tail = _id_tables()
    weighted = (
        pl.lit(head).gather(body // 10**11)
        + pl.lit(middle).gather((body // 10**5) % 10**6)
        + pl.lit(tail).gather(body % 10**5)
    )
    check = pl.when(last == "X").then(pl.lit(10, pl.Int32)).otherwise(last.cast(pl.Int32, strict=False))
    signed = cell.str.starts_with("+") | cell.str.starts_with("-")
    digits = pl.when((cell.str.len_bytes() == 18) & ~signed).then(cell.str.slice(0, 17))
    lower_x = pl.when(cell.str.ends_with("x")).then(cell).str.to_uppercase()
    return [
        [
            digits.cast(pl.Int64, strict=False).alias(body.meta.output_name()),
            pl.coalesce(lower_x, cell).alias(f"{target}__upper"),
        ],
        [pl.col(f"{target}__upper").str.slice(17, 1).alias(last.meta.output_name())],
        [pl.when(check == (12 - weighted % 11) % 11).then(pl.col(f"{target}__upper")).alias(target)],
    ]


def amount_fen(source: str, target: str) -> Stages:
    """Non-negative amount in yuan (``12345.67``, ``12,345.67``; currency signs already gone, see
    :func:`prepared`) as Int64 fen, half-up.

    The decimal is read with all its places (an exact integer of 10^-20 yuan), then rounded half-up to fen
    by integer arithmetic.
    """
    cell = pl.col(source)
    digits = pl.when(cell.str.contains(_AMOUNT_FORM)).then(cell.str.replace_all(",", "", literal=True))
    units = digits.cast(pl.Decimal(38, _AMOUNT_SCALE), strict=False).to_physical()
    per_fen = 10 ** (_AMOUNT_SCALE - 2)
    fen = (units + pl.lit(per_fen // 2, pl.Int128)) // pl.lit(per_fen, pl.Int128)
    return [[fen.cast(pl.Int64).alias(target)]]


def date(source: str, target: str) -> Stages:
    """The ISO form ``2019-03-05`` (or an Excel date cell's ``2019-03-05 00:00:00``) only: the fast path.
    :func:`date_any` reads the cells it leaves null."""
    cell = pl.col(source)
    size = cell.str.len_bytes()
    iso = (
        pl.when(size == 10).then(cell)
        .when((size == 19) & cell.str.ends_with(" 00:00:00")).then(cell.str.slice(0, 10))
    )
    return [[iso.str.to_date("%Y-%m-%d", strict=False).alias(target)]]


def date_any(source: str, target: str) -> Stages:
    """``2019-03-05``, ``2019/3/5``, ``2019.3.5``, ``20190305``, ``2019年3月5日``, optionally followed by a time
    (Excel date cells read as ``2019-03-05 00:00:00``); null for an impossible date."""
    parts = pl.col(source).str.extract_groups(_DATE_FORM)
    month = pl.coalesce(parts.struct.field("m"), parts.struct.field("mm"))
    day = pl.coalesce(parts.struct.field("d"), parts.struct.field("dd"))
    iso = pl.concat_str(parts.struct.field("y"), month.str.zfill(2), day.str.zfill(2), separator="-")
    return [[iso.str.to_date("%Y-%m-%d", strict=False).alias(target)]]


def integer(source: str, target: str) -> Stages:
    """A whole number, also as an Excel number cell may write it (``4`` or ``4.0``)."""
    cell = pl.col(source)
    whole = pl.when(cell.str.contains(_INT_FORM)).then(cell.str.extract(r"^(\d+)", 1))
    return [[whole.cast(pl.Int64, strict=False).alias(target)]]


def code(source: str, target: str, values: Mapping[str, str | bool], dtype: pl.DataType) -> Stages:
    """The canonical value of a listed code string, null for anything else."""
    mapped = pl.col(source).replace_strict(list(values), list(values.values()), default=None, return_dtype=dtype)
    return [[mapped.alias(target)]]


def run_stages(frame: pl.LazyFrame, readers: Sequence[Stages]) -> pl.LazyFrame:
    """Stage k of every reader in one ``with_columns``."""
    for depth in range(max((len(stages) for stages in readers), default=0)):
        exprs = [expr for stages in readers if depth < len(stages) for expr in stages[depth]]
        frame = frame.with_columns(exprs)
    return frame


def read_series(series: pl.Series, kind: str, *, values: Mapping[str, str | bool] | None = None,
                dtype: pl.DataType | None = None) -> pl.Series:
    """One column read by one reader (trimmed and half-width first), outside the bulk path: for tests and
    single values."""
    frame = pl.DataFrame({"raw": series.cast(pl.String)}).lazy()
    frame = frame.with_columns(prepared(pl.col("raw"), kind).alias("cell"))
    if kind == "code":
        stages = code("cell", "value", values or {}, dtype or pl.String())
    else:
        stages = {"text": text, "id_number": id_number, "amount": amount_fen, "date": date_any,
                  "int": integer}[kind]("cell", "value")
    return run_stages(frame, [stages]).collect()["value"].alias(series.name)


@cache
def _id_tables() -> tuple[pl.Series, pl.Series, pl.Series]:
    return _weighted_table(ID_WEIGHTS[0:6]), _weighted_table(ID_WEIGHTS[6:12]), _weighted_table(ID_WEIGHTS[12:17])


def _weighted_table(weights: tuple[int, ...]) -> pl.Series:
    """Weighted digit sum mod 11 of every number with len(weights) digits (leading zeros included)."""
    size = len(weights)
    numbers = pl.int_range(0, 10**size, dtype=pl.Int64, eager=True)
    total = numbers * 0
    for place, weight in enumerate(weights):
        total = total + ((numbers // 10 ** (size - 1 - place)) % 10) * weight
    return (total % 11).cast(pl.Int32)


def id_check_digit(body: str) -> str:
    """The GB 11643 check character of a 17-digit body (scalar; for tests and messages)."""
    return ID_CHECK[sum(int(digit) * weight for digit, weight in zip(body, ID_WEIGHTS, strict=True)) % 11]
