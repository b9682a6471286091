"""Replay stored decisions: under the pack that made them (identical, byte for byte), or under another
(a diff per household and cause, with the parameters and rules that account for it)."""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import select
from sqlalchemy.orm import Session

from fangpin.audit.attribution import account_for, changed_parameters
from fangpin.db import queries
from fangpin.db.models import DecisionRecord, Run
from fangpin.deciding import Subject, decide_facts
from fangpin.decisions import Decision
from fangpin.errors import ReplayError
from fangpin.facts import CAUSES, Cause
from fangpin.money import from_fen
from fangpin.packs import Pack, load_pack
from fangpin.packs.conditions import ENGINE_FIELDS
from fangpin.reports.results import decisions_table
from fangpin.screening.bulk import PAID_COLUMNS, decide_frame

COMPARED = ["group", "outcome", *CAUSES, "payout", "fee", "rules"]
_STORED = ["id", "household_id", "township", "village", *ENGINE_FIELDS, *PAID_COLUMNS, *COMPARED, "pack_hash"]


@dataclass
class ReplayResult:
    scope: str
    pack_before: Pack
    pack_after: Pack
    stored: pl.DataFrame
    replayed: pl.DataFrame
    stored_digest: str
    replayed_digest: str
    diff: pl.DataFrame
    parameters: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)

    @property
    def identical(self) -> bool:
        return self.diff.is_empty() and (self.pack_before.hash != self.pack_after.hash
                                         or self.stored_digest == self.replayed_digest)

    def totals(self) -> dict[str, Any]:
        def total(frame: pl.DataFrame, column: str) -> int:
            return int(frame[column].sum() or 0)

        changed = self.diff["household_id"].n_unique() if self.diff.height else 0
        return {
            "households": self.stored.height,
            "households_changed": changed,
            "payout_before": total(self.stored, "payout"), "payout_after": total(self.replayed, "payout"),
            "fee_before": total(self.stored, "fee"), "fee_after": total(self.replayed, "fee"),
            **{f"{cause}_before": total(self.stored, cause) for cause in CAUSES},
            **{f"{cause}_after": total(self.replayed, cause) for cause in CAUSES},
        }


def stored_pack(session: Session, pack_hash: str) -> Pack:
    """The pack a decision was made under, rebuilt from the files stored with it, and its hash checked."""
    with tempfile.TemporaryDirectory(prefix="fangpin-pack-") as folder:
        if not queries.write_pack_files(session, pack_hash, Path(folder)):
            raise ReplayError(f"pack {pack_hash} is not stored in this database")
        pack = load_pack(folder)
    if pack.hash != pack_hash:
        raise ReplayError(f"the stored pack {pack_hash[:12]} now hashes to {pack.hash[:12]}: it was altered")
    return pack


def _stored_frame(session: Session, *conditions: Any) -> pl.DataFrame:
    columns = [DecisionRecord.__table__.c[name] for name in _STORED]
    rows = session.execute(select(*columns).where(*conditions).order_by(DecisionRecord.household_id)).all()
    schema: dict[str, Any] = {name: pl.Int64 for name in _STORED}
    schema.update({name: pl.String for name in ("household_id", "township", "village", "status", "group",
                                                 "outcome", "rules", "pack_hash")})
    return pl.DataFrame([tuple(row) for row in rows], schema=schema, orient="row")


def replay_run(session: Session, run_id: str, pack_dir: Path | None = None) -> ReplayResult:
    run = session.get(Run, run_id)
    if run is None:
        raise ReplayError(f"no run {run_id!r} in this database")
    return _replay(session, f"run {run_id}", _stored_frame(session, DecisionRecord.run_id == run_id), pack_dir)


def replay_decision(session: Session, decision_id: int, pack_dir: Path | None = None) -> ReplayResult:
    if session.get(DecisionRecord, decision_id) is None:
        raise ReplayError(f"no decision {decision_id} in this database")
    return _replay(session, f"decision {decision_id}", _stored_frame(session, DecisionRecord.id == decision_id),
                   pack_dir)


