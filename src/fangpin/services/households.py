"""One household: finding it, and explaining every decision stored for it.

Search. Stored decisions carry the household id, not the head's name or ID number. Those come from:
- the ``households.csv`` that every screening run writes beside its results (the
  register's household id, head's name and ID number, township, village), for the county's runs;
- the household document stored with a single check or an application (``decisions.document``).

Explanation. Each stored decision is decided again from its stored facts and prior payments under the pack
that made it (``services.replay.redecide``): the full decision, with each cause's base, deductible,
excess, tiers, cap and increment and the clauses the rules cite. The page says whether the result equals
the stored amounts (it always should: replay checks the same).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import Text, cast, func, select
from sqlalchemy.orm import Session

from fangpin import privacy
from fangpin.claims import Actor
from fangpin.db import decision_causes
from fangpin.db.models import DecisionRecord, Run
from fangpin.decisions import Decision
from fangpin.money import to_fen
from fangpin.packs import PackLabels
from fangpin.services import access_log, heads, runfiles
from fangpin.services.checks import PACKS
from fangpin.services.claim_views import scoped
from fangpin.services.replay import redecide

SEARCH_LIMIT = 50
INDEXED_RUNS = 100
ID_NUMBER = re.compile(r"^\d{17}[\dXx]$")


@dataclass
class Hit:
    household_id: str
    head_name: str | None = None
    head_id: str | None = None
    township: str | None = None
    village: str | None = None
    decisions: int = 0
    years: list[int] = field(default_factory=list)
    found_by: str = ""


def search(session: Session, runs_dir: Path, county: str, query: str, *, scope: str | None = None) -> list[Hit]:
    """Households of the county (within ``scope``: a township or township/village) whose id starts with the
    query, or whose head has this name (or a name containing it) or this ID number. Recorded in the access
    log: one row per household found (or one for none), keeping the search masked (``privacy.query_trace``)."""
    query = query.strip()
    if not query:
        return []
    hits = _search(session, runs_dir, county, query)
    if scope:
        hits = [hit for hit in hits if privacy.in_scope(scope, hit.township, hit.village)]
    trace = privacy.query_trace(query)
    access_log.note_many(session, "search", [(trace, hit.household_id) for hit in hits] or [(trace, None)])
    return hits


def _search(session: Session, runs_dir: Path, county: str, query: str) -> list[Hit]:
    hits: dict[str, Hit] = {}
    id_query = query.upper() if ID_NUMBER.match(query) else None

    for household_id, township, village in session.execute(
        select(DecisionRecord.household_id, func.max(DecisionRecord.township), func.max(DecisionRecord.village))
        .where(DecisionRecord.county == county, DecisionRecord.household_id.startswith(query, autoescape=True))
        .group_by(DecisionRecord.household_id).order_by(DecisionRecord.household_id).limit(SEARCH_LIMIT)
    ):
        hits[household_id] = Hit(household_id, township=township, village=village, found_by="户编号")

    for row in _index_matches(session, runs_dir, county, query, id_query):
        hit = hits.setdefault(row["household_id"], Hit(row["household_id"], found_by="户主"))
        hit.head_name = hit.head_name or row.get("head_name")
        hit.head_id = hit.head_id or row.get("head_id")
        hit.township = hit.township or row.get("township")
        hit.village = hit.village or row.get("village")

    for document in _document_matches(session, county, query, id_query):
        hit = hits.setdefault(str(document["household_id"]), Hit(str(document["household_id"]), found_by="单户核查"))
        hit.head_name = hit.head_name or document.get("head_name")
        hit.head_id = hit.head_id or document.get("head_id")
        hit.township = hit.township or document.get("township")
        hit.village = hit.village or document.get("village")

    chosen = sorted(hits.values(), key=lambda hit: hit.household_id)[:SEARCH_LIMIT]
    lacking = [hit.household_id for hit in chosen if not hit.head_name and not hit.head_id]
    for household_id, head in heads.of_households(session, runs_dir, county, lacking).items():
        hit = hits[household_id]  # found by its id: the head from the register or a stored document
        hit.head_name, hit.head_id = head.head_name, head.head_id
        hit.township = hit.township or head.township
        hit.village = hit.village or head.village
    if chosen:
        counts = session.execute(
            select(DecisionRecord.household_id, DecisionRecord.year, func.count())
            .where(DecisionRecord.county == county,
                   DecisionRecord.household_id.in_([hit.household_id for hit in chosen]))
            .group_by(DecisionRecord.household_id, DecisionRecord.year)
        ).all()
        for household_id, year, count in counts:
            hit = hits[household_id]
            hit.decisions += int(count)
            hit.years = sorted({*hit.years, int(year)})
    return chosen


def _county_runs(session: Session, county: str) -> list[str]:
    return list(session.scalars(select(Run.id).where(Run.county == county).order_by(Run.finished_at.desc())
                                .limit(INDEXED_RUNS)))


def _index_matches(session: Session, runs_dir: Path, county: str, query: str,
                   id_query: str | None) -> list[dict[str, Any]]:
    frames = []
    for run_id in _county_runs(session, county):
        folder = runfiles.run_folder(runs_dir, run_id)
        index = runfiles.household_index(folder) if folder else None
        if index is None:
            continue
        columns = index.collect_schema().names()
        if id_query is not None and "head_id" in columns:
            condition = pl.col("head_id").str.to_uppercase() == id_query
        elif "head_name" in columns:
            condition = pl.col("head_name").str.contains(query, literal=True)
        else:
            continue
        frames.append(index.filter(condition).head(SEARCH_LIMIT).collect())
    if not frames:
        return []
    return pl.concat(frames, how="diagonal_relaxed").unique("household_id", keep="first").to_dicts()


def _document_matches(session: Session, county: str, query: str, id_query: str | None) -> list[dict[str, Any]]:
    """Single checks whose document names this head. The JSON is stored with non-ASCII escaped, so the
    database narrows by the escaped text, and the documents are then compared exactly."""
    needle = json.dumps(id_query or query)[1:-1]
    rows = session.scalars(
        select(DecisionRecord.document).where(
            DecisionRecord.county == county, DecisionRecord.document.is_not(None),
            cast(DecisionRecord.document, Text).contains(needle, autoescape=True))
        .order_by(DecisionRecord.id.desc()).limit(SEARCH_LIMIT * 4)
    ).all()
    found = []
    for document in rows:
        if not isinstance(document, dict):
            continue
        head_id = str(document.get("head_id") or "").upper()
        head_name = str(document.get("head_name") or "")
        if (id_query and head_id == id_query) or (not id_query and query in head_name):
            found.append(document)
    return found


# --- one household -------------------------------------------------------------------------------

@dataclass
class Explained:
    record: DecisionRecord
    decision: Decision
    pack_id: str
    matches: bool
    paid_before: dict[str, int]
    labels: PackLabels  # the deciding pack's labels: its groups, causes, vocabulary codes, derived facts


def explain(session: Session, record: DecisionRecord) -> Explained:
    """Decide the stored facts again under the stored pack: the decision with its full explanation."""
    pack = PACKS.by_hash(session, record.pack_hash)
    paid_fen = decision_causes.of(record.paid_before)
    amounts = decision_causes.of(record.amounts)
    decision = redecide(session, record)
    matches = (decision.outcome == record.outcome and decision.group == record.group
               and to_fen(decision.payout) == record.payout and to_fen(decision.fee) == record.fee
               and all(to_fen(decision.cause(cause).increment) == amount for cause, amount in amounts.items()))
    return Explained(record=record, decision=decision, pack_id=f"{pack.id} {pack.meta.version}", matches=matches,
                     paid_before=paid_fen, labels=pack.people_labels)


def labels_of(session: Session, record: DecisionRecord) -> PackLabels:
    """The labels of the pack that made the decision."""
    return PACKS.by_hash(session, record.pack_hash).people_labels


def get_decision(session: Session, decision_id: int) -> DecisionRecord | None:
    return session.get(DecisionRecord, decision_id)


def decisions_of(session: Session, actor: Actor, household_id: str, limit: int = 50) -> list[DecisionRecord]:
    """The household's stored decisions in the actor's county and scope, newest first (recorded in the
    access log as a read of the household)."""
    access_log.note(session, "household", household_id, household_id)
    return list(session.scalars(
        select(DecisionRecord).where(DecisionRecord.county == actor.county, DecisionRecord.household_id == household_id,
                                     *scoped(actor, DecisionRecord.township, DecisionRecord.village))
        .order_by(DecisionRecord.recorded_at.desc(), DecisionRecord.id.desc()).limit(limit)))


def head_of(session: Session, runs_dir: Path, county: str, household_id: str,
            records: list[DecisionRecord]) -> dict[str, str | None]:
    """The head's name and ID number: from a stored document, else from a console run's household index."""
    for record in records:
        if record.document and (record.document.get("head_name") or record.document.get("head_id")):
            return {"head_name": record.document.get("head_name"), "head_id": record.document.get("head_id"),
                    "source": "单户核查文档"}
    run_ids = [record.run_id for record in records if record.run_id]
    for run_id in dict.fromkeys(run_ids):
        folder = runfiles.run_folder(runs_dir, run_id)
        index = runfiles.household_index(folder) if folder else None
        if index is None:
            continue
        found = index.filter(pl.col("household_id") == household_id).head(1).collect().to_dicts()
        if found:
            return {"head_name": found[0].get("head_name"), "head_id": found[0].get("head_id"),
                    "source": f"筛查运行 {run_id} 的底册"}
    return {"head_name": None, "head_id": None, "source": None}


def bases_of(record: DecisionRecord) -> dict[str, int]:
    """Each cause's base (fen) the decision was made on, in its pack's order."""
    return decision_causes.of(record.bases)


def cause_labels(session: Session, record: DecisionRecord) -> list[tuple[str, str]]:
    """The causes of the pack that made the decision, in its order, with their Chinese labels."""
    pack = PACKS.by_hash(session, record.pack_hash)
    return [(cause.id, cause.label) for cause in pack.causes]
