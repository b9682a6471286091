"""The household document (docs/policy.md section 9): one household, one policy year, as every entry point takes it.

Amounts are read exactly (strings, ints or Decimals; a YAML or JSON number is read from its text, see
``documents.py``), must be non-negative and have at most two decimals. Nothing here knows the policy:
which causes exist, what their events carry, which statuses, stages or kinds there are and which count is
the pack's business (``packs.events`` checks a document against its pack).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from fangpin.money import FEN, ZERO, to_decimal


def _exact_amount(value: object) -> Decimal:
    try:
        return to_decimal(value)
    except ValueError:
        if isinstance(value, bool | float):
            raise ValueError(f"{value} 应以文本写出(如 \"12000.00\"),不能是浮点数或真假值") from None
        raise ValueError(f"“{value}”不是金额:请写阿拉伯数字,如 12000.00") from None


def _non_negative_fen(value: Decimal) -> Decimal:
    if value < 0:
        raise ValueError(f"{value} 是负数:金额不能为负")
    if value.adjusted() > 13:  # 10^14 yuan: beyond any household's figures, and beyond exact quantising
        raise ValueError(f"{value} 过大,不是合理的金额(元)")
    if value != value.quantize(FEN):
        raise ValueError(f"{value} 超过两位小数:金额精确到分")
    return value.quantize(FEN)


Money = Annotated[Decimal, BeforeValidator(_exact_amount), AfterValidator(_non_negative_fen)]


def money(value: object) -> Decimal:
    """``Money``'s validation called directly (without a pydantic adapter): the amount, or a ValueError
    whose text is the message pydantic would give."""
    return _non_negative_fen(_exact_amount(value))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Event(BaseModel):
    """One event of a cause: its id, date and person, and the cause's own fields as written (the pack
    declares and checks them: ``packs.events``)."""

    model_config = ConfigDict(extra="allow", frozen=True, str_strip_whitespace=True)

    id: str = Field(min_length=1)
    date: dt.date
    person_id: str | None = None

    @property
    def fields(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


# The household's own fields (docs/policy.md section 9); every other key of a document whose value is a list is the
# event list of the cause of that name, which the deciding pack must have.
HOUSEHOLD_KEYS = frozenset({
    "household_id", "year", "county", "township", "village", "head_name", "head_id", "status", "members",
    "income", "income_per_capita", "labour_capacity", "housing_secure", "paid_this_year", "events",
})


class Household(_Strict):
    household_id: str = Field(min_length=1)
    year: int = Field(ge=1990, le=2200)
    county: str = Field(pattern=r"^\d{6}$")
    township: str | None = None
    village: str | None = None
    head_name: str | None = None
    head_id: str | None = None
    status: str = Field(min_length=1)  # one of the pack's statuses (or an alias of one), checked by the pack
    members: int = Field(ge=1)
    income: Money | None = None
    income_per_capita: Money | None = None
    labour_capacity: bool
    housing_secure: bool
    events: dict[str, tuple[Event, ...]] = Field(default_factory=dict)
    paid_this_year: dict[str, Money] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _cause_lists(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        lists = {key: value for key, value in data.items()
                 if key not in HOUSEHOLD_KEYS and isinstance(value, list | tuple)}
        if not lists:
            return data
        rest = {key: value for key, value in data.items() if key not in lists}
        given = rest.get("events")
        rest["events"] = {**(given if isinstance(given, dict) else {}), **lists}
        return rest

    @model_validator(mode="after")
    def _consistent(self) -> Household:
        if self.income is None and self.income_per_capita is None:
            raise ValueError("income: 请填写家庭年收入(income)或人均可支配收入(income_per_capita)")
        for cause, events in self.events.items():
            seen: set[str] = set()
            for index, event in enumerate(events):
                if event.date.year != self.year:
                    raise ValueError(
                        f"{cause}[{index}].date: {event.date.isoformat()} 不在 {self.year} 政策年度内"
                    )
                if event.id in seen:
                    raise ValueError(f"{cause}[{index}].id: 记录编号“{event.id}”出现两次")
                seen.add(event.id)
        return self

    def events_of(self, cause: str) -> tuple[Event, ...]:
        return self.events.get(cause, ())

    def paid_of(self, cause: str) -> Decimal:
        return self.paid_this_year.get(cause, ZERO)

    def to_document(self) -> dict[str, Any]:
        """The household document again, JSON-ready: cause lists at the top, as docs/policy.md section 9 has them."""
        data: dict[str, Any] = self.model_dump(mode="json", exclude_none=True, exclude={"events"})
        if not data.get("paid_this_year"):
            data.pop("paid_this_year", None)
        for cause, events in self.events.items():
            data[cause] = [event.model_dump(mode="json", exclude_none=True) for event in events]
        return data
