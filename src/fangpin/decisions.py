"""What a decision says: group, outcome, amounts per cause, the rules that fired and the pack that decided.

A decision carries no clock time, so deciding the same facts under the same pack gives the same bytes
(``canonical_json``), which is what replay compares.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, PlainSerializer

from fangpin.money import format_exact

Outcome = Literal["not_covered", "refer_dibao", "below_deductible", "already_paid", "pay"]
OUTCOMES: tuple[Outcome, ...] = ("not_covered", "refer_dibao", "below_deductible", "already_paid", "pay")


# An amount in yuan: written in JSON with at least two decimals ("5000.00", "3672.835"), as result files and
# replay want it everywhere (pydantic would write Decimal('5000') as "5000"). Rates are written as the pack has them.
Amount = Annotated[Decimal, PlainSerializer(format_exact, return_type=str, when_used="json")]


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
    lower: Amount
    upper: Amount | None
    rate: Decimal
    slice: Amount
    amount: Amount
    cites: Citation


class CauseResult(_Frozen):
    cause: str
    base: Amount
    rule: str | None = None
    deductible: Amount | None = None
    excess: Amount = Decimal("0.00")
    tiers: tuple[TierSlice, ...] = ()
    uncapped: Amount = Decimal("0.00")
    cap: Amount | None = None
    capped: bool = False
    owed: Amount = Decimal("0.00")
    paid_before: Amount = Decimal("0.00")
    increment: Amount = Decimal("0.00")


class DerivedValue(_Frozen):
    """A derived fact the pack declares (rigid spending, net per-capita income, …) and its value."""

    id: str
    label: str
    value: Amount  # a count too is written with two decimals, as decisions always have been


class PackRef(_Frozen):
    id: str
    version: str
    hash: str


_NO_DERIVED = {"derived"}  # a pack without derived facts: the decision reads as it always has


class Decision(_Frozen):
    household_id: str
    year: int
    county: str
    township: str | None = None
    village: str | None = None
    group: str | None
    group_label: str | None = None
    outcome: Outcome
    per_capita_income: Amount
    causes: tuple[CauseResult, ...]
    payout: Amount
    fee: Amount
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
        """JSON-ready: amounts as strings with at least two decimals (``Amount``), rates as written in the pack."""
        data: dict[str, Any] = self.model_dump(mode="json", exclude=self._excluded())
        return data

    def to_json_bytes(self) -> bytes:
        """``to_json_dict`` written as compact UTF-8 JSON, the bytes ``json.dumps(to_json_dict(),
        ensure_ascii=False, separators=(",", ":"))`` gives, by pydantic's serializer in one pass (half the
        time: the check's answer)."""
        return self.__pydantic_serializer__.to_json(self, exclude=self._excluded())

    def _excluded(self) -> set[str] | None:
        return None if self.derived else _NO_DERIVED

    def canonical_json(self) -> str:
        return json.dumps(self.to_json_dict(), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