def _digest(frame: pl.DataFrame, pack_hash: str) -> str:
    return hashlib.sha256(decisions_table(frame, pack_hash).write_csv().encode()).hexdigest()


def _replay(session: Session, scope: str, stored: pl.DataFrame, pack_dir: Path | None) -> ReplayResult:
    hashes = stored["pack_hash"].unique().to_list()
    if not hashes:
        raise ReplayError(f"{scope} has no decisions to replay")
    if len(hashes) > 1:
        raise ReplayError(f"{scope} was decided under several packs: {', '.join(h[:12] for h in hashes)}")
    before = stored_pack(session, hashes[0])
    after = before if pack_dir is None else load_pack(pack_dir)
    facts = stored.select("household_id", *ENGINE_FIELDS, *PAID_COLUMNS)
    replayed = decide_frame(facts, after).with_columns(stored.select("township", "village"))
    diff = _diff(stored, replayed, before, after)
    return ReplayResult(
        scope=scope, pack_before=before, pack_after=after, stored=stored, replayed=replayed,
        stored_digest=_digest(stored, before.hash), replayed_digest=_digest(replayed, after.hash), diff=diff,
        parameters=changed_parameters(before, after),
    )


def _diff(stored: pl.DataFrame, replayed: pl.DataFrame, before: Pack, after: Pack) -> pl.DataFrame:
    joined = stored.select("household_id", "township", "village", *COMPARED).join(
        replayed.select("household_id", *(pl.col(c).alias(f"{c}_after") for c in COMPARED)), on="household_id"
    )
    differs = pl.any_horizontal([pl.col(c).ne_missing(pl.col(f"{c}_after")) for c in COMPARED])
    rows = []
    for row in joined.filter(differs).iter_rows(named=True):
        fee_changed = row["fee"] != row["fee_after"]
        parameters, rules = account_for(before, after, row["rules"].split(",") if row["rules"] else [],
                                        row["rules_after"].split(",") if row["rules_after"] else [], fee_changed)
        common = {
            "household_id": row["household_id"], "township": row["township"], "village": row["village"],
            "group_before": row["group"], "group_after": row["group_after"],
            "outcome_before": row["outcome"], "outcome_after": row["outcome_after"],
            "parameters": ", ".join(parameters), "rules": ", ".join(rules),
        }
        for item in (*CAUSES, "payout", "fee"):
            if row[item] != row[f"{item}_after"] or item == "payout":
                rows.append({**common, "cause": item, "before": row[item], "after": row[f"{item}_after"],
                             "difference": row[f"{item}_after"] - row[item]})
    schema = {"household_id": pl.String, "township": pl.String, "village": pl.String, "group_before": pl.String,
              "group_after": pl.String, "outcome_before": pl.String, "outcome_after": pl.String,
              "parameters": pl.String, "rules": pl.String, "cause": pl.String, "before": pl.Int64,
              "after": pl.Int64, "difference": pl.Int64}
    return pl.DataFrame(rows, schema=schema)


def redecide(session: Session, record: DecisionRecord, *, facts: dict[str, int | str] | None = None,
             paid_before: dict[Cause, Decimal] | None = None) -> Decision:
    """One stored decision decided again, one household at a time (``decide_facts``), under the pack that made
    it: the full ``Decision``, with each cause's base, deductible, excess, tiers, cap, increment and the
    clauses its rules cite (the bulk replay above compares amounts; this explains them). ``facts`` and
    ``paid_before`` replace the stored ones (a claim's filing decides the surveyor's verified figures)."""
    from fangpin.services.checks import PACKS  # the packs loaded once per process

    pack = PACKS.by_hash(session, record.pack_hash)
    if facts is None:
        facts = {name: getattr(record, name) for name in ENGINE_FIELDS}
    if paid_before is None:
        paid_before = {cause: from_fen(int(getattr(record, f"{cause}_paid_before"))) for cause in CAUSES}
    subject = Subject(record.household_id, record.year, record.county, record.township, record.village)
    return decide_facts(subject, facts, paid_before, pack)
