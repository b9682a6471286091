"""Retention: ``fangpin runs purge --before DATE`` removes what old runs hold about people, and keeps what
proves what was decided and paid.

For every run finished before DATE: its result folder under the runs folder (decisions, rejections, visits,
households with names and ID numbers, the workbook) is deleted, and the rejected rows and household heads
stored to rebuild it (``run_results``), and, once DATE is past its policy year, the
personal data of its event ledger (later drops of a year read the year's ledgers: a year's are kept until it
is over). The household documents stored with decisions recorded before DATE (single checks, applications)
are cleared, except those of claims still under way. The chains still verify: a keyed decision's payload
holds its document's sha256, kept in ``document_sha256``; a run's ledger digest stays in its chained record.
Documents of decisions chained before keys (plain sha256 covers the document itself) cannot be cleared
without breaking their chain and are kept: the result counts them."""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, null, select, update
from sqlalchemy.orm import Session

from fangpin.claims import FINAL
from fangpin.db import queries
from fangpin.db.chained import digest
from fangpin.db.claims_models import Claim
from fangpin.db.models import ChainAnchor, DecisionRecord, Run, RunEventPart, RunEvents, RunResults
from fangpin.services.runfiles import run_folder


@dataclass
class Purged:
    runs: list[str] = field(default_factory=list)
    folders: int = 0
    ledgers: int = 0
    stored_results: int = 0  # the rejected rows and household heads kept in the database to rebuild its files
    documents: int = 0
    kept_documents: int = 0  # chained before keys: their hash covers the document itself


def cutoff(before: dt.date | None, retention_days: int | None, today: dt.date) -> dt.date:
    """DATE, or today less the retention setting; one of them is needed."""
    if before is not None:
        return before
    if retention_days is None:
        raise ValueError("give --before DATE, or set FANGPIN_RETENTION_DAYS")
    return today - dt.timedelta(days=retention_days)


def purge_runs(session: Session, runs_dir: Path, before: dt.date, now: dt.datetime | None = None) -> Purged:
    now = now or queries.now()
    limit = dt.datetime.combine(before, dt.time(), dt.UTC)
    result = Purged()
    for run in session.scalars(select(Run).where(Run.finished_at < limit).order_by(Run.finished_at)):
        folder = run_folder(runs_dir, run.id)
        if folder is not None:
            shutil.rmtree(folder)
            result.folders += 1
        emptied = session.execute(update(RunResults).where(RunResults.run_id == run.id,
                                                           func.length(RunResults.households) > 0)
                                  .values(rejections=b"", households=b"").execution_options(synchronize_session=False))
        result.stored_results += emptied.rowcount  # type: ignore[attr-defined]
        if run.year < before.year and run.purged_at is None:
            cleared = session.execute(update(RunEvents).where(RunEvents.run_id == run.id).values(data=b"")
                                      .execution_options(synchronize_session=False))
            session.execute(update(RunEventPart).where(RunEventPart.run_id == run.id).values(data=b"")
                            .execution_options(synchronize_session=False))  # a ledger stored in parts (0011)
            result.ledgers += cleared.rowcount  # type: ignore[attr-defined]
            run.purged_at = now
        if folder is not None or run.purged_at == now or emptied.rowcount:  # type: ignore[attr-defined]
            result.runs.append(run.id)
    _clear_documents(session, limit, result)
    session.flush()
    return result


def _clear_documents(session: Session, limit: dt.datetime, result: Purged) -> None:
    anchored = {str(county): int(seq) for county, seq in session.execute(
        select(ChainAnchor.county, ChainAnchor.seq).where(ChainAnchor.chain == "decisions"))}
    open_claims = select(Claim.decision_id, Claim.filing_decision_id).where(Claim.state.not_in(FINAL)).subquery()
    under_way = select(open_claims.c.decision_id).union(
        select(open_claims.c.filing_decision_id).where(open_claims.c.filing_decision_id.is_not(None)))
    rows = session.execute(
        select(DecisionRecord.id, DecisionRecord.county, DecisionRecord.seq, DecisionRecord.document)
        .where(DecisionRecord.recorded_at < limit, DecisionRecord.document.is_not(None),
               DecisionRecord.id.not_in(under_way))
    ).all()
    for decision_id, county, seq, document in rows:
        if document is None:  # a JSON null
            continue
        if seq <= anchored.get(county, 0):
            result.kept_documents += 1
            continue
        session.execute(update(DecisionRecord).where(DecisionRecord.id == decision_id)
                        .values(document=null(), document_sha256=digest(document))
                        .execution_options(synchronize_session=False))
        result.documents += 1
