"""POST /v1/checks: one household document in, its decision out, stored.

On PostgreSQL (``app.state.grouped_checks``) the route decides in the thread pool, then waits in the event
loop, holding no thread, for the group commit that stores the decision with its request-log line
(``services.checks.GroupedChecks``); the answer is sent once that has committed. Elsewhere it decides and
stores in one go, in the thread pool, and commits before answering."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from fangpin.api.deps import ActorDep, ClockDep, JsonBody, SessionDep, answer, commit, household_of, log_entry
from fangpin.api.errors import PROBLEM_RESPONSES
from fangpin.api.schemas import CheckOut, body
from fangpin.claims import Actor
from fangpin.services import checks

router = APIRouter(prefix="/checks", tags=["checks"])


@router.post("", status_code=201, response_model=CheckOut, responses=PROBLEM_RESPONSES,
             openapi_extra=body("Household", "A household document (docs/policy.md section 9); amounts as strings or "
                                "exact numbers."))
async def post_check(request: Request, session: SessionDep, actor: ActorDep, now: ClockDep,
                     data: JsonBody) -> Response:
    """Decide one household of the user's county and store the decision (any role but auditor)."""
    grouped: checks.GroupedChecks | None = getattr(request.app.state, "grouped_checks", None)
    if grouped is None:
        return await run_in_threadpool(_check, request, session, actor, now, data)
    prepared, decision = await run_in_threadpool(_prepare, grouped, request, session, actor, now, data)
    stored = await asyncio.wrap_future(grouped.submit(prepared, log_entry(request)))
    return answer({"id": stored, "decision": decision}, 201)


def _check(request: Request, session: Session, actor: Actor, now: Any, data: Any) -> Response:
    stored = checks.check(session, actor, household_of(data), pack_dir=request.app.state.pack_dir, at=now)
    commit(request, session)
    return answer({"id": stored.id, "decision": stored.decision.to_json_dict()}, 201)


def _prepare(grouped: checks.GroupedChecks, request: Request, session: Session, actor: Actor, now: Any,
             data: Any) -> tuple[checks.PreparedCheck, dict[str, Any]]:
    prepared = grouped.prepare(session, actor, household_of(data), pack_dir=request.app.state.pack_dir, at=now)
    return prepared, prepared.decision.to_json_dict()
