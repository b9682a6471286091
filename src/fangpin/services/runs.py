"""Stored screening runs as the console, the CLI and the auditors read them: listed, one by one, the pack
that decided them, and the figures behind their charts. Sums are integer fen counted by the database."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fangpin.db import decision_causes
from fangpin.db.claims_models import Claim
from fangpin.db.models import DecisionRecord, Run
from fangpin.packs import Pack, PackLabels
from fangpin.services.checks import PACKS

__all__ = ["Run", "claims_opened", "count_runs", "get_run", "income_counts", "latest_runs", "latest_year",
           "outcome_counts", "run_pack", "runs_page", "totals_by_township"]


def latest_runs(session: Session, county: str | None = None, *, limit: int = 20, offset: int = 0) -> list[Run]:
    """The runs (of one county, or of all), newest first."""
    query = select(Run).order_by(Run.finished_at.desc())
    if county is not None:
        query = query.where(Run.county == county)
    return list(session.scalars(query.limit(limit).offset(offset)))


def count_runs(session: Session, county: str) -> int:
    return int(session.scalar(select(func.count()).select_from(Run).where(Run.county == county)) or 0)


def runs_page(session: Session, county: str, page: int, size: int) -> tuple[list[Run], int, int]:
    """One page (1-based; past the end: the last) of the county's runs, newest first; the page and the total."""
    total = count_runs(session, county)
    page = min(page, max(1, -(-total // size)))
    return latest_runs(session, county, limit=size, offset=(page - 1) * size), page, total


def get_run(session: Session, run_id: str) -> Run | None:
    return session.get(Run, run_id)


def latest_year(session: Session, county: str) -> int | None:
    """The policy year of the county's latest screened year, if any."""
    latest = session.scalar(select(func.max(Run.year)).where(Run.county == county))
    return int(latest) if latest else None


def run_pack(session: Session, run: Run) -> Pack:
    """The pack that decided the run."""
    return PACKS.by_hash(session, run.pack_hash)


def claims_opened(session: Session, run_id: str) -> int:
    """How many claims were opened on the run's decisions."""
    return int(session.scalar(
        select(func.count()).select_from(Claim).join(DecisionRecord, DecisionRecord.id == Claim.decision_id)
        .where(DecisionRecord.run_id == run_id)) or 0)


def run_causes(session: Session, run_id: str) -> list[tuple[str, str]]:
    """The causes of the pack that decided the run, in its order, with their labels."""
    run = session.get(Run, run_id)
    if run is None:
        return []
    pack = PACKS.by_hash(session, run.pack_hash)
    return [(cause.id, cause.label) for cause in pack.causes]


def run_labels(session: Session, run_id: str) -> PackLabels | None:
    """The labels of the pack that decided the run (its groups, causes, vocabulary codes, derived facts)."""
    run = session.get(Run, run_id)
    return None if run is None else PACKS.by_hash(session, run.pack_hash).people_labels


def totals_by_township(session: Session, run_id: str) -> list[dict[str, Any]]:
    """Per township (None: not given), households paid, each cause's payout, the payout and the fee (fen)."""
    rows = session.execute(
        select(DecisionRecord.township, DecisionRecord.amounts, DecisionRecord.payout, DecisionRecord.fee)
        .where(DecisionRecord.run_id == run_id, DecisionRecord.payout > 0)
    ).all()
    by_township: dict[str | None, dict[str, Any]] = {}
    for township, amounts, payout, fee in rows:  # the per-cause amounts are the pack's causes (JSON)
        row = by_township.setdefault(township, {"township": township, "households": 0, "payout": 0, "fee": 0})
        row["households"] += 1
        row["payout"] += int(payout)
        row["fee"] += int(fee)
        for cause, amount in decision_causes.of(amounts).items():
            row[cause] = row.get(cause, 0) + amount
    return [by_township[key] for key in sorted(by_township, key=lambda name: (name is None, name or ""))]


def outcome_counts(session: Session, run_id: str) -> dict[str, int]:
    rows = session.execute(
        select(DecisionRecord.outcome, func.count()).where(DecisionRecord.run_id == run_id)
        .group_by(DecisionRecord.outcome)
    ).all()
    return {str(outcome): int(count) for outcome, count in rows}


def income_counts(session: Session, run_id: str, width: int) -> dict[int, int]:
    """How many of the run's households have a per-capita income in each bin ``width`` fen wide (bin i holds
    ``i * width`` up to ``(i + 1) * width``), counted in the database."""
    bucket = DecisionRecord.per_capita_income // width
    rows = session.execute(select(bucket, func.count()).where(DecisionRecord.run_id == run_id).group_by(bucket))
    counts: dict[int, int] = {}
    for index, count in rows:
        counts[int(index or 0)] = counts.get(int(index or 0), 0) + int(count)
    return counts
