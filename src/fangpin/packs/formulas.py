"""Derived facts: exact formulas over a household's facts, declared in the pack (docs/packs.md).

A formula is parsed once into a tree and evaluated two ways that must agree to the fen: on one
household's facts (integers: money in fen, counts as is) and on whole columns (polars, Int64). Both are
integer arithmetic, and every division or multiplication by a ratio states its rounding, so there is no
third way for them to differ. A property test holds the two equal.

    a fact name            per_capita_income, members, <cause>_base, an earlier derived fact
    $parameter             a money, integer, rate or ratio parameter
    "12.50" / 3            a literal amount (a string, yuan) or a whole number
    {add: [x, ...]}        sum           {sub: [x, y, ...]}   x − y − …
    {min: [x, ...]}        {max: [x, ...]}   {neg: x}
    {mul: [x, y], round: half_up}   product; ``round`` is required when a factor is a rate or ratio
    {div: [x, y], round: half_up}   quotient rounded to the fen (money) or the unit (int); y must not be 0
    {bases: all}  {bases: [cause, ...]}   the sum of those causes' annual bases
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

import polars as pl

from fangpin.errors import PackError
from fangpin.money import to_decimal, to_fen

ValueType = Literal["money", "int", "ratio"]
Rounding = Literal["half_up", "down", "up"]
ROUNDINGS: tuple[Rounding, ...] = ("half_up", "down", "up")


@dataclass(frozen=True)
class Ref:
    name: str
    type: ValueType


@dataclass(frozen=True)
class Const:
    value: int | Decimal  # int: fen (money) or a count; Decimal: a ratio
    type: ValueType


@dataclass(frozen=True)
class Op:
    op: str  # add sub min max neg mul div
    args: tuple[Formula, ...]
    type: ValueType
    rounding: Rounding | None = None


Formula = Ref | Const | Op


class FormulaParser:
    """Parses the formulas of one pack file against the facts known so far; errors name the key path."""

    def __init__(self, file: str, fields: Mapping[str, ValueType], parameter: Callable[[str, str], Const],
                 causes: tuple[str, ...]) -> None:
        self._file = file
        self._fields = fields
        self._parameter = parameter
        self._causes = causes

    def _error(self, message: str, path: str) -> PackError:
        return PackError(message, file=self._file, key=path)

    def parse(self, node: object, path: str) -> Formula:
        if isinstance(node, bool):
            raise self._error(f"{node!r} is not a value", path)
        if isinstance(node, int):
            return Const(node, "int")
        if isinstance(node, Decimal):
            raise self._error(f"write the amount {node} as a quoted string (yuan) or a whole number", path)
        if isinstance(node, str):
            if node.startswith("$"):
                return self._parameter(node[1:], path)
            if node in self._fields:
                return Ref(node, self._fields[node])
            try:
                amount = to_decimal(node)
                return Const(to_fen(amount), "money")
            except ValueError:
                known = ", ".join(self._fields)
                raise self._error(f"unknown fact {node!r} (known here: {known})", path) from None
        if not isinstance(node, dict) or not node:
            raise self._error("a formula is a fact, a $parameter, an amount or a one-key operation", path)
        rounding = node.get("round")
        keys = [key for key in node if key != "round"]
        if len(keys) != 1:
            raise self._error(f"one operation per mapping, not {keys}", path)
        op = str(keys[0])
        value = node[op]
        where = f"{path}.{op}"
        if rounding is not None and rounding not in ROUNDINGS:
            raise self._error(f"round is one of {', '.join(ROUNDINGS)}, not {rounding!r}", f"{path}.round")
        if op == "bases":
            return self._bases(value, where)
        if op == "neg":
            inner = self.parse(value, where)
            self._not_ratio(inner, where)
            return Op("neg", (inner,), inner.type)
        if not isinstance(value, list) or not value:
            raise self._error(f"{op} takes a list", where)
        args = tuple(self.parse(item, f"{where}[{index}]") for index, item in enumerate(value))
        if op in ("add", "sub", "min", "max"):
            types = {arg.type for arg in args}
            if len(types) != 1 or "ratio" in types:
                raise self._error(f"{op} needs operands of one kind (money or whole numbers), got {sorted(types)}",
                                  where)
            if op == "sub" and len(args) < 2:
                raise self._error("sub takes at least two operands", where)
            return Op(op, args, args[0].type)
        if op in ("mul", "div"):
            if len(args) != 2:
                raise self._error(f"{op} takes exactly two operands", where)
            return self._product(op, args, rounding, where)
        raise self._error(f"unknown operation {op!r} (add, sub, min, max, neg, mul, div, bases)", where)

    def _not_ratio(self, formula: Formula, path: str) -> None:
        if formula.type == "ratio":
            raise self._error("a rate or ratio is only a factor of mul or the divisor of div", path)

    def _bases(self, value: object, path: str) -> Formula:
        if value == "all":
            causes = self._causes
        elif isinstance(value, list) and value and all(isinstance(item, str) for item in value):
            unknown = [item for item in value if item not in self._causes]
            if unknown:
                raise self._error(f"unknown causes {unknown} (the pack's: {', '.join(self._causes)})", path)
            causes = tuple(value)
        else:
            raise self._error("bases takes all or a list of the pack's causes", path)
        return Op("add", tuple(Ref(f"{cause}_base", "money") for cause in causes), "money")

    def _product(self, op: str, args: tuple[Formula, ...], rounding: object, path: str) -> Formula:
        left, right = args
        if op == "mul":
            if left.type == "ratio":
                left, right = right, left
            if left.type == "ratio":
                raise self._error("mul of two ratios", path)
            if right.type == "ratio" or (left.type == right.type == "money"):
                if right.type == "money":
                    raise self._error("mul of two amounts has no meaning in yuan", path)
                if rounding is None:
                    raise self._error("mul by a rate or ratio must say how it rounds (round: half_up)", path)
            result: ValueType = "money" if "money" in (left.type, right.type) else "int"
            return Op("mul", (left, right), result, rounding)  # type: ignore[arg-type]
        if rounding is None:
            raise self._error("div must say how it rounds (round: half_up, down or up)", path)
        self._not_ratio(left, path)
        if right.type == "money" and left.type == "money":
            raise self._error("div of two amounts is a ratio, not a fact fangpin can compare", path)
        if right.type == "money":
            raise self._error("div by an amount", path)
        return Op("div", (left, right), left.type, rounding)  # type: ignore[arg-type]


# --- evaluation: one household (integers) -------------------------------------------------------------


def _ratio_parts(value: Decimal) -> tuple[int, int]:
    """A ratio as numerator and denominator of whole numbers: 1.5 → (15, 10)."""
    exponent = value.normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    scale = 10 ** max(0, -exponent)
    return int(value * scale), scale


def divide(numerator: int, denominator: int, rounding: Rounding) -> int:
    """Exact integer division with the stated rounding (half_up: halves away from zero, as Decimal's)."""
    if denominator == 0:
        raise ZeroDivisionError("division by zero in a derived fact")
    negative = (numerator < 0) != (denominator < 0)
    quotient, remainder = divmod(abs(numerator), abs(denominator))
    if remainder and (rounding == "up" or (rounding == "half_up" and 2 * remainder >= abs(denominator))):
        quotient += 1
    return -quotient if negative else quotient


def evaluate(formula: Formula, facts: Mapping[str, int | str]) -> int:
    if isinstance(formula, Ref):
        value = facts[formula.name]
        assert isinstance(value, int)
        return value
    if isinstance(formula, Const):
        assert isinstance(formula.value, int)
        return formula.value
    if formula.op in ("mul", "div"):
        left, right = formula.args
        numerator = evaluate(left, facts)
        if isinstance(right, Const) and isinstance(right.value, Decimal):
            top, bottom = _ratio_parts(right.value)
        else:
            top, bottom = evaluate(right, facts), 1
        if formula.op == "mul":
            return divide(numerator * top, bottom, formula.rounding or "half_up")
        assert formula.rounding is not None
        return divide(numerator * bottom, top, formula.rounding)
    values = [evaluate(arg, facts) for arg in formula.args]
    if formula.op == "add":
        return sum(values)
    if formula.op == "sub":
        return values[0] - sum(values[1:])
    if formula.op == "min":
        return min(values)
    if formula.op == "max":
        return max(values)
    assert formula.op == "neg"
    return -values[0]


# --- evaluation: whole columns (polars) ---------------------------------------------------------------


def divide_expr(numerator: pl.Expr, denominator: pl.Expr, rounding: Rounding) -> pl.Expr:
    size_n, size_d = numerator.abs(), denominator.abs()
    quotient, remainder = size_n // size_d, size_n % size_d
    if rounding == "half_up":
        quotient = quotient + (remainder * 2 >= size_d).cast(pl.Int64)
    elif rounding == "up":
        quotient = quotient + (remainder > 0).cast(pl.Int64)
    negative = (numerator < 0) != (denominator < 0)
    return pl.when(negative).then(-quotient).otherwise(quotient)


def to_expr(formula: Formula) -> pl.Expr:
    if isinstance(formula, Ref):
        return pl.col(formula.name).cast(pl.Int64)
    if isinstance(formula, Const):
        assert isinstance(formula.value, int)
        return pl.lit(formula.value, dtype=pl.Int64)
    if formula.op in ("mul", "div"):
        left, right = formula.args
        numerator = to_expr(left)
        if isinstance(right, Const) and isinstance(right.value, Decimal):
            top_int, bottom_int = _ratio_parts(right.value)
            top, bottom = pl.lit(top_int, dtype=pl.Int64), pl.lit(bottom_int, dtype=pl.Int64)
        else:
            top, bottom = to_expr(right), pl.lit(1, dtype=pl.Int64)
        if formula.op == "mul":
            return divide_expr(numerator * top, bottom, formula.rounding or "half_up")
        assert formula.rounding is not None
        return divide_expr(numerator * bottom, top, formula.rounding)
    values = [to_expr(arg) for arg in formula.args]
    if formula.op == "add":
        return pl.sum_horizontal(values) if len(values) > 1 else values[0]
    if formula.op == "sub":
        result = values[0]
        for value in values[1:]:
            result = result - value
        return result
    if formula.op == "min":
        return pl.min_horizontal(values)
    if formula.op == "max":
        return pl.max_horizontal(values)
    assert formula.op == "neg"
    return -values[0]
