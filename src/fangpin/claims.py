"""A claim's path (docs/policy.md section 6) as data: its states, the forward moves, who makes each, and what each
step must record. Pure: no database, no clock; ``services.claims`` applies it.

    opened ─► surveyed ─► publicised ─► cross_checked ─► filed ─► paid
       └──────────┴────────────┴──────────────┴────────────┴──► rejected (with a reason)

Each forward step is made by one role. A claim is rejected from any state that is not final, by the
role of the step it was waiting for (and, while publicised, by the village too: an objection upheld).

Length: over 300 lines because each step's record (the pydantic models of what it must carry) sits beside
the move it belongs to; the path reads as one table.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from fangpin.errors import FangpinError
from fangpin.labels import field_label
from fangpin.money import FEN, to_decimal
from fangpin.privacy import in_scope

Role = Literal["office", "surveyor", "village", "department", "auditor"]
ROLES: tuple[Role, ...] = ("office", "surveyor", "village", "department", "auditor")
State = Literal["opened", "surveyed", "publicised", "cross_checked", "filed", "paid", "rejected"]
STATES: tuple[State, ...] = ("opened", "surveyed", "publicised", "cross_checked", "filed", "paid", "rejected")
FINAL: frozenset[State] = frozenset({"paid", "rejected"})
OpenedBy = Literal["screening", "application"]

# The path: each state's one forward move, and the role that makes it (docs/policy.md section 6's table).
NEXT: dict[State, State] = {
    "opened": "surveyed",
    "surveyed": "publicised",
    "publicised": "cross_checked",
    "cross_checked": "filed",
    "filed": "paid",
}
ACTOR: dict[State, Role] = {
    "surveyed": "surveyor",  # 入户查勘: the insurer's surveyor
    "publicised": "village",  # 乡村评议公示
    "cross_checked": "department",  # 部门信息比对: the county departments
    "filed": "office",  # 防贫机构备案: the prevention office
    "paid": "surveyor",  # 保险公司实施救助: the insurer
}
# Who may reject a claim waiting in a state: the role of the step it waits for, and while publicised the
# village as well (an objection upheld during publicity).
REJECTERS: dict[State, frozenset[Role]] = {
    state: frozenset({ACTOR[NEXT[state]]} | ({"village"} if state == "publicised" else set()))
    for state in NEXT
}
# Who may open a claim: the office after screening; the office or the village for a household's application.
OPENERS: dict[OpenedBy, frozenset[Role]] = {
    "screening": frozenset({"office"}),
    "application": frozenset({"office", "village"}),
}
# Who may check a household (and store the decision): everyone but the read-only auditor.
CHECKERS: frozenset[Role] = frozenset({"office", "surveyor", "village", "department"})
FUND_KEEPERS: frozenset[Role] = frozenset({"office"})
REPLAYERS: frozenset[Role] = frozenset({"auditor"})
LOCAL = dt.timezone(dt.timedelta(hours=8), "CST")  # China Standard Time: the counties' calendar day


class NotAllowed(FangpinError):
    """The user's role or county may not do this (HTTP 403)."""


class Conflict(FangpinError):
    """The request does not fit the claim's current state: a skipped step, a stale version, publicity not
    yet over, a claim already open (HTTP 409). Nothing was changed."""


class NotFound(FangpinError):
    """No such claim, decision or run (HTTP 404)."""


RecordT = TypeVar("RecordT")


def in_county(record: RecordT | None, actor: Actor, what: str) -> RecordT:
    """A stored record the actor may see: it exists (else 404), lies in the actor's county and, for a user
    scoped to a township or village (``Actor.scope``), in that place (else 403)."""
    if record is None:
        raise NotFound(f"没有{what}:请检查编号")
    county = getattr(record, "county")  # noqa: B009 - any stored record with a county
    if county != actor.county:
        raise NotAllowed(f"{what}属于县(区) {county},{actor.name} 在 {actor.county} 工作,无权查看或办理")
    if actor.scope and not in_scope(actor.scope, getattr(record, "township", None), getattr(record, "village", None)):
        raise NotAllowed(f"{what}不在 {actor.name} 负责的范围({actor.scope})内,无权查看或办理")
    return record


class Unauthenticated(FangpinError):
    """No bearer token, or one that belongs to no user, or is expired, rotated or of a disabled user (HTTP 401)."""


