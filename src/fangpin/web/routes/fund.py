"""The county's fund for a year (docs/policy.md section 7): the line of the API's fund service, month by month, and
the office's fiscal inputs."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from fangpin.claims import FUND_KEEPERS
from fangpin.services import fund as fund_service
from fangpin.services import runs
from fangpin.web import auth, charts
from fangpin.web.actions import REFUSALS, TITLES, perform, status_of
from fangpin.web.auth import DB, Viewer
from fangpin.web.render import json_answer, render

router = APIRouter()
Year = Annotated[int | None, Query(ge=1990, le=2200)]


def _default_year(session: Session, county: str) -> int:
    return runs.latest_year(session, county) or dt.date.today().year


def _page(request: Request, session: Session, viewer: Viewer, year: int, *, error: str | None = None,
          status: int = 200) -> Response:
    county = viewer.actor.county
    line = fund_service.read_fund(session, viewer.actor, county, year).to_json_dict()
    inputs = fund_service.inputs_of(session, county, year)
    owed = fund_service.fund_status(session, county, year)
    return render(request, "fund.html", {"year": year, "line": line, "inputs": inputs, "error": error,
                                         "status": owed,
                                         "may_input": viewer.actor.role in FUND_KEEPERS,
                                         "done": request.query_params.get("done")}, viewer=viewer, status=status)


@router.get("/fund", response_class=HTMLResponse, include_in_schema=False)
def fund_page(request: Request, session: DB, viewer: Annotated[Viewer, Depends(auth.page("fund"))],
              year: Year = None) -> Response:
    return _page(request, session, viewer, year or _default_year(session, viewer.actor.county))


@router.get("/api/fund/{year}/chart", include_in_schema=False)
def fund_chart(year: Annotated[int, Path(ge=1990, le=2200)], session: DB,
               viewer: Annotated[Viewer, Depends(auth.data("fund"))]) -> Response:
    return json_answer(charts.fund_chart(session, viewer.actor.county, year))


@router.post("/fund/inputs", include_in_schema=False)
def add_input(request: Request, viewer: Annotated[Viewer, Depends(auth.action("fund"))],
              year: Annotated[int, Form(ge=1990, le=2200)], amount: Annotated[str, Form(max_length=40)]) -> Response:
    """The office records fiscal money put into the fund (``services.fund.add_input``)."""
    try:
        perform(request, viewer, lambda session: fund_service.add_input(
            session, viewer.actor, viewer.actor.county, year, amount.strip().replace(",", ""), auth.now(request)))
    except REFUSALS as exc:
        status = status_of(exc)
        with request.app.state.sessions() as session, session.begin():
            return _page(request, session, viewer, year, error=f"{TITLES.get(status, '错误')}:{exc}", status=status)
    return RedirectResponse(f"/console/fund?year={year}&done=input", status_code=303)
