"""The pack's YAML as pydantic models (the language itself is documented in docs/packs.md). A pack folder holds:

- ``pack.yaml``        id, title, version, the policy years it is in force for, its source document, its
                       ``format`` (absent: 1) and the pack it ``extends`` (a delta: only what changes)
- ``parameters.yaml``  every number, each with its unit and the clause it cites (or ``basis: assumed``)
- ``rules.yaml``       format 2: vocabularies, causes, derived facts, groups, rules, benefits, fee;
                       format 1: groups, rules, benefits, bases, fee (its causes and vocabularies are those
                       of ``format1.yaml``, which is data too)
- ``cases/*.yaml``     worked examples, run by pytest (not part of the pack's identity)

No cause, group, status, stage or kind is named here: they are the pack's.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from fangpin.decisions import Citation
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
    format: Literal[1, 2] | None = None  # absent means 1 (fangpin 0.1); None keeps old packs' hashes
    extends: str | None = None  # a pack id (a sibling folder) or a relative folder; resolved before hashing


class _Parameter(_Model):
    description: str  # for engineers, in any language
    label: str | None = None  # what people read (Chinese); absent (None) leaves the pack's hash as it was
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
    cause: Identifier
    group: Identifier
    deductible: Annotated[str, Field(pattern=r"^\$[a-z][a-z0-9_]*$")]
    tiers: Annotated[str, Field(pattern=r"^\$[a-z][a-z0-9_]*$")]
    cap: Annotated[str, Field(pattern=r"^\$[a-z][a-z0-9_]*$")]
    cites: Citation


Reference = Annotated[str, Field(pattern=r"^\$[a-z][a-z0-9_]*$")]


class CauseBases(_Model):
    """Format 1 only: the labels parameters that say which records count (the keys ``format1.yaml``
    names), and each cause's citation."""

    model_config = ConfigDict(extra="allow", frozen=True)
    cites: dict[Identifier, Citation]

    def references(self) -> dict[str, str]:
        return {str(key): str(value) for key, value in (self.model_extra or {}).items()}


class Fee(_Model):
    rate: Annotated[str, Field(pattern=r"^\$[a-z][a-z0-9_]*$")]
    cites: Citation


class RulesFileV1(_Model):
    """rules.yaml of a format-1 pack, exactly as fangpin 0.1 read it: its canonical form is what such a
    pack's hash was computed from, so it must not change."""

    groups: tuple[Group, ...] = Field(min_length=1)
    rules: tuple[Rule, ...]
    benefits: tuple[Benefit, ...]
    bases: CauseBases
    fee: Fee


# --- format 2: the pack declares its structure ---------------------------------------------------------


class Term(_Model):
    """One value of a vocabulary: its code, its label, and the other spellings that mean it."""

    code: Annotated[str, Field(min_length=1)]
    label: str | None = None
    aliases: tuple[str, ...] = ()


class Vocabulary(_Model):
    """The values a code field may take. ``values`` lists them; ``values_from`` takes each label of the
    named labels parameters as a code (the schooling stages); both may be given."""

    label: str | None = None
    values: tuple[Term, ...] = ()
    values_from: tuple[Reference, ...] = ()

    @model_validator(mode="after")
    def _some(self) -> Vocabulary:
        if not self.values and not self.values_from:
            raise ValueError("a vocabulary needs values or values_from")
        return self


class EventField(_Model):
    """A field of a cause's events, besides ``id``, ``date`` and ``person_id``, which every event has."""

    name: Identifier
    type: Literal["money", "code", "bool", "text"]
    label: str | None = None
    vocabulary: Identifier | None = None  # for a code field
    default: Annotated[str | bool | None, Field(union_mode="left_to_right")] = None  # absent: the field is required

    @model_validator(mode="after")
    def _vocabulary(self) -> EventField:
        if (self.type == "code") != (self.vocabulary is not None):
            raise ValueError("a code field names its vocabulary, and only a code field does")
        return self


class BaseFormula(_Model):
    """An event's contribution to its cause's annual base: the sum of ``add`` less the sum of ``subtract``,
    floored at ``floor`` per event when given (own loss = max(0, loss − compensation))."""

    add: tuple[Identifier, ...] = Field(min_length=1)
    subtract: tuple[Identifier, ...] = ()
    floor: Exact | None = None


class Cause(_Model):
    """A cause of hardship: its events, how each adds to the annual base, which events count."""

    id: Identifier
    label: str
    fields: tuple[EventField, ...] = Field(min_length=1)
    base: BaseFormula
    counts_when: dict[str, Any] | None = None  # a condition over the event's code and bool fields
    cites: Citation


class Derived(_Model):
    """A fact computed from other facts (docs/packs.md, "Derived facts"), the same way by every path."""

    id: Identifier
    label: str
    description: str | None = None
    type: Literal["money", "int"] = "money"
    value: Any
    cites: Citation


class RulesFile(_Model):
    """rules.yaml of a format-2 pack; also what a format-1 pack is read as (with format1.yaml)."""

    vocabularies: dict[Identifier, Vocabulary] = Field(default_factory=dict)
    causes: tuple[Cause, ...] = Field(min_length=1)
    derived: tuple[Derived, ...] = ()
    groups: tuple[Group, ...] = Field(min_length=1)
    rules: tuple[Rule, ...] = ()
    benefits: tuple[Benefit, ...] = ()
    fee: Fee
