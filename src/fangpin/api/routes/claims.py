"""Claims along the path of docs/policy.md section 6: open (application or screening), list, read, move."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import ValidationError

from fangpin.api.deps import ActorDep, ClockDep, JsonBody, SessionDep, answer, commit, household_of
from fangpin.api.errors import PROBLEM_RESPONSES, from_validation
from fangpin.api.schemas import SCREENING_IN, ClaimOut, ClaimPage, ScreeningOpened, body
from fangpin.claims import STATES, TRANSITION, State
from fangpin.services import claim_views, claims

router = APIRouter(prefix="/claims", tags=["claims"])
ClaimId = Annotated[int, Path(ge=1, le=2**63 - 1, description="A claim's id.")]
Place = Annotated[str | None, Query(min_length=1, max_length=100, pattern=r"^[^\x00]+$")]


@router.post("", status_code=201, response_model=ClaimOut, responses=PROBLEM_RESPONSES,
             openapi_extra=body("Household", "The applying household's document (docs/policy.md section 9)."))
def open_application(request: Request, session: SessionDep, actor: ActorDep, now: ClockDep,
                     data: JsonBody) -> Response:
    """A household applies (申请式受理, office or village): it is checked, and a claim opens on a decision
    that pays."""
    household = household_of(data)
    view = claims.open_application(session, actor, household, now=now, pack_dir=request.app.state.pack_dir)
    commit(request, session)
    return answer(view, 201)


@router.post("/from-screening", status_code=201, response_model=ScreeningOpened, responses=PROBLEM_RESPONSES,
             openapi_extra=body("ScreeningIn", "The screening run whose `pay` decisions open claims."))
def open_from_screening(request: Request, session: SessionDep, actor: ActorDep, now: ClockDep,
                        data: JsonBody) -> Response:
    """Open a claim for each `pay` decision of a screening run (自上而下, the office)."""
    run_id = SCREENING_IN.validate_python(data).run_id
    opened = claims.open_from_screening(session, actor, run_id, now=now)
    commit(request, session)
    return answer(opened, 201)


@router.get("", response_model=ClaimPage, responses=PROBLEM_RESPONSES)
def list_claims(
    session: SessionDep,
    actor: ActorDep,
    county: Annotated[str | None, Query(pattern=r"^\d{6}$", description="Default: the user's county.")] = None,
    township: Place = None,
    village: Place = None,
    state: Annotated[State | None, Query(description=f"One of {', '.join(STATES)}.")] = None,
    year: Annotated[int | None, Query(ge=1990, le=2200)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> Response:
    """The claims of the user's county, filtered, oldest first, a page at a time."""
    return answer(claim_views.list_claims(session, actor, county=county, township=township, village=village,
                                          state=state, year=year, limit=limit, offset=offset))


@router.get("/{claim_id}", response_model=ClaimOut, responses=PROBLEM_RESPONSES)
def get_claim(claim_id: ClaimId, session: SessionDep, actor: ActorDep) -> Response:
    """A claim with its full history: every step, who took it, when, and what it records."""
    return answer(claim_views.get_claim(session, actor, claim_id))


@router.post("/{claim_id}/transitions", response_model=ClaimOut, responses=PROBLEM_RESPONSES,
             openapi_extra=body("Transition", "The next step (`to`), the claim's `version`, and what the step "
                                "records."))
def post_transition(request: Request, claim_id: ClaimId, session: SessionDep, actor: ActorDep, now: ClockDep,
                    data: JsonBody) -> Response:
    """Move the claim one step along the path; only the step's role, in the user's county."""
    try:
        step = TRANSITION.validate_python(data)
    except ValidationError as exc:
        raise from_validation(exc.errors(), tags=frozenset(STATES)) from None
    view = claims.transition(session, actor, claim_id, step, now=now)
    commit(request, session)
    return answer(view)
