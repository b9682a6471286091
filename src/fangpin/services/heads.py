"""Who heads a household, for the pages where people act on it (the claims board, a claim, a run's decisions,
a search): the head's name and ID number, the township and the village.

Stored decisions carry the household id only. The head comes from the household document a single check or an
application stored with its decision, else from the ``households.csv`` a screening run wrote beside its
results (the register's head): first the runs named (the run that decided), then the county's latest runs.
Nothing here masks: the caller shows each field as the viewer's role may see it (``fangpin.privacy``)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import polars as pl
from sqlalchemy import select
from sqlalchemy.orm import Session

from fangpin.db.models import DecisionRecord, Run
from fangpin.services import runfiles

LATEST_RUNS = 20  # how many of the county's latest runs are searched for a household no named run holds


@dataclass(frozen=True)
class Head:
    head_name: str | None = None
    head_id: str | None = None
    township: str | None = None
    village: str | None = None


def _text(value: object) -> str | None:
    return None if value is None or value == "" else str(value)


def of_decisions(session: Session, runs_dir: Path, county: str, decision_ids: Iterable[int]) -> dict[str, Head]:
    """The heads of the households these decisions (of the county) are about, by household id."""
    wanted = list(dict.fromkeys(decision_ids))
    if not wanted:
        return {}
    rows = session.execute(
        select(DecisionRecord.household_id, DecisionRecord.run_id, DecisionRecord.document,
               DecisionRecord.township, DecisionRecord.village)
        .where(DecisionRecord.id.in_(wanted), DecisionRecord.county == county)).all()
    found: dict[str, Head] = {}
    runs: list[str] = []
    places: dict[str, tuple[str | None, str | None]] = {}
    for household_id, run_id, document, township, village in rows:
        places[household_id] = (township, village)
        if isinstance(document, dict) and (document.get("head_name") or document.get("head_id")):
            found[household_id] = Head(_text(document.get("head_name")), _text(document.get("head_id")),
                                       _text(document.get("township")) or township,
                                       _text(document.get("village")) or village)
        elif run_id:
            runs.append(run_id)
    missing = [household_id for household_id in places if household_id not in found]
    found.update(of_households(session, runs_dir, county, missing, runs=runs))
    for household_id, (township, village) in places.items():
        head = found.get(household_id)
        if head is None:
            found[household_id] = Head(township=township, village=village)
        elif head.township is None and head.village is None:
            found[household_id] = Head(head.head_name, head.head_id, township, village)
    return found


def of_households(session: Session, runs_dir: Path, county: str, household_ids: Iterable[str], *,
                  runs: Iterable[str] = ()) -> dict[str, Head]:
    """The heads of these households of the county found in the registers of ``runs`` (in order), then of the
    county's latest runs, then in stored documents; a household found nowhere is left out."""
    wanted = set(household_ids)
    found: dict[str, Head] = {}
    if not wanted:
        return found
    latest = session.scalars(select(Run.id).where(Run.county == county).order_by(Run.finished_at.desc())
                             .limit(LATEST_RUNS)).all()
    for run_id in dict.fromkeys([*runs, *latest]):
        if not wanted - found.keys():
            break
        folder = runfiles.run_folder(runs_dir, run_id)
        index = runfiles.household_index(folder) if folder else None
        if index is None or "household_id" not in index.collect_schema().names():
            continue
        rows = index.filter(pl.col("household_id").is_in(sorted(wanted - found.keys()))).collect().to_dicts()
        for row in rows:
            found.setdefault(str(row["household_id"]), Head(
                _text(row.get("head_name")), _text(row.get("head_id")), _text(row.get("township")),
                _text(row.get("village"))))
    rest = sorted(wanted - found.keys())
    if rest:
        for household_id, document in session.execute(
            select(DecisionRecord.household_id, DecisionRecord.document).where(
                DecisionRecord.county == county, DecisionRecord.household_id.in_(rest),
                DecisionRecord.document.is_not(None)).order_by(DecisionRecord.id.desc())
        ):
            if isinstance(document, dict) and household_id not in found:
                found[household_id] = Head(_text(document.get("head_name")), _text(document.get("head_id")),
                                           _text(document.get("township")), _text(document.get("village")))
    return found
