"""The household document (SPEC section 9): one household, one policy year, as every entry point takes it.

Amounts are read exactly (strings, ints or Decimals; a YAML or JSON number is read from its text, see
``documents.py``), must be non-negative and have at most two decimals. Nothing here knows the policy:
which stages or kinds count is the pack's business.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from fangpin.money import FEN, to_decimal

Status = Literal["exited", "never_registered", "registered_poor"]
Cause = Literal["illness", "schooling", "disaster"]
CAUSES: tuple[Cause, ...] = ("illness", "schooling", "disaster")


def _exact_amount(value: object) -> Decimal:
    return to_decimal(value)


def _non_negative_fen(value: Decimal) -> Decimal:
    if value < 0:
        raise ValueError(f"{value} is negative")
    if value.adjusted() > 13:  # 10^14 yuan: beyond any household's figures, and beyond exact quantising
        raise ValueError(f"{value} is too large to be an amount in yuan")
    if value != value.quantize(FEN):
        raise ValueError(f"{value} has more than two decimals (fen)")
    return value.quantize(FEN)


Money = Annotated[Decimal, BeforeValidator(_exact_amount), AfterValidator(_non_negative_fen)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class IllnessEvent(_Strict):
    id: str = Field(min_length=1)
    date: dt.date
    burden: Money
    person_id: str | None = None


class SchoolingEvent(_Strict):
    id: str = Field(min_length=1)
    date: dt.date
    stage: str = Field(min_length=1)
    full_time: bool
    tuition: Money = Decimal("0.00")
    accommodation: Money = Decimal("0.00")
    textbooks: Money = Decimal("0.00")
    person_id: str | None = None


class DisasterEvent(_Strict):
    id: str = Field(min_length=1)
    date: dt.date
    kind: Literal["natural", "fire", "traffic"]
    loss: Money
    compensation: Money = Decimal("0.00")
    person_id: str | None = None


class PaidThisYear(_Strict):
    illness: Money = Decimal("0.00")
    schooling: Money = Decimal("0.00")
    disaster: Money = Decimal("0.00")

    def of(self, cause: Cause) -> Decimal:
        amount: Decimal = getattr(self, cause)
        return amount


class Household(_Strict):
    household_id: str = Field(min_length=1)
    year: int = Field(ge=1990, le=2200)
    county: str = Field(pattern=r"^\d{6}$")
    township: str | None = None
    village: str | None = None
    head_name: str | None = None
    head_id: str | None = None
    status: Status
    members: int = Field(ge=1)
    income: Money | None = None
    income_per_capita: Money | None = None
    labour_capacity: bool
    housing_secure: bool
    illness: tuple[IllnessEvent, ...] = ()
    schooling: tuple[SchoolingEvent, ...] = ()
    disaster: tuple[DisasterEvent, ...] = ()
    paid_this_year: PaidThisYear = PaidThisYear()

    @model_validator(mode="after")
    def _consistent(self) -> Household:
        if self.income is None and self.income_per_capita is None:
            raise ValueError("income: give the household's annual income or income_per_capita")
        for cause in CAUSES:
            seen: set[str] = set()
            for index, event in enumerate(getattr(self, cause)):
                if event.date.year != self.year:
                    raise ValueError(
                        f"{cause}[{index}].date: {event.date.isoformat()} is outside policy year {self.year}"
                    )
                if event.id in seen:
                    raise ValueError(f"{cause}[{index}].id: event {event.id!r} appears twice")
                seen.add(event.id)
        return self
