"""The condition language of rule packs, compiled to durable_rules and analysed for thresholds.

A condition is a mapping; several keys in one mapping all have to hold::

    {all: [c, ...]}   {any: [c, ...]}          every / at least one
    {not: c}                                   the opposite (pushed down to the comparisons)
    {group: edge}                              the named group's own condition
    {covered: true}                            any group's condition
    {field: value}                             equality
    {field: {lt|lte|gt|gte|eq|ne: operand}}    comparison; operand a literal or "$parameter"
    {field: {in: [v, ...]}}                    one of (durable_rules has no $in: compiled to $or)

Every leaf compares one fact field with a constant. That is what makes the threshold analysis exact:
two households whose fields fall in the same interval between the pack's constants fire the same rules.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import polars as pl

from fangpin.errors import PackError
from fangpin.money import to_decimal, to_fen

FieldKind = Literal["money", "int", "bool", "code"]

# The household's own facts, which every pack may test (money as integer fen, flags as 0/1, codes as strings:
# durable-rules notes §4). A pack adds ``<cause>_base`` for each of its causes and its derived facts; the
# values of ``status`` are the codes of the pack's ``status`` vocabulary.
HOUSEHOLD_FIELDS: dict[str, FieldKind] = {
    "status": "code",
    "per_capita_income": "money",
    "members": "int",
    "labour_capacity": "bool",
    "housing_secure": "bool",
}
_OPERATORS = {"eq": "$eq", "ne": "$neq", "lt": "$lt", "lte": "$lte", "gt": "$gt", "gte": "$gte"}


@dataclass(frozen=True)
class Compare:
    field: str
    op: str
    value: int | str


@dataclass(frozen=True)
class All:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class AnyOf:
    children: tuple[Node, ...]


Node = Compare | All | AnyOf

ParameterLookup = Callable[[str, FieldKind, str], int]
LabelsLookup = Callable[[str, str], tuple[str, ...]]


class ConditionParser:
    """Parses conditions of one pack file over the given fields; errors name the file and the key path."""

    def __init__(self, file: str, lookup: ParameterLookup, groups: Mapping[str, Node], *,
                 fields: Mapping[str, FieldKind], code_values: Mapping[str, frozenset[str]],
                 labels: LabelsLookup | None = None) -> None:
        self._file = file
        self._lookup = lookup
        self._groups = groups
        self._fields = fields
        self._code_values = code_values
        self._labels = labels

    def parse(self, node: object, path: str) -> Node:
        if not isinstance(node, dict) or not node:
            raise PackError("a condition must be a non-empty mapping", file=self._file, key=path)
        parts = [self._parse_key(str(key), value, f"{path}.{key}") for key, value in node.items()]
        return parts[0] if len(parts) == 1 else All(tuple(parts))

    def _parse_key(self, key: str, value: object, path: str) -> Node:
        if key in ("all", "any"):
            if not isinstance(value, list) or not value:
                raise PackError(f"'{key}' takes a non-empty list of conditions", file=self._file, key=path)
            children = tuple(self.parse(child, f"{path}[{i}]") for i, child in enumerate(value))
            return All(children) if key == "all" else AnyOf(children)
        if key == "not":
            return negate(self.parse(value, path))
        if key == "group":
            if value not in self._groups:
                raise PackError(f"unknown group {value!r}", file=self._file, key=path)
            return self._groups[str(value)]
        if key == "covered":
            if value is not True:
                raise PackError("only 'covered: true' is supported", file=self._file, key=path)
            if not self._groups:
                raise PackError("'covered' needs the groups to be defined", file=self._file, key=path)
            return AnyOf(tuple(self._groups.values()))
        if key not in self._fields:
            known = ", ".join(sorted(self._fields))
            raise PackError(f"unknown fact field {key!r} (known: {known})", file=self._file, key=path)
        if isinstance(value, dict):
            if not value:
                raise PackError("an empty comparison", file=self._file, key=path)
            compares = [self._compare(key, str(op), operand, f"{path}.{op}") for op, operand in value.items()]
            return compares[0] if len(compares) == 1 else All(tuple(compares))
        return Compare(key, "eq", self._operand(key, value, path))

    def _compare(self, field: str, op: str, operand: object, path: str) -> Node:
        if op == "in":
            if isinstance(operand, str) and operand.startswith("$") and self._labels is not None:
                operand = list(self._labels(operand[1:], path))
            if not isinstance(operand, list) or not operand:
                raise PackError("'in' takes a non-empty list", file=self._file, key=path)
            return AnyOf(tuple(Compare(field, "eq", self._operand(field, v, path)) for v in operand))
        if op not in _OPERATORS:
            known = ", ".join([*_OPERATORS, "in"])
            raise PackError(f"unknown operator {op!r} (known: {known})", file=self._file, key=path)
        kind = self._fields[field]
        if op not in ("eq", "ne") and kind in ("bool", "code"):
            raise PackError(f"{field} is a {kind}: only eq, ne and in apply", file=self._file, key=path)
        return Compare(field, op, self._operand(field, operand, path))

    def _operand(self, field: str, value: object, path: str) -> int | str:
        kind = self._fields[field]
        if isinstance(value, str) and value.startswith("$"):
            return self._lookup(value[1:], kind, path)
        if kind == "bool":
            if not isinstance(value, bool):
                raise PackError(f"{field} takes true or false, not {value!r}", file=self._file, key=path)
            return int(value)
        if kind == "code":
            if value not in self._code_values[field]:
                allowed = ", ".join(sorted(self._code_values[field]))
                raise PackError(f"{field} is one of {allowed}, not {value!r}", file=self._file, key=path)
            return str(value)
        if kind == "int":
            if not isinstance(value, int) or isinstance(value, bool):
                raise PackError(f"{field} takes a whole number, not {value!r}", file=self._file, key=path)
            return value
        try:
            return to_fen(to_decimal(value))
        except (TypeError, ValueError) as exc:
            raise PackError(f"{field} takes an amount in yuan: {exc}", file=self._file, key=path) from None


_OPPOSITES = {"eq": "ne", "ne": "eq", "lt": "gte", "gte": "lt", "lte": "gt", "gt": "lte"}


def negate(node: Node) -> Node:
    """De Morgan down to the leaves, where every comparison has an exact opposite."""
    if isinstance(node, Compare):
        return Compare(node.field, _OPPOSITES[node.op], node.value)
    negated = tuple(negate(child) for child in node.children)
    return AnyOf(negated) if isinstance(node, All) else All(negated)


def compile_condition(node: Node) -> dict[str, Any]:
    """To durable_rules' JSON form (the same form its DSL produces)."""
    if isinstance(node, Compare):
        if node.op == "eq":
            return {node.field: node.value}
        return {_OPERATORS[node.op]: {node.field: node.value}}
    key = "$and" if isinstance(node, All) else "$or"
    children = [compile_condition(child) for child in node.children]
    return children[0] if len(children) == 1 else {key: children}


