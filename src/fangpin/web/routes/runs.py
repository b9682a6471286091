"""Screening runs and their report: files, rejected rows, households to visit, all decisions, charts,
downloads, and opening the claims of a run's paying households."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from fangpin import privacy
from fangpin.services import claims as claims_service
from fangpin.services import heads, runfiles, runs
from fangpin.services.runs import Run
from fangpin.web import auth, charts
from fangpin.web.actions import REFUSALS, TITLES, perform, status_of
from fangpin.web.auth import DB, Viewer
from fangpin.web.render import error_page, json_answer, render, runs_dir

router = APIRouter()
PageNo = Annotated[int, Query(ge=1, le=10**9)]
Size = Annotated[int, Query(ge=1, le=runfiles.MAX_PAGE_SIZE)]
Filter = Annotated[str | None, Query(max_length=200)]


class RunMissing(Exception):
    pass


def _run(session: Session, viewer: Viewer, run_id: str) -> Run:
    run = runs.get_run(session, run_id)
    if run is None:
        raise RunMissing(run_id)
    auth.same_county(viewer, run.county, f"运行 {run_id} ")
    if viewer.actor.scope:  # a run covers the whole county
        raise auth.Forbidden(f"{viewer.actor.name}仅限 {viewer.actor.scope},不能查看全县的筛查运行", viewer)
    return run


def _missing(request: Request, viewer: Viewer, run_id: str) -> Response:
    return error_page(request, 404, "没有这次运行", f"数据库中没有运行 {run_id}", viewer)


def _folder(request: Request, run: Run) -> Path | None:
    return runfiles.run_folder(runs_dir(request), run.id)


def _no_files(request: Request, viewer: Viewer, run: Run) -> Response:
    return error_page(request, 404, "结果文件不在", f"运行 {run.id} 的结果文件不在运行目录 {runs_dir(request)} 中"
                      "(用 --out 写到了别处?)。汇总和图表仍可查看。", viewer)


def _page_files(request: Request, session: Session, viewer: Viewer, run_id: str) -> tuple[Run, Path] | Response:
    """The run and the folder of its result files, or the error page saying which is missing."""
    try:
        run = _run(session, viewer, run_id)
    except RunMissing:
        return _missing(request, viewer, run_id)
    folder = _folder(request, run)
    return _no_files(request, viewer, run) if folder is None else (run, folder)


def _data_files(request: Request, session: Session, viewer: Viewer, run_id: str) -> tuple[Run, Path] | Response:
    """As ``_page_files``, for the data endpoints: a JSON 404 instead of a page."""
    try:
        run = _run(session, viewer, run_id)
    except RunMissing:
        return json_answer({"status": 404, "detail": f"no run {run_id}"}, 404)
    folder = _folder(request, run)
    if folder is None:
        return json_answer({"status": 404, "detail": f"the files of run {run_id} are not in the runs folder"}, 404)
    return run, folder


@router.get("/runs", response_class=HTMLResponse, include_in_schema=False)
def runs_page(request: Request, session: DB, viewer: Annotated[Viewer, Depends(auth.page("runs"))],
              page: PageNo = 1, size: Size = 20) -> Response:
    listed, page, total = runs.runs_page(session, viewer.actor.county, page, size)
    pager = runfiles.Page(items=[], total=total, page=page, size=size)
    return render(request, "runs.html", {"runs": listed, "pager": pager}, viewer=viewer)


@router.get("/runs/{run_id}", response_class=HTMLResponse, include_in_schema=False)
def run_page(request: Request, run_id: str, session: DB,
             viewer: Annotated[Viewer, Depends(auth.page("runs"))]) -> Response:
    try:
        run = _run(session, viewer, run_id)
    except RunMissing:
        return _missing(request, viewer, run_id)
    folder = _folder(request, run)
    summary = runfiles.run_summary(folder)
    pack = runs.run_pack(session, run)
    claims_opened = runs.claims_opened(session, run.id)
    context = {
        "run": run, "summary": summary, "folder": folder, "pack": pack,
        "fee_rate": pack.rate(pack.rules_file.fee.rate),
        "downloads": [name for name in runfiles.DOWNLOADS if folder is not None and (folder / name).is_file()],
        "townships": (townships := charts.run_totals_by_township(session, run.id)),
        "causes": (causes := runs.run_causes(session, run.id)),
        "cause_totals": {cause: sum(row.get(cause, 0) for row in townships) for cause, _ in causes},
        "totals": run.counts.get("totals", {}), "rows": run.counts.get("rows", {}),
        "claims_opened": claims_opened, "opened": request.query_params.get("opened"),
    }
    return render(request, "run.html", context, viewer=viewer)


@router.get("/runs/{run_id}/rejections", response_class=HTMLResponse, include_in_schema=False)
def rejections_page(request: Request, run_id: str, session: DB,
                    viewer: Annotated[Viewer, Depends(auth.page("runs"))], page: PageNo = 1, size: Size = 50,
                    reason: Filter = None, file: Filter = None, field: Filter = None) -> Response:
    found = _page_files(request, session, viewer, run_id)
    if isinstance(found, Response):
        return found
    run, folder = found
    table = runfiles.page_of(runfiles.rejections(folder, reason=reason, file=file, field=field,
                                                     role=viewer.actor.role), page, size)
    download = f"/console/runs/{quote(run.id)}/rejections.csv" + (f"?{request.url.query}" if request.url.query else "")
    facets = runfiles.rejection_facets(folder)
    return render(request, "rejections.html", {
        "run": run, "pager": table, "rows": runfiles.labelled_rejections(table, run.inputs),
        "facets": facets, "fields": runfiles.field_facets(facets["field"], run.inputs or []),
        "reason": reason, "file": file, "field": field,
        "download": download, "sizes": runfiles.PAGE_SIZES}, viewer=viewer)


@router.get("/api/runs/{run_id}/rejections", include_in_schema=False)
def rejections_data(request: Request, run_id: str, session: DB,
                    viewer: Annotated[Viewer, Depends(auth.data("runs"))], page: PageNo = 1, size: Size = 50,
                    reason: Filter = None, file: Filter = None, field: Filter = None) -> Response:
    """One page of the run's rejected rows, filtered: {items, total, page, size, pages}."""
    found = _data_files(request, session, viewer, run_id)
    if isinstance(found, Response):
        return found
    _run_row, folder = found
    table = runfiles.page_of(runfiles.rejections(folder, reason=reason, file=file, field=field,
                                                     role=viewer.actor.role), page, size)
    return json_answer({**table.to_json(), "items": runfiles.labelled_rejections(table)})


