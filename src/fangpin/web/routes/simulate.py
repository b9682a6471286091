"""Policy simulation (政策模拟): the impact of a draft pack on the county's stored runs (``services.simulate``),
with charts, and the office's draft packs: uploaded as a zip, or a shipped pack with some parameters changed
in a form (``services.drafts``).

Submitting the form queues a simulation job (``services.jobs``, kind ``simulate``): re-deciding a large run
takes minutes, which a web request should not hold. The job's page shows it queued or running (static/
simulate.js polls its state; without scripts the page reloads itself), then the impact report kept in the
job's record, with its charts; a failed simulation shows why. Like screening, one job of a county runs at a
time; a job whose worker died is failed."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from fangpin.claims import FUND_KEEPERS
from fangpin.errors import FangpinError
from fangpin.packs import Pack, available_packs, load_pack
from fangpin.services import access_log, drafts, jobs, runs
from fangpin.services.simulate import check_request
from fangpin.web import auth
from fangpin.web.actions import REFUSALS, perform, status_of
from fangpin.web.auth import DB, Viewer
from fangpin.web.charts import chart_yuan
from fangpin.web.labels import OUTCOMES
from fangpin.web.render import error_page, json_answer, render, runs_dir
from fangpin.web.routes.screening import database_url

router = APIRouter()
RunId = Annotated[str | None, Query(max_length=40)]
PackRef = Annotated[str | None, Query(max_length=100)]
InputText = Annotated[str | None, Query(alias="input", max_length=40)]
REFRESH_SECONDS = 2
SIMULATE_STAGES = (("replay", "重新判定"), ("impact", "计算影响"))


def _shipped() -> list[Pack]:
    try:
        return available_packs()
    except FangpinError:
        return []


def _context(request: Request, session: Session, viewer: Viewer, **extra: Any) -> dict[str, Any]:
    shipped = _shipped()
    return {"runs": runs.latest_runs(session, viewer.actor.county, limit=200), "packs": shipped,
            "drafts": drafts.list_drafts(drafts.drafts_root(runs_dir(request))),
            "may_upload": viewer.actor.role in FUND_KEEPERS, "money_parameters": _money_parameters(shipped),
            "run_id": None, "pack_ref": None, "fiscal_input": "", "result": None, "error": None, "job": None,
            "stages": SIMULATE_STAGES, "refresh": None, "parameter_names": {},
            "uploaded": request.query_params.get("uploaded"), **extra}


def _money_parameters(packs: list[Pack]) -> dict[str, list[dict[str, str]]]:
    """Per shipped pack, the parameters a form may change: money and ratios, with their values."""
    found: dict[str, list[dict[str, str]]] = {}
    for pack in packs:
        named = pack.people_labels.parameters
        found[pack.id] = [{"name": name, "value": str(getattr(parameter, "value", "")),
                           "label": named.get(name, name), "description": parameter.description}
                          for name, parameter in pack.parameters.items() if parameter.type in ("money", "ratio")]
    return found


@router.get("/simulate", response_class=HTMLResponse, include_in_schema=False)
def simulate_page(request: Request, session: DB, viewer: Annotated[Viewer, Depends(auth.page("simulate"))],
                  run: RunId = None, pack: PackRef = None, fiscal_input: InputText = None) -> Response:
    """The form (a run and a pack given in the address are chosen in it); it is sent by POST."""
    return render(request, "simulate.html", _context(request, session, viewer, run_id=run, pack_ref=pack,
                                                     fiscal_input=fiscal_input or ""), viewer=viewer)


@router.post("/simulate", include_in_schema=False)
def start_simulation(request: Request, viewer: Annotated[Viewer, Depends(auth.action("simulate"))],
                     run: Annotated[str, Form(max_length=40)] = "", pack: Annotated[str, Form(max_length=100)] = "",
                     fiscal_input: Annotated[str, Form(alias="input", max_length=40)] = "") -> Response:
    """Check what can be checked at once (role, county, run, pack, amount), then queue the simulation."""
    run, pack, fiscal = run.strip(), pack.strip(), fiscal_input.strip().replace(",", "")

    def again(status: int, message: str) -> Response:
        with request.app.state.sessions() as session, session.begin():
            context = _context(request, session, viewer, run_id=run, pack_ref=pack, fiscal_input=fiscal_input,
                               error=message)
            return render(request, "simulate.html", context, viewer=viewer, status=status)

    if not run or not pack:
        return again(422, "请选择筛查运行和要模拟的规则包")
    root = drafts.drafts_root(runs_dir(request))
    try:
        asked = perform(request, viewer, lambda session: check_request(session, viewer.actor, [run], pack, root,
                                                                        fiscal or None))
    except (*REFUSALS, FangpinError) as exc:
        return again(status_of(exc) if isinstance(exc, REFUSALS) else 409, _chinese(exc))
    job = jobs.enqueue_simulation(database_url(request), county=asked.county, year=asked.year,
                                  user=viewer.actor.name, runs=asked.runs, pack=pack, fiscal_input=fiscal or None,
                                  drafts_dir=root, runs_dir=runs_dir(request))
    return RedirectResponse(f"/console/simulate/jobs/{job['id']}", status_code=303)


def _chinese(exc: BaseException) -> str:
    """A refusal as the page says it: in Chinese, with the service's own words (naming file, key or run)."""
    status = status_of(exc)
    lead = {403: "无权模拟", 404: "未找到", 409: "无法模拟", 422: "填写有误"}.get(status, "无法模拟")
    return f"{lead}:{exc}"


