"""POST /v1/checks: one household document in, its decision out, stored.

On PostgreSQL (``app.state.grouped_checks``) the route decides in the event loop (CPU only: a trip to the
thread pool and back costs more than deciding, and the GIL lets only one of them run anyway), goes to the
thread pool only when the database is needed first (the user was looked up, the pack is not yet known to be
stored), then waits in the event loop, holding no thread, for the group commit that stores the decision
with its request-log line (``services.checks.GroupedChecks``); the answer is sent once that has committed.
Elsewhere it decides and stores in one go, in the thread pool, and commits before answering.

Checks are the API's busiest route, so it is served by ``CheckRoute``: the same dependencies, called in the
order FastAPI solves them, in straight-line code instead of FastAPI's general solver (a quarter of the event
loop's CPU per check; docs/scaling.md, "The server's CPU per check")."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session
from starlette.types import Receive, Scope, Send

from fangpin.api.deps import (
    ActorDep,
    ClockDep,
    JsonBody,
    SessionDep,
    bearer,
    commit,
    current_actor,
    get_clock,
    get_session,
    household_of,
    json_body,
    log_entry,
)
from fangpin.api.errors import PROBLEM_RESPONSES
from fangpin.api.schemas import CheckOut, body
from fangpin.claims import Actor
from fangpin.services import checks


class CheckRoute(APIRoute):
    """The route of ``post_check`` with its dependencies solved by ``solve_check``. Everything else is
    FastAPI's: the path, the OpenAPI document (from ``post_check``'s signature), the body-size limit, the
    error handlers an exception reaches."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        return solve_check


async def solve_check(request: Request) -> Response:
    """``post_check`` with the dependencies its signature declares, as FastAPI would call them: the session
    first (rolled back on any error, committed or closed once the route returns, before the answer is sent:
    ``scope="function"``), then the user (the bearer token), the clock and the body, in that order, so that
    the same request meets the same refusal first."""
    sessions = get_session(request)
    session = await anext(sessions)
    try:
        credentials = await bearer(request)
        actor = await current_actor(request, session, credentials)
        response = await post_check(request, session, actor, await get_clock(request), await json_body(request))
    except BaseException as exc:
        await sessions.athrow(exc)  # get_session abandons the session and raises exc again
        raise
    await anext(sessions, None)
    return response


router = APIRouter(prefix="/checks", tags=["checks"], route_class=CheckRoute)


@router.post("", status_code=201, response_model=CheckOut, responses=PROBLEM_RESPONSES,
             openapi_extra=body("Household", "A household document (docs/policy.md section 9); amounts as strings or "
                                "exact numbers."))
async def post_check(request: Request, session: SessionDep, actor: ActorDep, now: ClockDep,
                     data: JsonBody) -> Response:
    """Decide one household of the user's county and store the decision (any role but auditor)."""
    grouped: checks.GroupedChecks | None = getattr(request.app.state, "grouped_checks", None)
    if grouped is None:
        return await run_in_threadpool(_check, request, session, actor, now, data)
    prepared = grouped.decide(actor, household_of(data), pack_dir=request.app.state.pack_dir,
                              rules_dir=request.app.state.rules_dir, at=now)
    if not grouped.settled(session, prepared):
        await run_in_threadpool(grouped.settle, session, prepared)
    decision = prepared.decision.to_json_bytes()  # written while the group commit is not yet waited for
    stored = await asyncio.wrap_future(grouped.submit(prepared, log_entry(request)))
    return checked(stored, decision)


ROUTE = router.routes[-1]  # post_check's route: its status (201) is what the request log records


class Direct:
    """Inside the app's router (``Router.middleware_stack``): ``POST /v1/checks`` goes straight to
    ``solve_check``, sparing FastAPI's matching through the included routers (5 % of a check's CPU);
    every other request goes on to the routers. Everything around the router stays as for any route: the
    body limits, the error handlers, the server-error answer. Not installed when FastAPI's telemetry is on
    (it names the matched route)."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]], path: str, router: Any) -> None:
        self.app = app
        self.path = path
        self.router = router

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == self.path
                and not scope.get("root_path")):
            scope["route"], scope["endpoint"] = ROUTE, post_check
            scope.setdefault("router", self.router)
            response = await solve_check(Request(scope, receive, send))
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def go_direct(app: FastAPI, path: str) -> None:
    """``Direct`` in ``app``'s router, for ``path`` (the route's full path)."""
    app.router.middleware_stack = Direct(app.router.middleware_stack, path, app.router)


def _check(request: Request, session: Session, actor: Actor, now: Any, data: Any) -> Response:
    stored = checks.check(session, actor, household_of(data), pack_dir=request.app.state.pack_dir,
                          rules_dir=request.app.state.rules_dir, at=now)
    commit(request, session)
    return checked(stored.id, stored.decision.to_json_bytes())


def checked(stored: int, decision: bytes) -> Response:
    """The answer: ``{"id": …, "decision": …}`` as ``answer`` writes it, the decision already written."""
    return Response(b'{"id":%d,"decision":%b}' % (stored, decision), status_code=201, media_type="application/json")
