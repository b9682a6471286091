"""The claims board: the county's claims by state; each role is offered only its own steps (the API's
service decides, with the same role and county checks), and the publicity period is shown with its end."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from fangpin import privacy
from fangpin.api.errors import from_validation
from fangpin.claims import NEXT, STATES, TRANSITION, Move, local_day, moves_from
from fangpin.fund import yuan as yuan_text
from fangpin.money import format_yuan, parse_amount
from fangpin.services import claim_views, heads, households, runfiles
from fangpin.services import claims as claims_service
from fangpin.web import auth
from fangpin.web.actions import REFUSALS, TITLES, perform, status_of
from fangpin.web.auth import DB, Viewer
from fangpin.web.render import money_text, render, runs_dir
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
    found = heads.of_decisions(session, runs_dir(request), actor.county,
                               [item["decision_id"] for item in listed["items"]])
    items = [{**item, **_head(actor.role, found.get(item["household_id"]))} for item in listed["items"]]
    pager = runfiles.Page(items=items, total=int(listed["total"]), page=page, size=size)
    mine = {state: any(actor.role in move.role for move in moves_from(state)) for state in STATES}
    ids = [item["id"] for item in listed["items"]]
    return render(request, "claims.html", {
        "state": state, "counts": counts, "next_steps": NEXT, "pager": pager, "waiting": waiting, "mine": mine,
        "publicity": claim_views.publicity(session, ids) if state != "opened" else {},
        "township": township, "village": village, "today": local_day(auth.now(request)),
        "sizes": (20, 50, 100, 200)}, viewer=viewer)


def _head(role: str, head: heads.Head | None) -> dict[str, str | None]:
    """Who heads the household, as the viewer's role may see it (``fangpin.privacy``)."""
    head = head or heads.Head()
    return {"head_name": privacy.name_for(role, head.head_name), "head_id": privacy.id_for(role, head.head_id),
            "head_village": head.village, "head_township": head.township}


def waits_until(move: Move, view: dict[str, Any], publicity: dict[str, Any] | None,
                today: dt.date, actor_name: str) -> dict[str, Any] | None:
    """Why a step the viewer's role makes cannot be taken yet, and from when (None: it can): cross-check only
    once the publicity (the pack's publicity days, from the day it began) is over; the payment never by the
    user who surveyed the claim."""
    if move.to == "cross_checked" and publicity and today < publicity["cross_check_from"]:
        return {"opens": publicity["cross_check_from"], "reason": "publicity"}
    if move.to == "paid" and any(event["step"] == "surveyed" and event["who"]["name"] == actor_name
                                 for event in view.get("history") or []):
        return {"opens": None, "reason": "surveyor"}
    return None


