"""Exact money: yuan as Decimal with two places, or integer fen. No binary float ever touches an amount."""

from __future__ import annotations

import re
import unicodedata
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

FEN = Decimal("0.01")
ZERO = Decimal("0.00")


def to_decimal(value: object) -> Decimal:
    """Read an amount exactly as written. Floats are refused: their decimal value is not what was written.

    Raises ValueError for anything that is not an amount (so validators report it against its field)."""
    if isinstance(value, bool | float):
        raise ValueError(f"amount {value!r} must be a string, an int or a Decimal, never a float or a bool")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError(f"{value!r} is not an amount") from None
    else:
        raise ValueError(f"amount {value!r} is not an amount ({type(value).__name__})")
    if not result.is_finite():
        raise ValueError(f"{value!r} is not a finite amount")
    return result


def round_fen(value: Decimal) -> Decimal:
    """Round half-up to the fen: the only rounding the policy allows (docs/policy.md, preamble)."""
    return value.quantize(FEN, rounding=ROUND_HALF_UP)


def to_fen(value: Decimal) -> int:
    """An amount already at fen precision as integer fen; refuses anything finer."""
    fen = value * 100
    if fen != fen.to_integral_value():
        raise ValueError(f"{value} has more than two decimals")
    return int(fen)


def from_fen(fen: int) -> Decimal:
    return (Decimal(fen) / 100).quantize(FEN)


def fen_text(fen: int) -> str:
    """Integer fen as yuan text with exactly two decimals: 123456 → "1234.56", -5 → "-0.05"."""
    return f"{'-' if fen < 0 else ''}{abs(fen) // 100}.{abs(fen) % 100:02d}"


def format_yuan(value: Decimal) -> str:
    """Exactly two decimals, the form every result file uses (``0.00`` for zero).

    Refuses a value finer than a fen: display never rounds; rounding happens only where docs/policy.md says.
    """
    quantized = value.quantize(FEN)
    if quantized != value:
        raise ValueError(f"{value} is finer than a fen; round it where the policy says before formatting")
    return f"{quantized:f}"


def format_exact(value: Decimal) -> str:
    """At least two decimals, and every further digit an intermediate amount has (e.g. 3672.835)."""
    quantized = value.quantize(FEN)
    return f"{quantized:f}" if quantized == value else f"{value.normalize():f}"


def format_yuan_grouped(value: Decimal) -> str:
    """``format_yuan`` as accountants write it for people to read: thousands separated, two decimals
    (176550.08 → "176,550.08"). Screens and workbooks only; files and JSON keep ``format_yuan``."""
    return f"{Decimal(format_yuan(value)):,f}"


def fen_grouped(fen: int) -> str:
    """Integer fen as grouped yuan text: 3610500000 → "36,105,000.00"."""
    return format_yuan_grouped(from_fen(fen))


_UNITS = {"万": Decimal(10_000), "亿": Decimal(100_000_000)}
_PLAIN = re.compile(r"\d+(\.\d+)?")
_GROUPED = re.compile(r"\d{1,3}(,\d{3})+(\.\d+)?")


def parse_amount(text: str) -> Decimal:
    """An amount as a person types it, exactly, at fen precision: ``1000000``, ``1,000,000``,
    ``1,000,000.50``, ``100万``, ``12.5万``, ``1.2亿`` (full-width digits and commas too, a trailing 元).

    Raises ValueError, saying what to write instead, for anything ambiguous: commas not in groups of three
    (``1,00,000``, ``1,5`` — a decimal comma?), several points, finer than a fen, or not a number at all."""
    if not isinstance(text, str):
        raise ValueError(f"amount {text!r} must be text")
    written = unicodedata.normalize("NFKC", text).strip().replace(" ", "")
    body = written.removesuffix("元")
    sign = ""
    if body[:1] in ("-", "+"):
        sign, body = body[0], body[1:]
    unit = Decimal(1)
    if body[-1:] in _UNITS:
        unit, body = _UNITS[body[-1]], body[:-1]
    if _GROUPED.fullmatch(body):
        number = body.replace(",", "")
    elif _PLAIN.fullmatch(body):
        number = body
    elif "," in body and re.fullmatch(r"[\d,]+(\.\d+)?", body):
        raise ValueError(f"“{text}”不是金额:逗号只用作千位分隔,每三位一组,如 1,000,000.50 "
                         f"(commas separate thousands in groups of three; the decimal point is “.”)")
    else:
        raise ValueError(f"“{text}”不是金额:请写如 1000000、1,000,000.50、100万 或 12.5万 "
                         f"(not an amount: write e.g. 1,000,000.50 or 100万)")
    value = Decimal(number) * unit
    if value != value.quantize(FEN):
        raise ValueError(f"“{text}”精确到分以下:金额最多两位小数 (finer than a fen: at most two decimals)")
    return (-value if sign == "-" else value).quantize(FEN)
