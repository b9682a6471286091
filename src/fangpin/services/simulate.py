"""Simulate a draft pack over stored runs: the impact report (``fangpin.reports.impact``) of re-deciding their
stored facts under the draft. The decisions come from ``services.replay`` (the same ``decide_frame`` as
screening, the same attribution as replay): nothing is forked, nothing is stored, nothing is paid.

The fund section reads the county's fund for the year (``services.fund``: opening balance and fiscal inputs)
and sets against it what the runs decided under each pack: the payouts, the balance, and the budget's top-up.

The console runs a simulation as a job (``services.jobs``, kind ``simulate``): ``check_request`` refuses
what can be refused at once (role, county, runs, pack, fiscal input) before it is queued, and the worker
runs ``simulate_job``, whose impact report is kept in the job's record.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy.orm import Session

from fangpin.claims import Actor, InvalidRequest, NotAllowed, NotFound
from fangpin.db.models import JobRecord, Run
from fangpin.db.session import session_scope
from fangpin.errors import PackError, ReplayError
from fangpin.labels import ROLES as ROLE_NAMES
from fangpin.labels import label
from fangpin.packs import Pack
from fangpin.reports.impact import compute_impact
from fangpin.services.drafts import is_draft, pack_to_simulate
from fangpin.services.fund import fund_line, input_amount
from fangpin.services.replay import ReplayResult, replay_run

MAX_RUNS = 20
Progress = Callable[[str, int, int], None]  # stage, done, total (``services.jobs``)


def _no_progress(_stage: str, _done: int, _total: int) -> None:
    pass


@dataclass
class Simulation:
    impact: dict[str, Any]
    diff: pl.DataFrame  # the replay's diff of every run, with its run_id
    pack_before: Pack
    pack_after: Pack
    cause_labels: dict[str, str]


def _runs(session: Session, run_ids: list[str]) -> list[Run]:
    if not run_ids:
        raise ReplayError("请至少选择一次运行来模拟测算")
    if len(run_ids) > MAX_RUNS:
        raise ReplayError(f"一次最多模拟 {MAX_RUNS} 次运行,现选了 {len(run_ids)} 次:请少选几次")
    runs: list[Run] = []
    for run_id in dict.fromkeys(run_ids):
        run = session.get(Run, run_id)
        if run is None:
            raise NotFound(f"没有运行 {run_id}:请检查运行编号")
        runs.append(run)
    places = {(run.county, run.year) for run in runs}
    if len(places) > 1:
        raise ReplayError("一起模拟的运行须属于同一县(区)和年度,现为:"
                          + "、".join(f"{county} {year} 年度" for county, year in sorted(places)))
    return runs


def _clauses(*packs: Pack) -> tuple[dict[str, str], dict[str, str]]:
    """The clause each parameter and each rule cites, the later pack's winning."""
    parameters: dict[str, str] = {}
    rules: dict[str, str] = {}
    for pack in packs:
        parameters.update({name: parameter.source.clause for name, parameter in pack.parameters.items()})
        rules.update({rule.id: rule.source.cites.clause for rule in pack.compiled})
    return parameters, rules


def fund_lines(session: Session, county: str, year: int, payouts: dict[str, tuple[int, int]],
               fiscal_input: int | None = None) -> list[dict[str, Any]]:
    """The county's fund for the year under each pack: opening balance + fiscal input (recorded, or the one
    assumed for the simulation) = available; available − the runs' payouts = balance; a shortfall is the
    budget's top-up. ``payouts`` maps "before"/"after" to (payout, fee) in fen."""
    line = fund_line(session, county, year)
    given = line.fiscal_input if fiscal_input is None else fiscal_input
    available = line.opening_balance + given
    lines = []
    for pack, (payout, fee) in payouts.items():
        balance = available - payout
        lines.append({"county": county, "year": year, "pack": pack, "opening_balance": line.opening_balance,
                      "fiscal_input": given, "fiscal_input_assumed": fiscal_input is not None,
                      "fiscal_input_recorded": line.fiscal_input, "available": available, "payouts": payout,
                      "fees": fee, "balance": balance, "carry_over": max(balance, 0), "top_up": max(-balance, 0),
                      "paid_so_far": line.payouts})
    return lines