@router.get("/runs/{run_id}/rejections.csv", include_in_schema=False)
def rejections_download(request: Request, run_id: str, session: DB,
                        viewer: Annotated[Viewer, Depends(auth.data("runs"))], reason: Filter = None,
                        file: Filter = None, field: Filter = None) -> Response:
    """The rejected rows as filtered on the page (all of them when unfiltered), as CSV."""
    found = _data_files(request, session, viewer, run_id)
    if isinstance(found, Response):
        return found
    run, folder = found
    if not (reason or file or field):
        return _file(folder, run, "rejections.csv", viewer)
    body = runfiles.csv_bytes(runfiles.rejections(folder, reason=reason, file=file, field=field,
                                                     role=viewer.actor.role))
    name = f"rejections-{run.id}-filtered.csv"
    return Response(body, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}",
                             "Cache-Control": "no-store"})


@router.get("/runs/{run_id}/visits", response_class=HTMLResponse, include_in_schema=False)
def visits_page(request: Request, run_id: str, session: DB, viewer: Annotated[Viewer, Depends(auth.page("runs"))],
                page: PageNo = 1, size: Size = 50, township: Filter = None, village: Filter = None) -> Response:
    found = _page_files(request, session, viewer, run_id)
    if isinstance(found, Response):
        return found
    run, folder = found
    visits = runfiles.visits(folder, township=township, village=village, role=viewer.actor.role)
    table = runfiles.page_of(visits, page, size)
    places = runfiles.visit_places(folder)
    return render(request, "visits.html", {
        "run": run, "pager": table, "places": places, "township": township, "village": village,
        "townships": sorted({place["township"] for place in places if place["township"]}),
        "villages": sorted({place["village"] for place in places if place["village"]
                            and (not township or place["township"] == township)}),
        "sizes": runfiles.PAGE_SIZES}, viewer=viewer)


