"""POST /v1/checks: one household document in, its decision out, stored."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from fangpin.api.deps import ActorDep, ClockDep, JsonBody, SessionDep, answer, commit, household_of
from fangpin.api.errors import PROBLEM_RESPONSES
from fangpin.api.schemas import CheckOut, body
from fangpin.services import checks

router = APIRouter(prefix="/checks", tags=["checks"])


@router.post("", status_code=201, response_model=CheckOut, responses=PROBLEM_RESPONSES,
             openapi_extra=body("Household", "A household document (docs/policy.md section 9); amounts as strings or "
                                "exact numbers."))
def post_check(request: Request, session: SessionDep, actor: ActorDep, now: ClockDep, data: JsonBody) -> Response:
    """Decide one household of the user's county and store the decision (any role but auditor)."""
    household = household_of(data)
    stored = checks.check(session, actor, household, pack_dir=request.app.state.pack_dir, at=now)
    commit(request, session)
    return answer({"id": stored.id, "decision": stored.decision.to_json_dict()}, 201)
