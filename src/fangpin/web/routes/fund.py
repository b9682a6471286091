"""The county's fund for a year (docs/policy.md section 7): the line of the API's fund service, month by month, and
the office's fiscal inputs: typed, checked and shown back for confirmation (the amount grouped and in capital
numerals, a warning when the same amount was recorded already), then recorded; a correction is a new input
naming the one it corrects, never an edit. A refused input comes back with what was typed and the error
beside its field."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from fangpin.amount_words import in_words
from fangpin.claims import FUND_KEEPERS, InvalidRequest, local_day
from fangpin.money import format_yuan, from_fen, parse_amount
from fangpin.services import fund as fund_service
from fangpin.services import runs
from fangpin.web import auth, charts
from fangpin.web.actions import REFUSALS, TITLES, perform, status_of
from fangpin.web.auth import DB, Viewer
from fangpin.web.render import json_answer, render

router = APIRouter()
Year = Annotated[int | None, Query(ge=1990, le=2200)]
Text = Annotated[str, Form(max_length=400)]
FIELDS = ("amount", "paid_on", "purpose", "corrects")


def _default_year(session: Session, county: str) -> int:
    return runs.latest_year(session, county) or dt.date.today().year


def _page(request: Request, session: Session, viewer: Viewer, year: int, *, error: str | None = None,
          errors: dict[str, str] | None = None, typed: dict[str, str] | None = None,
          review: dict[str, Any] | None = None, status: int = 200) -> Response:
    county = viewer.actor.county
    line = fund_service.read_fund(session, viewer.actor, county, year).to_json_dict()
    entries = fund_service.ledger(session, county, year)
    owed = fund_service.fund_status(session, county, year)
    correcting = (typed or {}).get("corrects") or request.query_params.get("corrects") or ""
    return render(request, "fund.html", {
        "year": year, "line": line, "inputs": entries, "error": error, "errors": errors or {},
        "typed": typed or {}, "review": review, "status": owed, "correcting": correcting,
        "originals": [entry for entry in entries if entry["corrects_id"] is None],
        "today": local_day(auth.now(request)).isoformat(),
        "may_input": viewer.actor.role in FUND_KEEPERS, "done": request.query_params.get("done")},
        viewer=viewer, status=status)


@router.get("/fund", response_class=HTMLResponse, include_in_schema=False)
def fund_page(request: Request, session: DB, viewer: Annotated[Viewer, Depends(auth.page("fund"))],
              year: Year = None) -> Response:
    return _page(request, session, viewer, year or _default_year(session, viewer.actor.county))


@router.get("/api/fund/{year}/chart", include_in_schema=False)
def fund_chart(year: Annotated[int, Path(ge=1990, le=2200)], session: DB,
               viewer: Annotated[Viewer, Depends(auth.data("fund"))]) -> Response:
    return json_answer(charts.fund_chart(session, viewer.actor.county, year))


def _read(typed: dict[str, str]) -> tuple[str, dt.date | None, int | None]:
    """The form's amount (as accountants write it), day and corrected input, or InvalidRequest naming the
    field."""
    try:
        amount = format_yuan(parse_amount(typed["amount"]))
    except ValueError as exc:
        raise InvalidRequest(f"amount: {exc}", field="amount") from None
    try:
        day = dt.date.fromisoformat(typed["paid_on"]) if typed["paid_on"] else None
    except ValueError:
        raise InvalidRequest(f"paid_on: {typed['paid_on']} is not a date (YYYY-MM-DD)", field="paid_on") from None
    if day is None:
        raise InvalidRequest("paid_on: the day the money came is required", field="paid_on")
    corrects = typed["corrects"].lstrip("#")
    if corrects and not corrects.isdigit():
        raise InvalidRequest(f"corrects: {typed['corrects']} is not an input's number", field="corrects")
    return amount, day, int(corrects) if corrects else None


def _review(checked: fund_service.InputReview) -> dict[str, Any]:
    """What the confirmation shows: the amount grouped and in capital numerals, the duplicates."""
    return {
        "amount": checked.amount, "typed": checked.typed, "words": in_words(from_fen(checked.amount)),
        "typed_words": in_words(from_fen(checked.typed)), "paid_on": checked.paid_on.isoformat(),
        "purpose": checked.purpose, "corrects": checked.corrects.id if checked.corrects else None,
        "corrected_from": checked.corrected_from,
        "duplicates": [{"id": row.id, "paid_on": row.paid_on, "at": row.at, "purpose": row.purpose,
                        "recorded_by": row.recorded_by} for row in checked.duplicates],
    }


@router.post("/fund/inputs", include_in_schema=False)
def add_input(request: Request, viewer: Annotated[Viewer, Depends(auth.action("fund"))],
              year: Annotated[int, Form(ge=1990, le=2200)], amount: Text = "", paid_on: Text = "",
              purpose: Text = "", corrects: Text = "", confirm: Text = "", seen: Text = "") -> Response:
    """The office records fiscal money put into the fund in two steps: the form is checked and shown back
    (nothing stored), then recorded once confirmed (``services.fund``). A confirmation that finds more inputs
    of the same amount than were shown is shown back again."""
    typed = {"amount": amount.strip(), "paid_on": paid_on.strip(), "purpose": purpose.strip(),
             "corrects": corrects.strip()}
    actor = viewer.actor
    try:
        value, day, corrected = _read(typed)
        with request.app.state.sessions() as session, session.begin():
            checked = fund_service.check_input(session, actor, actor.county, year, value, paid_on=day,
                                               purpose=typed["purpose"], corrects=corrected, at=auth.now(request))
            review = _review(checked)
            if confirm != "yes" or len(checked.duplicates) > (int(seen) if seen.isdigit() else 0):
                return _page(request, session, viewer, year, typed=typed, review=review)
        perform(request, viewer, lambda session: fund_service.add_input(
            session, actor, actor.county, year, value, auth.now(request), paid_on=day, purpose=typed["purpose"],
            corrects=corrected, purpose_required=True))
    except REFUSALS as exc:
        status = status_of(exc)
        field = getattr(exc, "field", None)
        message = str(exc)
        if field in FIELDS and message.startswith(f"{field}: "):
            message = message.removeprefix(f"{field}: ")
        with request.app.state.sessions() as session, session.begin():
            return _page(request, session, viewer, year, typed=typed, status=status,
                         errors={field: message} if field in FIELDS else {},
                         error=None if field in FIELDS else f"{TITLES.get(status, '错误')}:{message}")
    return RedirectResponse(f"/console/fund?year={year}&done={'correction' if typed['corrects'] else 'input'}",
                            status_code=303)