class TooManyAttempts(FangpinError):
    """Too many refused tokens or sign-ins from this address or for this name lately (HTTP 429), until ``until``."""

    def __init__(self, message: str, *, until: dt.datetime) -> None:
        self.until = until
        super().__init__(message)


class InvalidRequest(FangpinError):
    """A request value the service refuses, naming its field (HTTP 422)."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        self.field = field
        super().__init__(message)


@dataclass(frozen=True)
class Actor:
    """The authenticated user a service acts for."""

    name: str
    role: Role
    county: str
    scope: str | None = None  # a township, or township/village: the only households the user sees and acts on


@dataclass(frozen=True)
class Move:
    to: State
    role: frozenset[Role]


def moves_from(state: str) -> tuple[Move, ...]:
    """What may happen next to a claim in this state, and who may do it."""
    if state not in NEXT:
        return ()
    forward = NEXT[state]
    return (Move(forward, frozenset({ACTOR[forward]})), Move("rejected", REJECTERS[state]))


def roles_for(state: str, to: str) -> frozenset[Role]:
    """The roles that may move a claim from ``state`` to ``to`` (empty: no such move)."""
    for move in moves_from(state):
        if move.to == to:
            return move.role
    return frozenset()


def step_role(to: str) -> frozenset[Role]:
    """The roles that ever make a step, whatever the state: used to refuse a wrong role before anything else."""
    if to == "rejected":
        return frozenset(role for roles in REJECTERS.values() for role in roles)
    return frozenset({ACTOR[to]}) if to in ACTOR else frozenset()


def publicity_over(start: dt.date, days: int, today: dt.date) -> dt.date | None:
    """None when the publicity that began on ``start`` has lasted ``days`` full days by ``today``; else the
    first day cross-check may start. Posted on 1 March for 7 days: 1–7 March, cross-check from 8 March."""
    first = start + dt.timedelta(days=days)
    return None if today >= first else first


def local_day(moment: dt.datetime) -> dt.date:
    return moment.astimezone(LOCAL).date()


# --- what each step records --------------------------------------------------------------------------

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


def _amount(value: object) -> Decimal:
    """An amount read exactly (``money.to_decimal``), every refusal a ValueError so that pydantic names the
    field: never a float or a bool, not negative, at most two decimals, less than 10^15 yuan."""
    try:
        amount = to_decimal(value)
    except (TypeError, ValueError, ArithmeticError):
        if isinstance(value, bool | float):
            raise ValueError(f"{value} 应以文本写出(如 \"12000.00\"),不能是浮点数或真假值") from None
        raise ValueError(f"“{value}”不是金额:请填写阿拉伯数字,如 12000.00") from None
    if amount.adjusted() >= 15:
        raise ValueError(f"{value} 超出可记录的金额范围")
    if amount < 0:
        raise ValueError(f"{amount} 是负数:金额不能为负")
    if amount != amount.quantize(FEN):
        raise ValueError(f"{amount} 超过两位小数:金额精确到分")
    return amount.quantize(FEN)


Amount = Annotated[Decimal, BeforeValidator(_amount)]
BoundedMoney = Annotated[Amount, Field(le=Decimal("10000000000.00"))]
MAX_AMOUNT_TEXT = "10,000,000,000.00"


_BOUNDED: TypeAdapter[Decimal] = TypeAdapter(BoundedMoney)


class _Step(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = Field(ge=1, le=2**31 - 1, description="The claim's version as last read; a stale one gets 409.")

    def record(self) -> dict[str, Any]:
        """What the step records in the claim's history, JSON-ready (amounts as strings)."""
        data: dict[str, Any] = self.model_dump(mode="json", exclude={"to", "version"})
        return data


