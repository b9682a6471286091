"""Simulations of a draft pack over stored runs, and the draft packs themselves (docs/simulate.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Request, Response
from fastapi import Path as PathParam
from sqlalchemy.orm import Session

from fangpin.api.deps import ActorDep, ClockDep, JsonBody, SessionDep, answer, commit
from fangpin.api.errors import PROBLEM_RESPONSES
from fangpin.api.schemas import SIMULATION_IN, DraftOut, SimulationJobOut, SimulationOut, body
from fangpin.claims import FUND_KEEPERS, InvalidRequest, NotAllowed, NotFound
from fangpin.config import get_settings
from fangpin.labels import ROLES as ROLE_NAMES
from fangpin.labels import label
from fangpin.services import drafts, jobs
from fangpin.services.simulate import SIMULATORS, check_request, simulate

router = APIRouter(tags=["simulations"])


def drafts_dir(request: Request) -> Path:
    """Where drafts are stored: beside the runs (the console's runs folder when it has one of its own)."""
    runs_dir = getattr(request.app.state, "console_runs_dir", None) or get_settings().runs_dir
    return drafts.drafts_root(Path(runs_dir))


def _url(session: Session) -> str:
    return str(session.get_bind().engine.url.render_as_string(hide_password=False))


def _job_json(job: dict[str, Any], impact: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"job_id": job["id"], "state": job["state"], "location": f"/v1/simulations/jobs/{job['id']}",
            "runs": job["runs"], "pack": job["pack"], "county": job["county"], "year": job["year"],
            "stages": job["stages"], "error": job["error"], "queued_at": job["queued_at"],
            "finished_at": job["finished_at"], "impact": impact}


@router.post("/simulations", response_model=SimulationOut,
             responses={**PROBLEM_RESPONSES, 202: {"model": SimulationJobOut,
                                                   "description": "Queued as a job: follow its location."}},
             openapi_extra=body("SimulationIn", "The runs to simulate and the pack to simulate them under."))
def post_simulation(request: Request, session: SessionDep, actor: ActorDep, data: JsonBody) -> Response:
    """The impact of a pack (a shipped one, or a draft) on stored runs of the user's county (office, auditor):
    flows, cost by township and village, bands, the fund under each pack, attribution. Nothing is stored.

    Runs of up to ``simulate_sync_max_households`` households together are simulated within the request
    (200); larger ones, or any with ``"background": true``, are queued as a job run by the worker (202, with
    ``Location``: ``GET /v1/simulations/jobs/{job_id}`` until its state is ``done`` or ``failed``)."""
    asked = SIMULATION_IN.validate_python(data)
    root = drafts_dir(request)
    checked = check_request(session, actor, asked.runs, asked.pack, root, asked.fiscal_input)
    if asked.background or checked.households > get_settings().simulate_sync_max_households:
        job = jobs.enqueue_simulation(
            _url(session), county=checked.county, year=checked.year, user=actor.name, runs=checked.runs,
            pack=asked.pack, fiscal_input=None if asked.fiscal_input is None else str(asked.fiscal_input),
            drafts_dir=root, runs_dir=Path(getattr(request.app.state, "console_runs_dir", None)
                                           or get_settings().runs_dir))
        commit(request, session)
        answered = answer(_job_json(job), 202)
        answered.headers["Location"] = f"/v1/simulations/jobs/{job['id']}"
        return answered
    result = simulate(session, checked.runs, checked.pack_dir, draft=checked.draft,
                      fiscal_input=checked.fiscal_input)
    commit(request, session)  # the access log: which runs were read
    return answer(result.impact)


@router.get("/simulations/jobs/{job_id}", response_model=SimulationJobOut, responses=PROBLEM_RESPONSES)
def get_simulation_job(request: Request, session: SessionDep, actor: ActorDep,
                       job_id: Annotated[str, PathParam(max_length=64)]) -> Response:
    """A queued simulation (office, auditor of its county): its state and stages; the impact report once it is
    ``done``; why it failed, if it did (the worker's message, in Chinese)."""
    if actor.role not in SIMULATORS:
        raise NotAllowed(f"{label(ROLE_NAMES, actor.role)}不能模拟测算规则包(由防贫办或审计测算)")
    url = _url(session)
    job = jobs.get(url, job_id)
    if job is None or job["kind"] != "simulate" or job["county"] != actor.county:
        raise NotFound(f"no simulation job {job_id} of county {actor.county}")
    impact = jobs.result_of(url, job_id) if job["state"] == "done" else None
    commit(request, session)
    return answer(_job_json(job, impact))


@router.post("/drafts", status_code=201, response_model=DraftOut, responses=PROBLEM_RESPONSES,
             openapi_extra={"requestBody": {"required": True, "description": "A pack folder as a zip.",
                                            "content": {"application/octet-stream": {"schema": {"type": "string",
                                                                                       "format": "binary"}}}}})
async def post_draft(request: Request, actor: ActorDep, now: ClockDep) -> Response:
    """Store a draft pack (the office): validated like any pack, stored by its hash, never used to pay."""
    if actor.role not in FUND_KEEPERS:
        raise NotAllowed(f"{label(ROLE_NAMES, actor.role)}不能上传规则包草案(由防贫办上传)")
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > drafts.MAX_ZIP_BYTES:
        raise InvalidRequest(f"pack: 压缩文件有 {int(declared):,} 字节,"
                             f"超过规则包草案上限 {drafts.MAX_ZIP_BYTES:,} 字节",
                             field="pack")
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > drafts.MAX_ZIP_BYTES:
            raise InvalidRequest(f"pack: 压缩文件超过规则包草案上限 {drafts.MAX_ZIP_BYTES:,} 字节", field="pack")
    draft = drafts.store_draft(bytes(data), drafts_dir(request), actor.name, now)
    return answer(_draft_json(draft), 201)


@router.get("/drafts", response_model=list[DraftOut], responses=PROBLEM_RESPONSES)
def get_drafts(request: Request, session: SessionDep, actor: ActorDep) -> Response:
    """The draft packs stored, newest first."""
    found = [_draft_json(draft) for draft in drafts.list_drafts(drafts_dir(request))]
    commit(request, session)  # every read route leaves a row in the access log
    return answer(found)


def _draft_json(draft: drafts.Draft) -> dict[str, object]:
    return {"hash": draft.hash, "id": draft.id, "version": draft.version, "years": list(draft.years),
            "uploaded_by": draft.uploaded_by, "uploaded_at": draft.uploaded_at, "draft": True}
