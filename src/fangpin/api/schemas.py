"""What the API's OpenAPI document says requests and answers look like. Amounts are yuan strings with two
decimals; request bodies are read exactly (numbers as Decimal) before these models ever see them."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from fangpin.claims import TRANSITION, Amount, OpenedBy, Role, State
from fangpin.facts import Household


class Problem(BaseModel):
    type: str
    title: str
    status: int
    detail: str
    field: str | None = Field(None, description="The request field at fault (422).")


class CheckOut(BaseModel):
    id: int = Field(description="The stored decision's id: GET /v1/decisions/{id}.")
    decision: dict[str, Any] = Field(description="The decision (docs/policy.md section 9).")


class Who(BaseModel):
    name: str
    role: Role


class EventOut(BaseModel):
    seq: int = Field(description="Position in the county's chain of claim events.")
    step: State
    from_state: State | None
    who: Who
    at: str
    record: dict[str, Any] = Field(description="What the step records.")
    record_hash: str


class MoveOut(BaseModel):
    to: State
    roles: list[Role]


class ClaimOut(BaseModel):
    id: int
    county: str
    township: str | None
    village: str | None
    household_id: str
    year: int
    state: State
    version: int = Field(description="Send it back with the next transition; a stale one gets 409.")
    opened_by: OpenedBy
    decision_id: int
    filing_decision_id: int | None
    amount_decided: str | None
    amount_paid: str | None
    fee: str | None
    created_at: str
    next: list[MoveOut]
    history: list[EventOut] | None = None


class ClaimPage(BaseModel):
    items: list[ClaimOut]
    total: int
    limit: int
    offset: int


class Skipped(BaseModel):
    household_id: str
    decision_id: int
    reason: str


class ScreeningOpened(BaseModel):
    run_id: str
    opened: list[ClaimOut]
    skipped: list[Skipped]


class ScreeningIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    run_id: str = Field(min_length=1, max_length=40, description="A screening run of the user's county.")


class DecisionOut(BaseModel):
    id: int
    run_id: str | None
    county: str
    year: int
    household_id: str
    township: str | None
    village: str | None
    facts: dict[str, Any]
    paid_before: dict[str, str]
    group: str | None
    outcome: str
    amounts: dict[str, str]
    rules: list[str]
    pack_hash: str
    document: dict[str, Any] | None
    recorded_at: str
    chain: dict[str, Any]


class ReplayOut(BaseModel):
    decision_id: int
    identical: bool
    pack_before: dict[str, str]
    pack_after: dict[str, str]
    stored_digest: str
    replayed_digest: str
    differences: list[dict[str, Any]]


class FundOut(BaseModel):
    county: str
    year: int
    opening_balance: str
    fiscal_input: str
    available: str
    payouts: str
    households_paid: int
    claims_paid: int
    fees: str
    fees_paid_by: Literal["fiscal budget"]
    carry_over: str
    top_up: str


class FundInputIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: Amount = Field(description="Yuan, at most two decimals; a string or an exact JSON number. With "
                           "`corrects`: what that input should have been (0.00 reverses it); the difference is "
                           "recorded.")
    paid_on: dt.date | None = Field(None, description="The day the money came into the fund (default: today).")
    purpose: str | None = Field(None, max_length=200, description="What the money is for.")
    corrects: int | None = Field(None, ge=1, description="The id of an input of the same county and year that "
                                 "this one corrects (a new entry; the input itself is never changed).")


class SimulationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    runs: list[Annotated[str, Field(min_length=1, max_length=40)]] = Field(
        min_length=1, max_length=20, description="Screening runs of the user's county, of one year.")
    pack: str = Field(min_length=1, max_length=100, description="A shipped pack's id, or a stored draft's sha256.")
    fiscal_input: Amount | None = Field(None, description="Assume this fiscal input (yuan) instead of the one "
                                        "recorded; nothing is stored.")
    background: bool = Field(False, description="Queue the simulation as a job (202) even if its runs are small "
                             "enough to be simulated within the request.")


class SimulationOut(BaseModel):
    """The impact report (docs/simulate.md); money in integer fen (``money_unit``), ``totals_yuan`` as text."""

    model_config = ConfigDict(extra="allow")

    scope: str
    runs: list[str]
    county: str
    year: int
    pack_before: dict[str, Any]
    pack_after: dict[str, Any]
    totals: dict[str, int]
    flows: list[dict[str, Any]]
    by_township: list[dict[str, Any]]
    bands: list[dict[str, Any]]
    fund: list[dict[str, Any]]
    attribution: dict[str, Any]


class SimulationJobOut(BaseModel):
    """A simulation queued as a job (202), or its state: ``impact`` once it is ``done``, ``error`` if ``failed``."""

    job_id: str
    state: Literal["queued", "running", "done", "failed"]
    location: str
    runs: list[str]
    pack: str
    county: str
    year: int
    stages: dict[str, dict[str, int]]
    error: str | None = None
    queued_at: str
    finished_at: str | None = None
    impact: SimulationOut | None = None


class DraftOut(BaseModel):
    hash: str
    id: str
    version: str
    years: list[int]
    uploaded_by: str
    uploaded_at: str
    draft: Literal[True]


class FundStatusOut(BaseModel):
    """What the runs decided and where it stands, per cause (yuan text), with ``total`` and ``households``."""

    model_config = ConfigDict(extra="allow")

    county: str
    year: int
    causes: list[str]
    decided_by_runs: dict[str, str | int]
    not_claimed: dict[str, str | int]
    in_progress: dict[str, str | int]
    paid: dict[str, str | int]
    rejected: dict[str, str | int]
    owed: dict[str, str | int]
    fees_paid: str


SCREENING_IN: TypeAdapter[ScreeningIn] = TypeAdapter(ScreeningIn)
SIMULATION_IN: TypeAdapter[SimulationIn] = TypeAdapter(SimulationIn)
FUND_INPUT_IN: TypeAdapter[FundInputIn] = TypeAdapter(FundInputIn)

# Request bodies the routes read themselves (exact JSON), published under these component names.
REQUEST_SCHEMAS: dict[str, TypeAdapter[Any]] = {
    "Household": TypeAdapter(Household),
    "Transition": TRANSITION,
    "ScreeningIn": SCREENING_IN,
    "FundInputIn": FUND_INPUT_IN,
    "SimulationIn": SIMULATION_IN,
}


def body(name: str, description: str) -> dict[str, Any]:
    """``openapi_extra`` for a route that reads its JSON body itself."""
    return {"requestBody": {"required": True, "description": description,
                            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}}}}
