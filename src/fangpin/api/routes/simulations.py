"""Simulations of a draft pack over stored runs, and the draft packs themselves (docs/simulate.md)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request, Response

from fangpin.api.deps import ActorDep, ClockDep, JsonBody, SessionDep, answer, commit
from fangpin.api.errors import PROBLEM_RESPONSES
from fangpin.api.schemas import SIMULATION_IN, DraftOut, SimulationOut, body
from fangpin.claims import FUND_KEEPERS, InvalidRequest, NotAllowed
from fangpin.config import get_settings
from fangpin.services import drafts
from fangpin.services.simulate import simulate_for

router = APIRouter(tags=["simulations"])


def drafts_dir(request: Request) -> Path:
    """Where drafts are stored: beside the runs (the console's runs folder when it has one of its own)."""
    runs_dir = getattr(request.app.state, "console_runs_dir", None) or get_settings().runs_dir
    return drafts.drafts_root(Path(runs_dir))


@router.post("/simulations", response_model=SimulationOut, responses=PROBLEM_RESPONSES,
             openapi_extra=body("SimulationIn", "The runs to simulate and the pack to simulate them under."))
def post_simulation(request: Request, session: SessionDep, actor: ActorDep, data: JsonBody) -> Response:
    """The impact of a pack (a shipped one, or a draft) on stored runs of the user's county (office, auditor):
    flows, cost by township and village, bands, the fund under each pack, attribution. Nothing is stored."""
    asked = SIMULATION_IN.validate_python(data)
    result = simulate_for(session, actor, asked.runs, asked.pack, drafts_dir(request), asked.fiscal_input)
    commit(request, session)  # the access log: which runs were read
    return answer(result.impact)


@router.post("/drafts", status_code=201, response_model=DraftOut, responses=PROBLEM_RESPONSES,
             openapi_extra={"requestBody": {"required": True, "description": "A pack folder as a zip.",
                                            "content": {"application/octet-stream": {"schema": {"type": "string",
                                                                                       "format": "binary"}}}}})
async def post_draft(request: Request, actor: ActorDep, now: ClockDep) -> Response:
    """Store a draft pack (the office): validated like any pack, stored by its hash, never used to pay."""
    if actor.role not in FUND_KEEPERS:
        raise NotAllowed(f"a user with role {actor.role} may not upload draft packs (the office does)")
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > drafts.MAX_ZIP_BYTES:
        raise InvalidRequest(f"pack: the zip is {declared} bytes, more than the {drafts.MAX_ZIP_BYTES} a draft pack "
                             "may be", field="pack")
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > drafts.MAX_ZIP_BYTES:
            raise InvalidRequest(f"pack: the zip is more than the {drafts.MAX_ZIP_BYTES} bytes a draft pack may be",
                                 field="pack")
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
