"""The pack's YAML as pydantic models. A pack folder holds:

- ``pack.yaml``        id, title, version, the policy years it is in force for, its source document
- ``parameters.yaml``  every number, each with its unit and the clause it cites (or ``basis: assumed``)
- ``rules.yaml``       groups, rules (conditions → outcome or note) and benefits (cause terms per group)
- ``cases/*.yaml``     worked examples, run by pytest (not part of the pack's identity)
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from fangpin.decisions import Citation
from fangpin.facts import Cause
from fangpin.money import FEN, to_decimal

Exact = Annotated[Decimal, BeforeValidator(to_decimal)]
Identifier = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PackMeta(_Model):
    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")]
    title: str
    version: str
    years: tuple[int, ...] = Field(min_length=1)
    source: str
    description: str | None = None
    supersedes: str | None = None


class _Parameter(_Model):
    description: str
    unit: str
    source: Citation


class MoneyParameter(_Parameter):
    type: Literal["money"]
    value: Exact

    @field_validator("value")
    @classmethod
    def _fen(cls, value: Decimal) -> Decimal:
        if value < 0 or value != value.quantize(FEN):
            raise ValueError(f"{value} is not a non-negative amount in fen")
        return value.quantize(FEN)


class RateParameter(_Parameter):
    type: Literal["rate"]
    value: Exact

    @field_validator("value")
    @classmethod
    def _unit_interval(cls, value: Decimal) -> Decimal:
        if not Decimal(0) <= value <= Decimal(1):
            raise ValueError(f"rate {value} is not between 0 and 1")
        return value


class RatioParameter(_Parameter):
    type: Literal["ratio"]
    value: Exact

    @field_validator("value")
    @classmethod
    def _positive(cls, value: Decimal) -> Decimal:
        if value <= 0:
            raise ValueError(f"ratio {value} must be positive")
        return value


class IntegerParameter(_Parameter):
    type: Literal["integer"]
    value: int = Field(ge=0)


class ProductParameter(_Parameter):
    """A money parameter defined as the product of others (the income ceiling = line × multiplier)."""

    type: Literal["product"]
    of: tuple[Identifier, ...] = Field(min_length=2)


class Tier(_Model):
    up_to: Exact | None = None
    rate: Exact

    @field_validator("rate")
    @classmethod
    def _unit_interval(cls, value: Decimal) -> Decimal:
        if not Decimal(0) <= value <= Decimal(1):
            raise ValueError(f"rate {value} is not between 0 and 1")
        return value


class ScheduleParameter(_Parameter):
    """Tiers over the excess: each tier's slice of the excess is paid at its rate."""

    type: Literal["schedule"]
    tiers: tuple[Tier, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _ascending(self) -> ScheduleParameter:
        previous = Decimal(0)
        for index, tier in enumerate(self.tiers):
            last = index == len(self.tiers) - 1
            if tier.up_to is None and not last:
                raise ValueError(f"tiers[{index}]: only the last tier may have no up_to")
            if tier.up_to is not None:
                if tier.up_to <= previous or tier.up_to != tier.up_to.quantize(FEN):
                    raise ValueError(f"tiers[{index}].up_to: {tier.up_to} must rise and be in fen")
                previous = tier.up_to
        if self.tiers[-1].up_to is not None:
            raise ValueError("the last tier must be open-ended (no up_to)")
        return self


class LabelsParameter(_Parameter):
    type: Literal["labels"]
    value: tuple[str, ...]


Parameter = Annotated[
    MoneyParameter
    | RateParameter
    | RatioParameter
    | IntegerParameter
    | ProductParameter
    | ScheduleParameter
    | LabelsParameter,
    Field(discriminator="type"),
]


class Group(_Model):
    id: Identifier
    label: str
    when: dict[str, Any]
    cites: Citation


class Effect(_Model):
    outcome: Literal["not_covered", "refer_dibao"] | None = None
    note: str | None = None

    @model_validator(mode="after")
    def _one(self) -> Effect:
        if (self.outcome is None) == (self.note is None):
            raise ValueError("then: give exactly one of outcome or note")
        return self


class Rule(_Model):
    id: Identifier
    description: str
    when: dict[str, Any]
    then: Effect
    cites: Citation


class Benefit(_Model):
    """A cause's terms for one group: paid when the cause's annual base exceeds the deductible."""

    id: Identifier
    description: str
    cause: Cause
    group: Identifier
    deductible: Annotated[str, Field(pattern=r"^\$[a-z][a-z0-9_]*$")]
    tiers: Annotated[str, Field(pattern=r"^\$[a-z][a-z0-9_]*$")]
    cap: Annotated[str, Field(pattern=r"^\$[a-z][a-z0-9_]*$")]
    cites: Citation


class CauseBases(_Model):
    """Which records count towards each cause's base: the stage and kind lists are parameters."""

    schooling_stages: Annotated[str, Field(pattern=r"^\$[a-z][a-z0-9_]*$")]
    compulsory_stages: Annotated[str, Field(pattern=r"^\$[a-z][a-z0-9_]*$")]
    disaster_kinds: Annotated[str, Field(pattern=r"^\$[a-z][a-z0-9_]*$")]
    cites: dict[Cause, Citation]


class Fee(_Model):
    rate: Annotated[str, Field(pattern=r"^\$[a-z][a-z0-9_]*$")]
    cites: Citation


class RulesFile(_Model):
    groups: tuple[Group, ...] = Field(min_length=1)
    rules: tuple[Rule, ...]
    benefits: tuple[Benefit, ...]
    bases: CauseBases
    fee: Fee
