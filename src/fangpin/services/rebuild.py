"""Every result file of a stored run written again from the database alone (``fangpin report --run ID``).

``decisions.csv`` comes from the run's stored decisions and is byte for byte the file the run wrote. The
other files need what a run stores beside its decisions since migration 0008 (``run_results``): its summary
(``run.json``, without the seconds each stage took), its rejected rows and who heads each household. A run
stored before then has only its decisions: ``decisions.csv`` and a ``run.json`` from the run's record are
written, and the files that cannot be are named.
"""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import select
from sqlalchemy.orm import Session

from fangpin.db.models import DecisionRecord, Run, RunResults
from fangpin.db.session import session_scope
from fangpin.errors import FangpinError
from fangpin.reports.results import (
    REJECTION_HEADER,
    write_decisions,
    write_households,
    write_rejections,
    write_run_json,
)
from fangpin.reports.shown import Shown
from fangpin.reports.workbook import run_causes, write_visits_csv, write_workbook
from fangpin.services.checks import PACKS
from fangpin.services.screening import rule_labels, staged

RESULT_FILES = ("decisions.csv", "rejections.csv", "visits.csv", "households.csv", "run.json", "report.xlsx")
_COLUMNS = ("household_id", "township", "village", "group", "outcome", "per_capita_income", "amounts", "payout",
            "fee", "rules")
_TEXT = {"household_id", "township", "village", "group", "outcome", "amounts", "rules"}


class RebuildError(FangpinError):
    """The run is not stored, or its files cannot be written where asked."""


@dataclass
class Rebuilt:
    run_id: str
    out_dir: Path
    written: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # files a run stored before migration 0008 cannot give


def _read_parquet(data: bytes) -> pl.DataFrame:
    return pl.read_parquet(io.BytesIO(data))


def rebuild_run(database_url: str, run_id: str, out_dir: Path) -> Rebuilt:
    """Write the run's result files into ``out_dir`` (new, or empty): all at once, or none."""
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise RebuildError(f"{out_dir}: 输出文件夹已存在且不是空的:请换一个输出文件夹,或先清空它")
    with session_scope(database_url) as session:
        run = session.get(Run, run_id)
        if run is None:
            raise RebuildError(f"数据库中没有运行 {run_id!r}:请用 `fangpin runs` 查看已有的运行编号")
        stored = session.get(RunResults, run_id)
        columns = [DecisionRecord.__table__.c[name] for name in _COLUMNS]
        rows = session.execute(select(*columns).where(DecisionRecord.run_id == run_id)
                               .order_by(DecisionRecord.household_id)).all()
        summary: dict[str, Any] = dict(stored.summary) if stored is not None else _summary_of(session, run)
        rejections = _read_parquet(stored.rejections) if stored is not None and stored.rejections else None
        households = _read_parquet(stored.households) if stored is not None and stored.households else None
        pack = PACKS.by_hash(session, run.pack_hash)
        groups = pack.people_labels.groups
    if "groups" not in summary["pack"]:  # a run.json written before the pack's groups were in it
        summary["pack"] = {**summary["pack"], "groups": [{"id": k, "label": v} for k, v in groups.items()]}
    causes = [cause for cause, _ in run_causes(summary)]
    schema: dict[str, Any] = {name: pl.String if name in _TEXT else pl.Int64 for name in _COLUMNS}
    decisions = pl.DataFrame([tuple(row) for row in rows], schema=schema, orient="row")
    amounts = pl.col("amounts").str.json_decode(pl.Struct({cause: pl.Int64 for cause in causes}))
    decisions = decisions.with_columns(amounts.struct.field(cause).fill_null(0).alias(cause) for cause in causes)

    result = Rebuilt(run_id=run_id, out_dir=out_dir)
    with staged(out_dir, f".rebuild-{uuid.uuid4().hex[:6]}") as staging:  # owner-only, all or nothing
        write_decisions(staging / "decisions.csv", decisions, run.pack_hash, causes)
        write_run_json(staging / "run.json", summary)
        if rejections is not None and households is not None:
            decisions = decisions.join(households.select("household_id", "head_name"), on="household_id",
                                       how="left")
            write_rejections(staging / "rejections.csv", rejections.select(REJECTION_HEADER))
            write_visits_csv(staging / "visits.csv", decisions, run_causes(summary), groups)
            write_households(staging / "households.csv", households)
            named = summary if "rules" in summary["pack"] else {  # rules by name, for a run stored without them
                **summary, "pack": {**summary["pack"], "rules": rule_labels(pack)}}
            write_workbook(staging / "report.xlsx", named, Shown.of(decisions, causes), rejections)
        else:
            result.missing = ["rejections.csv", "visits.csv", "households.csv", "report.xlsx"]
        result.written = [name for name in RESULT_FILES if (staging / name).is_file()]
    return result


def _summary_of(session: Session, run: Run) -> dict[str, Any]:
    """run.json of a run stored before migration 0008, from its record: what it read and what it decided."""
    from fangpin.services.replay import stored_pack

    pack = stored_pack(session, run.pack_hash)
    counts = run.counts or {}
    return {
        "run_id": run.id, "county": run.county, "year": run.year,
        "pack": {"id": pack.id, "version": pack.meta.version, "hash": pack.hash,
                 "causes": [{"id": cause.id, "label": cause.label} for cause in pack.causes]},
        "started_at": run.started_at.isoformat(), "finished_at": run.finished_at.isoformat(),
        "inputs": run.inputs, "rows": counts.get("rows", {}), "totals": counts.get("totals", {}),
        "events": counts.get("events", {}),
        "rebuilt_from": "the run's record: it was stored before fangpin kept its rejected rows and household heads",
    }


def describe(result: Rebuilt) -> str:
    text = f"{result.out_dir}/ ({', '.join(result.written)})"
    if result.missing:
        text += (f"; not written: {', '.join(result.missing)} (this run was stored before fangpin kept its "
                 "rejected rows and household heads, or they were purged: screen its drop again to get them)")
    return text