def _claim_context(request: Request, session: Session, viewer: Viewer, claim_id: int) -> dict[str, Any]:
    actor = viewer.actor
    view = claim_views.get_claim(session, actor, claim_id)
    opening = claim_views.opening_decision(session, view)
    moves = [move for move in moves_from(view["state"]) if actor.role in move.role]
    others = [move for move in moves_from(view["state"]) if actor.role not in move.role]
    bases = households.bases_of(opening) if opening else {}
    verified = [(cause, label, money_text(yuan_text(bases.get(cause, 0))))
                for cause, label in (households.cause_labels(session, opening) if opening else [])]
    publicity = claim_views.publicity(session, [claim_id]).get(claim_id)
    today = local_day(auth.now(request))
    found = heads.of_decisions(session, runs_dir(request), actor.county, [view["decision_id"]])
    return {
        "claim": view, "opening": opening, "moves": moves, "others": others,
        "publicity": publicity, "today": today,
        "waits": {move.to: waits_until(move, view, publicity, today, actor.name) for move in moves},
        "head": _head(actor.role, found.get(view["household_id"])),
        "verified": verified, "department_rows": range(1, DEPARTMENT_ROWS + 1),
        "cause_names": {cause: label for cause, label, _ in verified},
        "kept": {}, "kept_to": None, "errors": {},
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


def _amount(form: FormData, name: str) -> str | None:
    """An amount field as accountants write it (12,000.00, 1.2万) in the exact form the step reads; what is
    not an amount is passed on as typed, for the step to refuse naming its field."""
    text = _text(form, name)
    if text is None:
        return None
    try:
        return format_yuan(parse_amount(text))
    except ValueError:
        return text


def _department_rows(form: FormData) -> list[int]:
    """The department rows filled in, by their row number on the form."""
    return [i for i in range(1, DEPARTMENT_ROWS + 1) if _text(form, f"department_{i}")]


def step_from_form(form: FormData) -> dict[str, Any]:
    """The transition body the API takes, from the claim page's form fields."""
    to = _text(form, "to") or ""
    version = _text(form, "version") or "0"
    body: dict[str, Any] = {"to": to, "version": int(version) if version.isdigit() else 0}
    if to == "surveyed":
        body.update(visit_date=_text(form, "visit_date"), findings=_text(form, "findings"), verified={
            key.removeprefix("verified_"): _amount(form, key) or "0.00" for key in form
            if key.startswith("verified_") and key != "verified_per_capita_income"})
        if _text(form, "verified_per_capita_income"):
            body["verified"]["per_capita_income"] = _amount(form, "verified_per_capita_income")
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
            for i in _department_rows(form)]
    elif to == "filed":
        body["filing_number"] = _text(form, "filing_number")
    elif to == "paid":
        body.update(payment_reference=_text(form, "payment_reference"), amount=_amount(form, "amount"),
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
        kept = {key: value for key, value in form.multi_items() if isinstance(value, str) and key != "csrf"}
        return await run_in_threadpool(_refused, request, viewer, claim_id, status, str(exc), kept,
                                       form_field(body.get("to", ""), getattr(exc, "field", None),
                                                  _department_rows(form)))
    return RedirectResponse(f"/console/claims/{claim_id}?done={body.get('to', '')}", status_code=303)


_SAME = frozenset({"visit_date", "findings", "publicity_start", "filing_number", "payment_reference", "amount",
                   "paid_on", "reason"})


def form_field(to: str, field: str | None, rows: list[int]) -> str | None:
    """The form input a refused step's field (``verified.illness``, ``confirmations[1].reference``) was typed
    in, to show the error beside it; None when the refusal is about no one field."""
    if not field:
        return None
    if field in _SAME:
        return field
    if field.startswith("verified."):
        return "verified_" + field.removeprefix("verified.")
    if field.startswith("deliberation"):
        return "notes"
    if field.startswith("objections"):
        return "objection_by" if field.endswith("raised_by") else "objection_text"
    found = re.match(r"confirmations(?:\[(\d+)\])?\.?(\w+)?", field)
    if found and to == "cross_checked":
        index = int(found.group(1) or 0)
        row = rows[index] if index < len(rows) else 1
        kind = {"reference": "reference", "confirmed": "confirmed"}.get(found.group(2) or "", "department")
        return f"{kind}_{row}"
    return None


def _refused(request: Request, viewer: Viewer, claim_id: int, status: int, message: str,
             kept: dict[str, str] | None = None, field: str | None = None) -> Response:
    """The claim page again, the refused step's form with what was typed and the error beside its field."""
    with request.app.state.sessions() as session, session.begin():
        try:
            context = _claim_context(request, session, viewer, claim_id)
        except REFUSALS:
            return render(request, "error.html", {"status": status, "title": TITLES.get(status, "错误"),
                                                  "detail": message}, viewer=viewer, status=status)
        kept = kept or {}
        inline = re.sub(r"^[\w.\[\]]+: ", "", message)  # the field is named by where the error stands
        return render(request, "claim.html", {
            **context, "done": None, "error": message, "error_title": TITLES.get(status, "错误"),
            "kept": kept, "kept_to": kept.get("to"), "errors": {field: inline} if field else {}},
            viewer=viewer, status=status)
