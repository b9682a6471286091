"""The claims board: the county's claims by state; each role is offered only its own steps (the API's
service decides, with the same role and county checks), and the publicity period is shown with its end."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from fangpin.api.errors import from_validation
from fangpin.claims import NEXT, STATES, TRANSITION, local_day, moves_from
from fangpin.fund import yuan as yuan_text
from fangpin.services import claim_views, households, runfiles
from fangpin.services import claims as claims_service
from fangpin.web import auth
from fangpin.web.actions import REFUSALS, TITLES, perform, status_of
from fangpin.web.auth import DB, Viewer
from fangpin.web.render import render
from fangpin.web.routes.home import waiting_states

router = APIRouter()
PageNo = Annotated[int, Query(ge=1, le=10**9)]
Size = Annotated[int, Query(ge=1, le=200)]
Place = Annotated[str | None, Query(max_length=100)]
DEPARTMENT_ROWS = 4


@router.get("/claims", response_class=HTMLResponse, include_in_schema=False)
def board(request: Request, session: DB, viewer: Annotated[Viewer, Depends(auth.page("claims"))],
          state: Annotated[str | None, Query(max_length=20)] = None, township: Place = None, village: Place = None,
          page: PageNo = 1, size: Size = 50) -> Response:
    actor = viewer.actor
    waiting = waiting_states(actor.role)
    if state not in STATES:
        state = waiting[0] if waiting else "opened"
    counts = claim_views.counts_by_state(session, actor.county, actor)
    total = int(counts.get(state, 0))
    pages = max(1, -(-total // size))
    page = min(page, pages)
    listed = claim_views.list_claims(session, actor, state=state, township=township, village=village,
                                        limit=size, offset=(page - 1) * size)
    pager = runfiles.Page(items=listed["items"], total=int(listed["total"]), page=page, size=size)
    mine = {state: any(actor.role in move.role for move in moves_from(state)) for state in STATES}
    ids = [item["id"] for item in listed["items"]]
    return render(request, "claims.html", {
        "state": state, "counts": counts, "next_steps": NEXT, "pager": pager, "waiting": waiting, "mine": mine,
        "publicity": claim_views.publicity(session, ids) if state != "opened" else {},
        "township": township, "village": village, "today": local_day(auth.now(request)),
        "sizes": (20, 50, 100, 200)}, viewer=viewer)


def _claim_context(request: Request, session: Session, viewer: Viewer, claim_id: int) -> dict[str, Any]:
    view = claim_views.get_claim(session, viewer.actor, claim_id)
    opening = claim_views.opening_decision(session, view)
    moves = [move for move in moves_from(view["state"]) if viewer.actor.role in move.role]
    others = [move for move in moves_from(view["state"]) if viewer.actor.role not in move.role]
    bases = households.bases_of(opening) if opening else {}
    verified = [(cause, label, yuan_text(bases.get(cause, 0)))
                for cause, label in (households.cause_labels(session, opening) if opening else [])]
    return {
        "claim": view, "opening": opening, "moves": moves, "others": others,
        "publicity": claim_views.publicity(session, [claim_id]).get(claim_id), "today": local_day(auth.now(request)),
        "verified": verified, "department_rows": range(1, DEPARTMENT_ROWS + 1),
        "cause_names": {cause: label for cause, label, _ in verified},
    }


@router.get("/claims/{claim_id}", response_class=HTMLResponse, include_in_schema=False)
def claim_page(request: Request, claim_id: int, session: DB,
               viewer: Annotated[Viewer, Depends(auth.page("claims"))]) -> Response:
    try:
        context = _claim_context(request, session, viewer, claim_id)
    except REFUSALS as exc:
        status = status_of(exc)
        return render(request, "error.html", {"status": status, "title": TITLES.get(status, "错误"),
                                              "detail": str(exc)}, viewer=viewer, status=status)
    done = request.query_params.get("done")
    return render(request, "claim.html", {**context, "done": done, "error": None}, viewer=viewer)


def _text(form: FormData, name: str) -> str | None:
    value = form.get(name)
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip()


def step_from_form(form: FormData) -> dict[str, Any]:
    """The transition body the API takes, from the claim page's form fields."""
    to = _text(form, "to") or ""
    version = _text(form, "version") or "0"
    body: dict[str, Any] = {"to": to, "version": int(version) if version.isdigit() else 0}
    if to == "surveyed":
        body.update(visit_date=_text(form, "visit_date"), findings=_text(form, "findings"), verified={
            key.removeprefix("verified_"): _text(form, key) or "0.00" for key in form
            if key.startswith("verified_") and key != "verified_per_capita_income"})
        if _text(form, "verified_per_capita_income"):
            body["verified"]["per_capita_income"] = _text(form, "verified_per_capita_income")
    elif to == "publicised":
        body.update(deliberation={"result": "approved", **({"notes": _text(form, "notes")}
                                                          if _text(form, "notes") else {})},
                    publicity_start=_text(form, "publicity_start"))
        if _text(form, "objection_text"):
            objection: dict[str, Any] = {"text": _text(form, "objection_text"),
                                         "upheld": form.get("objection_upheld") == "on"}
            if _text(form, "objection_by"):
                objection["raised_by"] = _text(form, "objection_by")
            body["objections"] = [objection]
    elif to == "cross_checked":
        body["confirmations"] = [
            {"department": _text(form, f"department_{i}"), "confirmed": form.get(f"confirmed_{i}") == "on",
             **({"reference": _text(form, f"reference_{i}")} if _text(form, f"reference_{i}") else {})}
            for i in range(1, DEPARTMENT_ROWS + 1) if _text(form, f"department_{i}")]
    elif to == "filed":
        body["filing_number"] = _text(form, "filing_number")
    elif to == "paid":
        body.update(payment_reference=_text(form, "payment_reference"), amount=_text(form, "amount"),
                    paid_on=_text(form, "paid_on"))
    elif to == "rejected":
        body["reason"] = _text(form, "reason")
    return {key: value for key, value in body.items() if value is not None}


@router.post("/claims/{claim_id}/transitions", include_in_schema=False)
async def move_claim(request: Request, claim_id: int,
                     viewer: Annotated[Viewer, Depends(auth.action("claims"))]) -> Response:
    """Move the claim one step, as the API does (``services.claims.transition``): only the step's role,
    in the user's county; a stale version, a skipped step or publicity not over are refused (409)."""
    form = await request.form()
    body = step_from_form(form)

    def work(session: Session) -> dict[str, Any]:
        try:
            step = TRANSITION.validate_python(body)
        except ValidationError as exc:
            raise from_validation(exc.errors(), tags=frozenset(STATES)) from None
        return claims_service.transition(session, viewer.actor, claim_id, step, now=auth.now(request))

    try:
        await run_in_threadpool(perform, request, viewer, work)
    except REFUSALS as exc:
        status = status_of(exc)
        return await run_in_threadpool(_refused, request, viewer, claim_id, status, str(exc))
    return RedirectResponse(f"/console/claims/{claim_id}?done={body.get('to', '')}", status_code=303)


def _refused(request: Request, viewer: Viewer, claim_id: int, status: int, message: str) -> Response:
    with request.app.state.sessions() as session, session.begin():
        try:
            context = _claim_context(request, session, viewer, claim_id)
        except REFUSALS:
            return render(request, "error.html", {"status": status, "title": TITLES.get(status, "错误"),
                                                  "detail": message}, viewer=viewer, status=status)
        return render(request, "claim.html", {**context, "done": None, "error": message,
                                              "error_title": TITLES.get(status, "错误")},
                      viewer=viewer, status=status)