def guarded(node: Node) -> dict[str, Any]:
    """Every rule must ignore the engine's own state document, or a post never returns (notes §3)."""
    return {"$and": [{"$nex": {"$s": 1}}, compile_condition(node)]}


def collect_thresholds(nodes: list[Node], fields: Mapping[str, FieldKind]) -> dict[str, tuple[int, ...]]:
    """The constants each numeric field is compared with, sorted; code and bool fields map to ()."""
    found: dict[str, set[int]] = {}
    stack: list[Node] = list(nodes)
    while stack:
        node = stack.pop()
        if isinstance(node, Compare):
            values = found.setdefault(node.field, set())
            if fields[node.field] in ("money", "int"):
                assert isinstance(node.value, int)
                values.add(node.value)
        else:
            stack.extend(node.children)
    return {field: tuple(sorted(values)) for field, values in sorted(found.items())}


def signature(facts: Mapping[str, int | str], thresholds: Mapping[str, tuple[int, ...]]) -> tuple[object, ...]:
    """The facts' equivalence class under the pack: which interval between thresholds each field falls in.

    A value equal to a threshold gets its own class (odd index), so =, <, > and their mixes all agree
    for every member of a class. Fields no condition reads are left out.
    """
    parts: list[object] = []
    for field, cuts in thresholds.items():
        value = facts[field]
        if not cuts:
            parts.append(value)
            continue
        assert isinstance(value, int)
        index = bisect_left(cuts, value)
        parts.append(2 * index + 1 if index < len(cuts) and cuts[index] == value else 2 * index)
    return tuple(parts)



def holds(node: Node, values: Mapping[str, object]) -> bool:
    """Whether a condition holds for one record (an event's code and bool fields; bools as 0/1)."""
    if isinstance(node, Compare):
        value = values.get(node.field)
        if isinstance(value, bool):
            value = int(value)
        if value is None:
            return node.op == "ne"
        if node.op == "eq":
            return value == node.value
        if node.op == "ne":
            return value != node.value
        assert isinstance(value, int) and isinstance(node.value, int)
        return {"lt": value < node.value, "lte": value <= node.value, "gt": value > node.value,
                "gte": value >= node.value}[node.op]
    if isinstance(node, All):
        return all(holds(child, values) for child in node.children)
    return any(holds(child, values) for child in node.children)


def holds_expr(node: Node, kinds: Mapping[str, FieldKind]) -> pl.Expr:
    """``holds`` for every row of a frame at once (a missing value holds only for ne, as above)."""
    if isinstance(node, Compare):
        column = pl.col(node.field)
        if kinds[node.field] == "bool":
            column = column.cast(pl.Int64)
        compared = {
            "eq": column == node.value, "ne": column != node.value, "lt": column < node.value,
            "lte": column <= node.value, "gt": column > node.value, "gte": column >= node.value,
        }[node.op]
        return compared.fill_null(node.op == "ne")
    parts = [holds_expr(child, kinds) for child in node.children]
    return pl.all_horizontal(parts) if isinstance(node, All) else pl.any_horizontal(parts)
