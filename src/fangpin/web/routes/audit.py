"""The auditor's view: replay a run or a decision under its own pack or another, and read the diff with its
totals (``services.replay``). Replaying changes nothing, so it is a GET that can be linked to."""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import Annotated, Any

import polars as pl
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from fangpin.errors import FangpinError
from fangpin.packs import Pack, available_packs
from fangpin.services import access_log, households, runfiles, runs
from fangpin.services.replay import ReplayResult, replay_decision, replay_run
from fangpin.web import auth
from fangpin.web.auth import DB, Viewer
from fangpin.web.render import render

router = APIRouter()
PageNo = Annotated[int, Query(ge=1, le=10**9)]
CACHED = 4


class _Results:
    """The last few replays, so that paging through a large diff does not replay the run again."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: OrderedDict[tuple[str, ...], ReplayResult] = OrderedDict()

    def get(self, key: tuple[str, ...]) -> ReplayResult | None:
        with self._lock:
            result = self._items.get(key)
            if result is not None:
                self._items.move_to_end(key)
            return result

    def put(self, key: tuple[str, ...], result: ReplayResult) -> None:
        with self._lock:
            self._items[key] = result
            while len(self._items) > CACHED:
                self._items.popitem(last=False)


RESULTS = _Results()


def _packs() -> list[Pack]:
    try:
        return available_packs()
    except FangpinError:
        return []


def _form_context(session: Session, viewer: Viewer) -> dict[str, Any]:
    return {"runs": runs.latest_runs(session, viewer.actor.county, limit=200), "packs": _packs()}


@router.get("/audit", response_class=HTMLResponse, include_in_schema=False)
def audit_page(request: Request, session: DB, viewer: Annotated[Viewer, Depends(auth.page("audit"))]) -> Response:
    return render(request, "audit.html", {**_form_context(session, viewer), "result": None, "error": None,
                                          "run_id": request.query_params.get("run"), "decision_id": None,
                                          "pack_id": None}, viewer=viewer)


def _totals(result: ReplayResult) -> list[dict[str, Any]]:
    totals = result.totals()
    rows = []
    items = {"payout": "赔付合计", "fee": "保险服务费", **result.cause_labels}
    for key, label in items.items():
        before, after = totals[f"{key}_before"], totals[f"{key}_after"]
        rows.append({"key": key, "label": label, "before": before, "after": after, "difference": after - before})
    return rows


@router.get("/audit/replay", response_class=HTMLResponse, include_in_schema=False)
def replay_page(request: Request, session: DB, viewer: Annotated[Viewer, Depends(auth.page("audit"))],
                run: Annotated[str | None, Query(max_length=40)] = None,
                decision_text: Annotated[str | None, Query(alias="decision", max_length=19)] = None,
                pack: Annotated[str | None, Query(max_length=100)] = None, page: PageNo = 1) -> Response:
    """``decision`` may come empty from the form (the run was chosen instead)."""
    decision = int(decision_text) if decision_text and decision_text.strip().isdigit() else None
    if decision_text and decision_text.strip() and decision is None:
        return render(request, "audit.html", {**_form_context(session, viewer), "run_id": run, "decision_id": None,
                                              "pack_id": pack, "result": None,
                                              "error": f"判定编号应为正整数,不是 {decision_text}"},
                      viewer=viewer, status=422)
    context = {**_form_context(session, viewer), "run_id": run, "decision_id": decision, "pack_id": pack,
               "result": None, "error": None}
    packs = {item.id: item for item in context["packs"]}
    if pack and pack not in packs:
        return render(request, "audit.html", {**context, "error": f"没有规则包 {pack}"}, viewer=viewer, status=422)
    pack_dir: Path | None = packs[pack].directory if pack else None
    if decision is not None:
        record = households.get_decision(session, decision)
        if record is None:
            return render(request, "audit.html", {**context, "error": f"没有判定 #{decision}:请检查判定编号"},
                          viewer=viewer, status=404)
        auth.same_county(viewer, record.county, f"判定 #{decision} ")
        access_log.note(session, "decision", decision, record.household_id)
        key = (str(session.get_bind().engine.url), f"decision:{decision}", pack or "")
    elif run:
        stored = runs.get_run(session, run)
        if stored is None:
            return render(request, "audit.html", {**context, "error": f"没有运行 {run}"}, viewer=viewer, status=404)
        auth.same_county(viewer, stored.county, f"运行 {run} ")
        access_log.note(session, "run", run)
        key = (str(session.get_bind().engine.url), f"run:{run}", pack or "")
    else:
        return render(request, "audit.html", {**context, "error": "请选择一次运行,或填写判定编号"}, viewer=viewer,
                      status=422)
    result = RESULTS.get(key)
    if result is None:
        try:
            result = (replay_decision(session, decision, pack_dir) if decision is not None
                      else replay_run(session, str(run), pack_dir))
        except FangpinError as exc:
            return render(request, "audit.html", {**context, "error": str(exc)}, viewer=viewer, status=409)
        RESULTS.put(key, result)
    before, after = result.pack_before.people_labels, result.pack_after.people_labels
    diff = runfiles.page_of(result.diff.lazy().sort("household_id", "cause"), page, 50)
    changed = {name: {"before": old, "after": new} for name, (old, new) in result.parameters.items()}
    totals = result.totals()
    return render(request, "audit.html", {
        **context, "result": result, "totals": _totals(result), "households": totals["households"],
        "households_changed": totals["households_changed"], "pager": diff, "parameters": changed,
        "item_names": {"payout": "赔付合计", "fee": "服务费", **result.cause_labels},
        "parameter_names": {**before.parameters, **after.named_parameters()},
        "rule_names": {**before.rules, **after.rules},
        "outcome_changes": _outcome_changes(result.diff)}, viewer=viewer)


def _outcome_changes(diff: pl.DataFrame) -> list[dict[str, Any]]:
    if diff.is_empty():
        return []
    moved = (diff.filter(pl.col("cause") == "payout").group_by("outcome_before", "outcome_after").len()
             .sort("len", descending=True))
    return [{"before": before, "after": after, "households": int(count)} for before, after, count in moved.iter_rows()]


READS_LIMIT = 500
Text = Annotated[str | None, Query(max_length=100)]


@router.get("/audit/reads", response_class=HTMLResponse, include_in_schema=False)
def reads_page(request: Request, session: DB, viewer: Annotated[Viewer, Depends(auth.page("reads"))],
               household: Text = None, user: Text = None) -> Response:
    """The access log of the viewer's county, by household or by user (office and auditors)."""
    household, user = (household or "").strip() or None, (user or "").strip() or None
    rows = (access_log.reads(session, county=viewer.actor.county, household_id=household, user=user,
                             limit=READS_LIMIT) if household or user else None)
    return render(request, "audit_reads.html", {"rows": rows, "household": household, "user": user,
                                                "limit": READS_LIMIT, "error": None}, viewer=viewer)
