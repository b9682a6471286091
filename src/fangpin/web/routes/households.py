"""One household: search by household id, head's name or ID number; its facts, every decision explained,
its claims and their history."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from fangpin import privacy
from fangpin.services import claim_views, households
from fangpin.web import auth
from fangpin.web.auth import DB, Viewer
from fangpin.web.render import error_page, json_answer, render, runs_dir

router = APIRouter()
Query_ = Annotated[str, Query(max_length=100)]


def _hits(request: Request, session: DB, viewer: Viewer, q: str) -> list[dict[str, Any]]:
    """The search's hits with the head's name and ID number as the viewer's role may see them
    (``fangpin.privacy``)."""
    actor = viewer.actor
    hits = households.search(session, runs_dir(request), actor.county, q, scope=actor.scope)
    return [{"household_id": hit.household_id, "head_name": privacy.name_for(actor.role, hit.head_name),
             "head_id": privacy.id_for(actor.role, hit.head_id), "township": hit.township, "village": hit.village,
             "decisions": hit.decisions, "years": hit.years, "found_by": hit.found_by} for hit in hits]


@router.get("/households", response_class=HTMLResponse, include_in_schema=False)
def search_page(request: Request, session: DB, viewer: Annotated[Viewer, Depends(auth.page("households"))],
                q: Query_ = "") -> Response:
    hits = _hits(request, session, viewer, q) if q.strip() else []
    return render(request, "households.html", {"q": q, "hits": hits}, viewer=viewer)


@router.get("/api/households", include_in_schema=False)
def search_data(request: Request, session: DB, viewer: Annotated[Viewer, Depends(auth.data("households"))],
                q: Query_ = "") -> Response:
    hits = _hits(request, session, viewer, q)
    return json_answer({"items": [{key: value for key, value in hit.items() if key != "found_by"} for hit in hits]})


@router.get("/households/{household_id}", response_class=HTMLResponse, include_in_schema=False)
def household_page(request: Request, household_id: str, session: DB,
                   viewer: Annotated[Viewer, Depends(auth.page("households"))]) -> Response:
    county = viewer.actor.county
    records = households.decisions_of(session, viewer.actor, household_id)
    claim_list = claim_views.claims_of_household(session, viewer.actor, household_id)
    if not records and not claim_list:
        detail = f"本县(区)({county})没有户编号为 {household_id} 的判定或理赔"
        return error_page(request, 404, "没有这户", detail, viewer)
    explained = [households.explain(session, record) for record in records]
    head = households.head_of(session, runs_dir(request), county, household_id, records)
    head = {**head, "head_name": privacy.name_for(viewer.actor.role, head["head_name"]),
            "head_id": privacy.id_for(viewer.actor.role, head["head_id"])}
    latest = records[0] if records else None
    return render(request, "household.html", {
        "household_id": household_id, "latest": latest, "explained": explained, "head": head,
        "claims": claim_list,
        "latest_causes": (latest_causes := households.cause_labels(session, latest) if latest else []),
        "latest_bases": households.bases_of(latest) if latest else {},
        "latest_labels": households.labels_of(session, latest) if latest else None,
        "cause_names": {cause: label for record in records[:5]
                        for cause, label in households.cause_labels(session, record)} | dict(latest_causes),
    }, viewer=viewer)
