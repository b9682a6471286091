"""What a decision says: group, outcome, amounts per cause, the rules that fired and the pack that decided.

A decision carries no clock time, so deciding the same facts under the same pack gives the same bytes
(``canonical_json``), which is what replay compares.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from fangpin.money import format_exact

Outcome = Literal["not_covered", "refer_dibao", "below_deductible", "already_paid", "pay"]
OUTCOMES: tuple[Outcome, ...] = ("not_covered", "refer_dibao", "below_deductible", "already_paid", "pay")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Citation(_Frozen):
    clause: str
    basis: Literal["source", "assumed", "inferred"] = "source"
    quote: str | None = None
    note: str | None = None


class FiredRule(_Frozen):
    id: str
    description: str
    effect: dict[str, str]
    cites: Citation


class TierSlice(_Frozen):
    lower: Decimal
    upper: Decimal | None
    rate: Decimal
    slice: Decimal
    amount: Decimal
    cites: Citation


class CauseResult(_Frozen):
    cause: str
    base: Decimal
    rule: str | None = None
    deductible: Decimal | None = None
    excess: Decimal = Decimal("0.00")
    tiers: tuple[TierSlice, ...] = ()
    uncapped: Decimal = Decimal("0.00")
    cap: Decimal | None = None
    capped: bool = False
    owed: Decimal = Decimal("0.00")
    paid_before: Decimal = Decimal("0.00")
    increment: Decimal = Decimal("0.00")


class DerivedValue(_Frozen):
    """A derived fact the pack declares (rigid spending, net per-capita income, …) and its value."""

    id: str
    label: str
    value: Decimal


class PackRef(_Frozen):
    id: str
    version: str
    hash: str


class Decision(_Frozen):
    household_id: str
    year: int
    county: str
    township: str | None = None
    village: str | None = None
    group: str | None
    group_label: str | None = None
    outcome: Outcome
    per_capita_income: Decimal
    causes: tuple[CauseResult, ...]
    payout: Decimal
    fee: Decimal
    rules: tuple[FiredRule, ...]
    notes: tuple[str, ...] = ()
    derived: tuple[DerivedValue, ...] = ()
    engine_facts: dict[str, int | str]
    pack: PackRef

    def cause(self, name: str) -> CauseResult:
        for result in self.causes:
            if result.cause == name:
                return result
        raise KeyError(name)

    def to_json_dict(self) -> dict[str, Any]:
        """JSON-ready: amounts as two-decimal strings, rates as written in the pack."""
        data: dict[str, Any] = self.model_dump(mode="json")
        if not data["derived"]:  # a pack without derived facts: the decision reads as it always has
            del data["derived"]
        _format_amounts(data)
        return data

    def canonical_json(self) -> str:
        return json.dumps(self.to_json_dict(), ensure_ascii=False, sort_keys=True, separators=(",", ":"))


_AMOUNT_KEYS = frozenset(
    {
        "per_capita_income", "payout", "fee", "base", "deductible", "excess", "uncapped", "cap", "owed",
        "paid_before", "increment", "lower", "upper", "slice", "amount", "value",
    }
)


def _format_amounts(node: Any) -> None:
    """Pydantic writes Decimal('5000') as '5000'; result files and replay want '5000.00' everywhere."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "effect":  # parameter references such as "$illness_cap", not amounts
                continue
            if key in _AMOUNT_KEYS and isinstance(value, str):
                node[key] = format_exact(Decimal(value))
            else:
                _format_amounts(value)
    elif isinstance(node, list):
        for item in node:
            _format_amounts(item)