@router.get("/runs/{run_id}/decisions", response_class=HTMLResponse, include_in_schema=False)
def decisions_page(request: Request, run_id: str, session: DB,
                   viewer: Annotated[Viewer, Depends(auth.page("runs"))], page: PageNo = 1, size: Size = 50,
                   outcome: Filter = None, household: Filter = None) -> Response:
    found = _page_files(request, session, viewer, run_id)
    if isinstance(found, Response):
        return found
    run, folder = found
    table = runfiles.page_of(runfiles.decisions(folder, outcome=outcome, household=household), page, size)
    table = _with_heads(request, session, viewer, run, table)
    return render(request, "decisions.html", {"run": run, "pager": table, "outcome": outcome,
                                              "causes": runs.run_causes(session, run.id),
                                              "pack_labels": runs.run_labels(session, run.id),
                                              "household": household, "sizes": runfiles.PAGE_SIZES}, viewer=viewer)


def _with_heads(request: Request, session: Session, viewer: Viewer, run: Run, table: runfiles.Page) -> runfiles.Page:
    """The page's decisions with each household's head (named as the viewer's role may see it: ``privacy``),
    township and village, from the run's register."""
    found = heads.of_households(session, runs_dir(request), run.county,
                                [str(row["household_id"]) for row in table.items], runs=[run.id])
    items = []
    for row in table.items:
        head = found.get(str(row["household_id"])) or heads.Head()
        items.append({**row, "head_name": privacy.name_for(viewer.actor.role, head.head_name),
                      "township": head.township, "village": head.village})
    return runfiles.Page(items=items, total=table.total, page=table.page, size=table.size)


def _file(folder: Path, run: Run, name: str, viewer: Viewer) -> Response:
    """A result file as it is, or masked for a role that may not see every personal field in it."""
    path = folder / name
    if not path.is_file():
        return json_answer({"status": 404, "detail": f"run {run.id} has no {name}"}, 404)
    stem, _, suffix = name.partition(".")
    filename = f"{stem}-{run.id}.{suffix}"
    masked = runfiles.download_for(folder, name, viewer.actor.role)
    if masked is not None:
        return Response(masked, media_type=runfiles.DOWNLOADS[name],
                        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}",
                                 "Cache-Control": "no-store"})
    return FileResponse(path, media_type=runfiles.DOWNLOADS[name], filename=filename,
                        headers={"Cache-Control": "no-store"})


@router.get("/runs/{run_id}/files/{name}", include_in_schema=False)
def download(request: Request, run_id: str, name: str, session: DB,
             viewer: Annotated[Viewer, Depends(auth.data("runs"))]) -> Response:
    if name not in runfiles.DOWNLOADS:
        return json_answer({"status": 404, "detail": f"no such file {name}"}, 404)
    found = _data_files(request, session, viewer, run_id)
    if isinstance(found, Response):
        return found
    run, folder = found
    return _file(folder, run, name, viewer)


@router.get("/api/runs/{run_id}/charts/{chart}", include_in_schema=False)
def chart_data(run_id: str, chart: str, session: DB, viewer: Annotated[Viewer, Depends(auth.data("runs"))]) -> Response:
    """The figures of one of the run's charts: payouts (by township and cause), income, outcomes."""
    try:
        run = _run(session, viewer, run_id)
    except RunMissing:
        return json_answer({"status": 404, "detail": f"no run {run_id}"}, 404)
    if chart == "payouts":
        return json_answer(charts.payouts_chart(session, run.id))
    if chart == "outcomes":
        return json_answer(charts.outcomes_chart(session, run.id))
    if chart == "income":
        pack = runs.run_pack(session, run)
        return json_answer({**charts.income_chart(session, run.id, charts.income_ceiling(pack)),
                            "pack": f"{pack.id} {pack.meta.version}"})
    return json_answer({"status": 404, "detail": f"no chart {chart}"}, 404)


@router.post("/runs/{run_id}/open-claims", include_in_schema=False)
def open_claims(request: Request, run_id: str, viewer: Annotated[Viewer, Depends(auth.action("runs"))]) -> Response:
    """自上而下: open a claim for each paying household of the run (the office; the API's service)."""

    def work(session: Session) -> dict[str, Any]:
        run = _run(session, viewer, run_id)
        return claims_service.open_from_screening(session, viewer.actor, run.id, now=auth.now(request))

    try:
        opened = perform(request, viewer, work)
    except RunMissing:
        return _missing(request, viewer, run_id)
    except REFUSALS as exc:
        status = status_of(exc)
        return error_page(request, status, TITLES.get(status, "未能立案"), str(exc), viewer)
    return RedirectResponse(f"/console/runs/{quote(run_id)}?opened={len(opened['opened'])}", status_code=303)