class Verified(BaseModel):
    """The amounts the surveyor verified on the visit: each cause's annual base (yuan), keyed by the causes of
    the pack that made the opening decision (checked against it when the step is taken), and the household's
    per-capita income if the visit found it different from the decision's."""

    model_config = ConfigDict(extra="allow", frozen=True)

    per_capita_income: BoundedMoney | None = None

    def bases(self, causes: dict[str, str] | None = None) -> dict[str, Decimal]:
        """The verified base of each cause; raises InvalidRequest naming ``verified.<cause>`` (in ``field``;
        the message names it by ``causes``, the deciding pack's labels) for a value that is not an amount
        (the causes themselves are checked against the claim's pack by the claims service)."""
        amounts: dict[str, Decimal] = {}
        for cause, value in (self.model_extra or {}).items():
            try:
                amounts[cause] = _BOUNDED.validate_python(value)
            except ValidationError as exc:
                error = exc.errors()[0]
                message = str(error["msg"]).removeprefix("Value error, ")
                if error["type"] == "less_than_equal":
                    message = f"超过 {MAX_AMOUNT_TEXT} 元的上限"
                field = f"verified.{cause}"
                raise InvalidRequest(f"{field_label(field, causes)}:{message}", field=field) from None
        return amounts


class Survey(_Step):
    """入户查勘: the insurer's surveyor visits the household."""

    to: Literal["surveyed"]
    visit_date: dt.date
    findings: Text
    verified: Verified


class Objection(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    raised_by: Name | None = None
    text: Text
    upheld: bool


class Deliberation(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    result: Literal["approved", "not_approved"]
    notes: Text | None = None


class Publicity(_Step):
    """乡村评议公示: the village deliberates and posts the claim publicly."""

    to: Literal["publicised"]
    deliberation: Deliberation
    publicity_start: dt.date
    objections: tuple[Objection, ...] = Field(default=(), max_length=200)

    @model_validator(mode="after")
    def _approved(self) -> Publicity:
        if self.deliberation.result != "approved":
            raise ValueError("deliberation.result: 村里评议未通过:请改为驳回此理赔并写明理由")
        for index, objection in enumerate(self.objections):
            if objection.upheld:
                raise ValueError(f"objections[{index}].upheld: 有异议成立:请改为驳回此理赔并写明理由")
        return self


class Confirmation(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    department: Name
    confirmed: bool
    reference: Name | None = None


class CrossCheck(_Step):
    """部门信息比对: the county departments compare the claim with their records."""

    to: Literal["cross_checked"]
    confirmations: tuple[Confirmation, ...] = Field(min_length=1, max_length=50)

    @field_validator("confirmations")
    @classmethod
    def _all_confirmed(cls, value: tuple[Confirmation, ...]) -> tuple[Confirmation, ...]:
        seen: set[str] = set()
        for index, confirmation in enumerate(value):
            if confirmation.department in seen:
                raise ValueError(f"[{index}].department: “{confirmation.department}”重复确认:每个部门只填一行")
            seen.add(confirmation.department)
            if not confirmation.confirmed:
                raise ValueError(f"[{index}].confirmed: {confirmation.department}未确认:请改为驳回此理赔并写明理由")
        return value


class Filing(_Step):
    """防贫机构备案: the prevention office files the claim; the amount is re-decided on the verified figures."""

    to: Literal["filed"]
    filing_number: Name


class PaymentStep(_Step):
    """保险公司实施救助: the insurer pays, at most the amount decided at filing."""

    to: Literal["paid"]
    payment_reference: Name
    amount: BoundedMoney
    paid_on: dt.date

    @field_validator("amount")
    @classmethod
    def _positive(cls, value: Decimal) -> Decimal:
        if value <= 0:
            raise ValueError("支付金额应大于 0.00 元")
        return value


class Rejection(_Step):
    """Any step may end the claim, with its reason."""

    to: Literal["rejected"]
    reason: Text


Transition = Annotated[Survey | Publicity | CrossCheck | Filing | PaymentStep | Rejection, Field(discriminator="to")]
TRANSITION: TypeAdapter[Survey | Publicity | CrossCheck | Filing | PaymentStep | Rejection] = TypeAdapter(Transition)


def role_matrix() -> dict[str, list[str]]:
    """Who does what, for the documentation and the API's description."""
    matrix: dict[str, list[str]] = {role: [] for role in ROLES}
    for opened_by, roles in OPENERS.items():
        for role in roles:
            matrix[role].append(f"open ({opened_by})")
    for to, role in ACTOR.items():
        matrix[role].append(to)
    for state, roles in REJECTERS.items():
        for role in roles:
            matrix[role].append(f"reject while {state}")
    for role in CHECKERS:
        matrix[role].append("check")
    for role in FUND_KEEPERS:
        matrix[role].append("fund input")
    for role in REPLAYERS:
        matrix[role].append("replay")
    return matrix
