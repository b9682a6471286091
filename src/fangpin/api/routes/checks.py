"""POST /v1/checks: one household document in, its decision out, stored.

On PostgreSQL (``app.state.grouped_checks``) the route decides in the event loop (CPU only: a trip to the
thread pool and back costs more than deciding, and the GIL lets only one of them run anyway), goes to the
thread pool only when the database is needed first (the user was looked up, the pack is not yet known to be
stored), then waits in the event loop, holding no thread, for the group commit that stores the decision
with its request-log line (``services.checks.GroupedChecks``); the answer is sent once that has committed.
Elsewhere it decides and stores in one go, in the thread pool, and commits before answering."""

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
    prepared = grouped.decide(actor, household_of(data), pack_dir=request.app.state.pack_dir, at=now)
    if not grouped.settled(session, prepared):
        await run_in_threadpool(grouped.settle, session, prepared)
    decision = prepared.decision.to_json_dict()
    stored = await asyncio.wrap_future(grouped.submit(prepared, log_entry(request)))
    return answer({"id": stored, "decision": decision}, 201)


def _check(request: Request, session: Session, actor: Actor, now: Any, data: Any) -> Response:
    stored = checks.check(session, actor, household_of(data), pack_dir=request.app.state.pack_dir, at=now)
    commit(request, session)
    return answer({"id": stored.id, "decision": stored.decision.to_json_dict()}, 201)