def _parameter_names(pack: str, root: Path) -> dict[str, str]:
    """The simulated pack's parameters by their labels (a draft takes those of the pack it extends); ids
    where the pack can no longer be read (a draft removed since)."""
    try:
        folder, _draft = drafts.pack_to_simulate(pack, root)
        return dict(load_pack(folder).people_labels.parameters)
    except FangpinError:
        return {}


def _job_for(request: Request, viewer: Viewer, job_id: str) -> dict[str, Any] | None:
    job = jobs.get(database_url(request), job_id)
    if job is None or job.get("kind") != "simulate":
        return None
    auth.same_county(viewer, str(job["county"]), "该模拟任务")
    return job


@router.get("/simulate/jobs/{job_id}", response_class=HTMLResponse, include_in_schema=False)
def simulation_job_page(request: Request, job_id: str, session: DB,
                        viewer: Annotated[Viewer, Depends(auth.page("simulate"))]) -> Response:
    """The job queued or running (followed until it ends), failed (why), or done: the impact and charts."""
    job = _job_for(request, viewer, job_id)
    if job is None:
        return error_page(request, 404, "没有这个模拟任务", f"模拟任务 {job_id[:64]} 不存在", viewer)
    context = _context(request, session, viewer, job=job, run_id=(job["runs"] or [None])[0], pack_ref=job["pack"],
                       fiscal_input=job["fiscal_input"] or "")
    if job["state"] in jobs.ACTIVE:
        return render(request, "simulate.html", {**context, "refresh": REFRESH_SECONDS}, viewer=viewer)
    if job["state"] == "failed":
        return render(request, "simulate.html", {**context, "error": f"模拟失败,没有得到结果:{job['error']}"},
                      viewer=viewer)
    impact = jobs.result_of(database_url(request), job_id)
    if impact is None:
        return render(request, "simulate.html", {**context, "error": "模拟已完成,但没有找到结果:请重新提交模拟"},
                      viewer=viewer)
    for run_id in impact.get("runs", []):
        access_log.note(session, "run", run_id)
    return render(request, "simulate.html", {
        **context, "result": impact, "labels_of": {"groups": impact["group_labels"], "outcomes": OUTCOMES},
        "parameter_names": _parameter_names(str(job["pack"] or ""), drafts.drafts_root(runs_dir(request))),
        "chart_src": f"/console/api/simulate/jobs/{job['id']}/chart"}, viewer=viewer)


@router.get("/api/simulate/jobs/{job_id}", include_in_schema=False)
def simulation_job_state(request: Request, job_id: str,
                         viewer: Annotated[Viewer, Depends(auth.data("simulate"))]) -> Response:
    """The job's state, for polling (queued, running with its stages, done, failed with its error)."""
    job = _job_for(request, viewer, job_id)
    if job is None:
        return json_answer({"status": 404, "detail": f"没有模拟任务 {job_id[:64]}"}, 404)
    return json_answer(job)


