"""Policy simulation (政策模拟): the impact of a draft pack on the county's stored runs (``services.simulate``),
with charts, and the office's draft packs: uploaded as a zip, or a shipped pack with some parameters changed
in a form (``services.drafts``). Simulating stores nothing, so it is a GET that can be linked to."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from fangpin.claims import FUND_KEEPERS
from fangpin.errors import FangpinError
from fangpin.packs import Pack, available_packs
from fangpin.services import drafts, runs
from fangpin.services.simulate import Simulation, simulate_for
from fangpin.web import auth
from fangpin.web.actions import REFUSALS, perform, status_of
from fangpin.web.auth import DB, Viewer
from fangpin.web.charts import chart_yuan
from fangpin.web.labels import OUTCOMES
from fangpin.web.render import json_answer, render, runs_dir

router = APIRouter()
CACHED = 4
RunId = Annotated[str | None, Query(max_length=40)]
PackRef = Annotated[str | None, Query(max_length=100)]
InputText = Annotated[str | None, Query(alias="input", max_length=40)]


class _Results:
    """The last few simulations, so that the charts of a page do not simulate the runs again."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: OrderedDict[tuple[str, ...], Simulation] = OrderedDict()

    def get(self, key: tuple[str, ...]) -> Simulation | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: tuple[str, ...], result: Simulation) -> None:
        with self._lock:
            self._items[key] = result
            while len(self._items) > CACHED:
                self._items.popitem(last=False)


RESULTS = _Results()


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
            "run_id": None, "pack_ref": None, "fiscal_input": "", "result": None, "error": None,
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


def _simulation(request: Request, session: Session, viewer: Viewer, run_id: str, pack: str,
                fiscal_input: str) -> Simulation:
    key = (str(session.get_bind().engine.url), run_id, pack, fiscal_input)
    result = RESULTS.get(key)
    if result is None:
        result = simulate_for(session, viewer.actor, [run_id], pack, drafts.drafts_root(runs_dir(request)),
                              fiscal_input.replace(",", "") or None)
        RESULTS.put(key, result)
    return result


@router.get("/simulate", response_class=HTMLResponse, include_in_schema=False)
def simulate_page(request: Request, session: DB, viewer: Annotated[Viewer, Depends(auth.page("simulate"))],
                  run: RunId = None, pack: PackRef = None, fiscal_input: InputText = None) -> Response:
    context = _context(request, session, viewer, run_id=run, pack_ref=pack, fiscal_input=fiscal_input or "")
    if not run or not pack:
        if run or pack:
            return render(request, "simulate.html", {**context, "error": "请选择筛查运行和要模拟的规则包"},
                          viewer=viewer, status=422)
        return render(request, "simulate.html", context, viewer=viewer)
    stored = runs.get_run(session, run)
    if stored is None:
        return render(request, "simulate.html", {**context, "error": f"没有运行 {run}"}, viewer=viewer, status=404)
    auth.same_county(viewer, stored.county, f"运行 {run} ")
    try:
        result = _simulation(request, session, viewer, run, pack, (fiscal_input or "").strip())
    except REFUSALS as exc:
        return render(request, "simulate.html", {**context, "error": str(exc)}, viewer=viewer,
                      status=status_of(exc))
    except FangpinError as exc:
        return render(request, "simulate.html", {**context, "error": str(exc)}, viewer=viewer, status=409)
    before, after = result.pack_before.people_labels, result.pack_after.people_labels
    return render(request, "simulate.html", {**context, "result": result.impact,
                                             "parameter_names": {**before.parameters, **after.named_parameters()},
                                             "labels_of": {"groups": result.impact["group_labels"],
                                                           "outcomes": OUTCOMES},
                                             "chart_src": request.url.path.replace("/simulate", "/api/simulate/chart")
                                             + "?" + request.url.query}, viewer=viewer)


@router.get("/api/simulate/chart", include_in_schema=False)
def simulate_chart(request: Request, session: DB, viewer: Annotated[Viewer, Depends(auth.data("simulate"))],
                   run: RunId = None, pack: PackRef = None, fiscal_input: InputText = None) -> Response:
    stored = runs.get_run(session, run or "")
    if stored is None or not pack:
        return json_answer({"error": "没有这次运行或规则包"}, 404)
    auth.same_county(viewer, stored.county, f"运行 {run} ")
    try:
        impact = _simulation(request, session, viewer, stored.id, pack, (fiscal_input or "").strip()).impact
    except FangpinError as exc:
        return json_answer({"error": str(exc)}, status_of(exc) if isinstance(exc, REFUSALS) else 409)
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
