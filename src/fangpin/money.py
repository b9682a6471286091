"""Exact money: yuan as Decimal with two places, or integer fen. No binary float ever touches an amount."""

from __future__ import annotations

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