def simulate(session: Session, run_ids: list[str], pack_dir: Path, *, draft: bool = False,
             fiscal_input: int | None = None, progress: Progress = _no_progress) -> Simulation:
    """The impact of the pack at ``pack_dir`` on the stored runs (of one county and year); ``progress`` hears
    ``replay`` after each run re-decided and ``impact`` once the report is computed."""
    runs = _runs(session, run_ids)
    draft = draft or is_draft(pack_dir)
    results: list[tuple[str, ReplayResult]] = []
    progress("replay", 0, len(runs))
    for number, run in enumerate(runs, 1):
        results.append((run.id, replay_run(session, run.id, pack_dir)))
        progress("replay", number, len(runs))
    progress("impact", 0, 1)
    befores = {result.pack_before.hash for _, result in results}
    if len(befores) > 1:
        raise ReplayError("一起模拟的运行由不同的规则包判定:请逐次模拟")
    first = results[0][1]
    before, after = first.pack_before, first.pack_after
    causes = first.causes
    labels = {**before.people_labels.causes, **after.people_labels.causes}
    groups = {**before.people_labels.groups, **after.people_labels.groups}

    def tagged(frame: pl.DataFrame, run_id: str) -> pl.DataFrame:
        return frame.with_columns(pl.lit(run_id, pl.String).alias("run_id"))

    stored = pl.concat([tagged(r.stored, run_id) for run_id, r in results], how="diagonal_relaxed")
    replayed = pl.concat([tagged(r.replayed, run_id) for run_id, r in results], how="diagonal_relaxed")
    diff = pl.concat([tagged(r.diff, run_id) for run_id, r in results], how="diagonal_relaxed")
    parameters: dict[str, tuple[str | None, str | None]] = dict(first.parameters)
    clauses, rule_clauses = _clauses(before, after)

    def total(frame: pl.DataFrame, column: str) -> int:
        return int(frame[column].sum() or 0)

    county, year = runs[0].county, runs[0].year
    fund = fund_lines(session, county, year, {
        "before": (total(stored, "payout"), total(stored, "fee")),
        "after": (total(replayed, "payout"), total(replayed, "fee")),
    }, fiscal_input)
    header = {
        "scope": ("run " if len(runs) == 1 else "runs ") + ", ".join(run.id for run in runs),
        "runs": [run.id for run in runs], "county": county, "year": year,
        "pack_before": {"id": before.id, "version": before.meta.version, "hash": before.hash},
        "pack_after": {"id": after.id, "version": after.meta.version, "hash": after.hash, "draft": draft},
        "cause_labels": labels, "group_labels": groups,
    }
    impact = compute_impact(stored, replayed, diff, causes, parameters=parameters, clauses=clauses,
                            rule_clauses=rule_clauses, fund=fund, header=header)
    progress("impact", 1, 1)
    return Simulation(impact=impact, diff=diff, pack_before=before, pack_after=after, cause_labels=labels)


SIMULATORS = frozenset({"office", "auditor"})  # the county office weighs a policy change; auditors read it


@dataclass(frozen=True)
class Asked:
    """A simulation checked before it runs: its runs (all of ``county`` and ``year``) and their households."""

    runs: list[str]
    county: str
    year: int
    households: int
    pack_dir: Path
    draft: bool
    fiscal_input: int | None


def check_request(session: Session, actor: Actor, run_ids: list[str], pack: str, drafts: Path,
                  fiscal_input: object | None = None) -> Asked:
    """The API's and the console's simulation, checked before it runs: ``pack`` is a shipped pack's id or a
    stored draft's sha256. Refused now: the user's role, runs not of the user's county (or of several counties
    or years), a pack neither shipped nor a stored draft, a fiscal input that is no amount."""
    if actor.role not in SIMULATORS:
        raise NotAllowed(f"{label(ROLE_NAMES, actor.role)}不能模拟测算规则包(由防贫办或审计测算)")
    runs = _runs(session, run_ids)
    for run in runs:
        if run.county != actor.county:
            raise NotAllowed(f"运行 {run.id} 属于县(区) {run.county},不是 {actor.name} 所在的县(区)({actor.county})")
    folder, draft = pack_to_simulate(pack, drafts)
    assumed = None if fiscal_input in (None, "") else input_amount(fiscal_input)
    return Asked(runs=[run.id for run in runs], county=runs[0].county, year=runs[0].year,
                 households=sum(run.households or 0 for run in runs), pack_dir=folder, draft=draft,
                 fiscal_input=assumed)


def simulate_job(job: JobRecord, database_url: str, progress: Progress) -> dict[str, Any]:
    """A queued simulation, run by the worker (``services.jobs``): its impact report. The request was checked
    when it was queued; what can fail now (a draft changed or removed since, a run re-decided under another
    pack) fails the job with a Chinese message naming the pack and the cause."""
    params = job.params or {}
    pack = str(params.get("pack") or "")
    fiscal = params.get("fiscal_input")
    try:
        folder, draft = pack_to_simulate(pack, Path(str(params.get("drafts_dir", ""))))
        with session_scope(database_url) as session:
            for run in _runs(session, [str(run_id) for run_id in params.get("runs", [])]):
                if run.county != job.county:
                    raise NotAllowed(f"运行 {run.id} 属于县(区) {run.county},不是 {job.county}")
            result = simulate(session, list(params.get("runs", [])), folder, draft=draft,
                              fiscal_input=None if fiscal in (None, "") else input_amount(fiscal), progress=progress)
    except PackError as exc:
        raise ReplayError(f"规则包 {_short(pack)} 无法载入(草案可能已被修改或删除):{exc}") from exc
    except InvalidRequest as exc:
        raise ReplayError(f"规则包或参数有误:{exc}") from exc
    except NotFound as exc:
        raise ReplayError(f"要模拟的运行已不存在:{exc}") from exc
    except NotAllowed as exc:
        raise ReplayError(f"无权模拟:{exc}") from exc
    except ReplayError as exc:
        raise ReplayError(f"无法在规则包 {_short(pack)} 下重新判定:{exc}") from exc
    return result.impact


def _short(pack: str) -> str:
    return pack[:12] if len(pack) == 64 else pack
