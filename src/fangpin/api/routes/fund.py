"""The fund of a county and year (docs/policy.md section 7)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from fangpin.api.deps import ActorDep, ClockDep, JsonBody, SessionDep, answer, commit
from fangpin.api.errors import PROBLEM_RESPONSES
from fangpin.api.schemas import FUND_INPUT_IN, FundOut, FundStatusOut, body
from fangpin.services import fund

router = APIRouter(prefix="/fund", tags=["fund"])
County = Annotated[str, Path(pattern=r"^\d{6}$", description="County code (行政区划代码).")]
Year = Annotated[int, Path(ge=1990, le=2200, description="Policy year.")]


@router.get("/{county}/{year}", response_model=FundOut, responses=PROBLEM_RESPONSES)
def get_fund(county: County, year: Year, session: SessionDep, actor: ActorDep) -> Response:
    """Opening balance, fiscal input, payouts, fees (paid by the budget), carry-over and top-up."""
    return answer(fund.read_fund(session, actor, county, year).to_json_dict())


@router.get("/{county}/{year}/status", response_model=FundStatusOut, responses=PROBLEM_RESPONSES)
def get_fund_status(county: County, year: Year, session: SessionDep, actor: ActorDep) -> Response:
    """What the screening runs decided and where it stands, per cause: not claimed yet, claims in progress,
    paid, rejected, and owed (not claimed + in progress)."""
    fund.read_fund(session, actor, county, year)  # the same rights as the fund itself
    return answer(fund.status_json(fund.fund_status(session, county, year)))


@router.post("/{county}/{year}/inputs", status_code=201, response_model=FundOut, responses=PROBLEM_RESPONSES,
             openapi_extra=body("FundInputIn", "Fiscal money put into the fund (the office)."))
def post_input(request: Request, county: County, year: Year, session: SessionDep, actor: ActorDep,
               now: ClockDep, data: JsonBody) -> Response:
    """Record a fiscal input (office), with the day it came and its purpose; inputs of a year add up. A
    correction names the input it corrects (``corrects``) and the amount that input should have been.
    Answers the year's fund line."""
    given = FUND_INPUT_IN.validate_python(data)
    line = fund.add_input(session, actor, county, year, given.amount, now, paid_on=given.paid_on,
                          purpose=given.purpose, corrects=given.corrects)
    commit(request, session)
    return answer(line.to_json_dict(), 201)