@router.get("/api/simulate/jobs/{job_id}/chart", include_in_schema=False)
def simulate_chart(request: Request, job_id: str,
                   viewer: Annotated[Viewer, Depends(auth.data("simulate"))]) -> Response:
    job = _job_for(request, viewer, job_id)
    impact = jobs.result_of(database_url(request), job_id) if job is not None else None
    if impact is None:
        return json_answer({"error": "没有这个模拟任务的结果"}, 404)
    return json_answer(impact_charts(impact))


def _state(groups: dict[str, str], group: str | None, outcome: str) -> str:
    return f"{groups.get(group, group) if group else '—'}·{OUTCOMES.get(outcome, outcome)}"


def impact_charts(impact: dict[str, Any]) -> dict[str, Any]:
    """What the charts draw: township bars before and after, the flows between states, the bands."""
    towns = impact["by_township"]
    groups = impact["group_labels"]
    links = [{"source": "原:" + _state(groups, f["group_before"], f["outcome_before"]),
              "target": "新:" + _state(groups, f["group_after"], f["outcome_after"]), "value": f["households"]}
             for f in impact["flows"] if f["households"]]
    nodes = sorted({link["source"] for link in links} | {link["target"] for link in links})
    return {
        "townships": {"names": [t["township"] for t in towns],
                      "before": [chart_yuan(t["payout_before"]) for t in towns],
                      "after": [chart_yuan(t["payout_after"]) for t in towns],
                      "difference": [chart_yuan(t["payout_difference"]) for t in towns],
                      "entering": [t["entering"] for t in towns], "leaving": [t["leaving"] for t in towns]},
        "flows": {"nodes": [{"name": name} for name in nodes], "links": links},
        "bands": {"labels": [b["label"] for b in impact["bands"]], "keys": [b["band"] for b in impact["bands"]],
                  "households": [b["households"] for b in impact["bands"]],
                  "difference": [chart_yuan(b["payout_difference"]) for b in impact["bands"]]},
    }


def _refused(request: Request, viewer: Viewer, exc: Exception) -> Response:
    with request.app.state.sessions() as session, session.begin():
        return render(request, "simulate.html", {**_context(request, session, viewer), "error": str(exc)},
                      viewer=viewer, status=status_of(exc) if isinstance(exc, REFUSALS) else 422)


@router.post("/simulate/drafts", include_in_schema=False)
async def upload_draft(request: Request, viewer: Annotated[Viewer, Depends(auth.action("simulate"))],
                       pack: Annotated[UploadFile, File()]) -> Response:
    """The office uploads a draft pack folder as a zip: validated, stored by its hash, marked draft."""
    if viewer.actor.role not in FUND_KEEPERS:
        raise auth.Forbidden("只有防贫办可以上传规则包草案", viewer)
    data = await pack.read(drafts.MAX_ZIP_BYTES + 1)
    root = drafts.drafts_root(runs_dir(request))
    try:
        draft = perform(request, viewer, lambda _session: drafts.store_draft(data, root, viewer.actor.name,
                                                                            auth.now(request)))
    except REFUSALS as exc:
        return _refused(request, viewer, exc)
    return RedirectResponse(f"/console/simulate?uploaded={draft.hash}", status_code=303)


@router.post("/simulate/drafts/form", include_in_schema=False)
async def draft_from_form(request: Request, viewer: Annotated[Viewer, Depends(auth.action("simulate"))],
                          base: Annotated[str, Form(max_length=100)],
                          title: Annotated[str, Form(max_length=200)] = "") -> Response:
    """The office changes some parameters of a shipped pack in a form: a draft that extends that pack."""
    if viewer.actor.role not in FUND_KEEPERS:
        raise auth.Forbidden("只有防贫办可以制作规则包草案", viewer)
    form = await request.form()
    prefix = f"param:{base}:"  # the form lists every shipped pack's parameters; only the base's count
    changes = {key.removeprefix(prefix): value.strip().replace(",", "") for key, value in form.multi_items()
               if key.startswith(prefix) and isinstance(value, str) and value.strip()}
    root = drafts.drafts_root(runs_dir(request))
    try:
        draft = perform(request, viewer, lambda _session: drafts.draft_from_changes(
            base, changes, root, viewer.actor.name, title=title.strip(), now=auth.now(request)))
    except REFUSALS as exc:
        return _refused(request, viewer, exc)
    return RedirectResponse(f"/console/simulate?uploaded={draft.hash}", status_code=303)
