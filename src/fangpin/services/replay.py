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
from fangpin.db import decision_causes, queries
from fangpin.db.models import DecisionRecord, Run
from fangpin.deciding import Subject, decide_facts, with_derived
from fangpin.decisions import Decision
from fangpin.errors import ReplayError
from fangpin.money import from_fen
from fangpin.packs import Pack, load_pack
from fangpin.packs.conditions import HOUSEHOLD_FIELDS
from fangpin.reports.results import decisions_table
from fangpin.screening.bulk import decide_frame, paid_columns, stored_fact_columns

_TEXT = ("household_id", "township", "village", "status", "group", "outcome", "rules", "pack_hash",
         *decision_causes.COLUMNS)
_STORED = ["id", "household_id", "township", "village", *HOUSEHOLD_FIELDS, *decision_causes.COLUMNS, "group",
           "outcome", "payout", "fee", "rules", "pack_hash"]


def compared(causes: tuple[str, ...]) -> list[str]:
    """What replay compares, in order: the group and outcome, each cause's amount, payout, fee, rules.
    A cause of only one of the two packs counts as 0 under the other."""
    return ["group", "outcome", *causes, "payout", "fee", "rules"]


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
        """Byte for byte: the replayed decisions.csv has the stored one's sha256 (only ever under the same pack:
        the file names the pack's hash)."""
        return self.stored_digest == self.replayed_digest

    @property
    def unchanged(self) -> bool:
        """Every household's group, outcome and amounts are as stored (under another pack, the sha256 still
        differs: the pack's hash is part of every row)."""
        return self.diff.is_empty()

    @property
    def verdict(self) -> str:
        """``identical`` (same sha256), ``unchanged`` (same results under another pack), ``changed``."""
        return "identical" if self.identical else "unchanged" if self.unchanged else "changed"

    @property
    def holds(self) -> bool:
        """What replay expects: identical under the deciding pack; under another, no household changed."""
        same_pack = self.pack_before.hash == self.pack_after.hash
        return self.identical if same_pack else self.unchanged

    @property
    def causes(self) -> tuple[str, ...]:
        """The causes of both packs: those decided before, then any the other pack adds."""
        before = self.pack_before.cause_ids
        return (*before, *(cause for cause in self.pack_after.cause_ids if cause not in before))

    @property
    def cause_labels(self) -> dict[str, str]:
        """Each cause's label, from the pack that has it (the later pack's label where both have it)."""
        return {**self.pack_before.people_labels.causes, **self.pack_after.people_labels.causes}

    def totals(self) -> dict[str, Any]:
        def total(frame: pl.DataFrame, column: str) -> int:
            return int(frame[column].sum() or 0) if column in frame.columns else 0

        changed = self.diff["household_id"].n_unique() if self.diff.height else 0
        return {
            "households": self.stored.height,
            "households_changed": changed,
            "payout_before": total(self.stored, "payout"), "payout_after": total(self.replayed, "payout"),
            "fee_before": total(self.stored, "fee"), "fee_after": total(self.replayed, "fee"),
            **{f"{cause}_before": total(self.stored, cause) for cause in self.causes},
            **{f"{cause}_after": total(self.replayed, cause) for cause in self.causes},
        }


def stored_pack(session: Session, pack_hash: str) -> Pack:
    """The pack a decision was made under, rebuilt from the files stored with it, and its hash checked."""
    with tempfile.TemporaryDirectory(prefix="fangpin-pack-") as folder:
        if not queries.write_pack_files(session, pack_hash, Path(folder)):
            raise ReplayError(f"本数据库中没有存档的规则包 {pack_hash}:无法重放")
        pack = load_pack(folder)
    if pack.hash != pack_hash:
        raise ReplayError(f"存档的规则包 {pack_hash[:12]} 现在的哈希是 {pack.hash[:12]}:已被改动,请联系系统管理员")
    return pack


def _stored_frame(session: Session, *conditions: Any) -> pl.DataFrame:
    columns = [DecisionRecord.__table__.c[name] for name in _STORED]
    rows = session.execute(select(*columns).where(*conditions).order_by(DecisionRecord.household_id)).all()
    schema: dict[str, Any] = {name: pl.String if name in _TEXT else pl.Int64 for name in _STORED}
    return pl.DataFrame([tuple(row) for row in rows], schema=schema, orient="row")


def replay_run(session: Session, run_id: str, pack_dir: Path | None = None) -> ReplayResult:
    run = session.get(Run, run_id)
    if run is None:
        raise ReplayError(f"本数据库中没有运行 {run_id}:请检查运行编号")
    return _replay(session, f"运行 {run_id}", _stored_frame(session, DecisionRecord.run_id == run_id), pack_dir)


def replay_decision(session: Session, decision_id: int, pack_dir: Path | None = None) -> ReplayResult:
    if session.get(DecisionRecord, decision_id) is None:
        raise ReplayError(f"本数据库中没有判定 #{decision_id}:请检查判定编号")
    return _replay(session, f"判定 #{decision_id}", _stored_frame(session, DecisionRecord.id == decision_id),
                   pack_dir)


def _digest(frame: pl.DataFrame, pack: Pack) -> str:
    return hashlib.sha256(decisions_table(frame, pack.hash, pack.cause_ids).write_csv().encode()).hexdigest()


def _replay(session: Session, scope: str, stored: pl.DataFrame, pack_dir: Path | None) -> ReplayResult:
    hashes = stored["pack_hash"].unique().to_list()
    if not hashes:
        raise ReplayError(f"{scope}没有可重放的判定")
    if len(hashes) > 1:
        raise ReplayError(f"{scope}由多个规则包判定({'、'.join(h[:12] for h in hashes)}):请逐个判定重放")
    before = stored_pack(session, hashes[0])
    after = before if pack_dir is None else load_pack(pack_dir)
    stored = decision_causes.expanded(stored, before.cause_ids)
    # Under a pack with causes the stored facts lack, those bases are 0: the stored run knew nothing of them.
    missing = [pl.lit(0, pl.Int64).alias(name) for name in (*stored_fact_columns(after), *paid_columns(after))
               if name not in stored.columns]
    facts = stored.with_columns(missing).select("household_id", *stored_fact_columns(after), *paid_columns(after))
    replayed = decide_frame(facts, after).with_columns(stored.select("township", "village"))
    result = ReplayResult(
        scope=scope, pack_before=before, pack_after=after, stored=stored, replayed=replayed,
        stored_digest=_digest(stored, before), replayed_digest=_digest(replayed, after), diff=pl.DataFrame(),
        parameters=changed_parameters(before, after),
    )
    result.diff = _diff(stored, replayed, before, after, result.causes)
    return result


def _diff(stored: pl.DataFrame, replayed: pl.DataFrame, before: Pack, after: Pack,
          causes: tuple[str, ...]) -> pl.DataFrame:
    columns = compared(causes)
    zero = pl.lit(0, pl.Int64)
    stored = stored.with_columns([zero.alias(c) for c in causes if c not in stored.columns])
    replayed = replayed.with_columns([zero.alias(c) for c in causes if c not in replayed.columns])
    joined = stored.select("household_id", "township", "village", *columns).join(
        replayed.select("household_id", *(pl.col(c).alias(f"{c}_after") for c in columns)), on="household_id"
    )
    differs = pl.any_horizontal([pl.col(c).ne_missing(pl.col(f"{c}_after")) for c in columns])
    rows = []
    accounted: dict[tuple[str, str, bool], tuple[list[str], list[str]]] = {}  # the same rules, the same answer
    for row in joined.filter(differs).iter_rows(named=True):
        fee_changed = row["fee"] != row["fee_after"]
        key = (row["rules"] or "", row["rules_after"] or "", fee_changed)
        if key not in accounted:
            accounted[key] = account_for(before, after, key[0].split(",") if key[0] else [],
                                         key[1].split(",") if key[1] else [], fee_changed)
        parameters, rules = accounted[key]
        common = {
            "household_id": row["household_id"], "township": row["township"], "village": row["village"],
            "group_before": row["group"], "group_after": row["group_after"],
            "outcome_before": row["outcome"], "outcome_after": row["outcome_after"],
            "parameters": ", ".join(parameters), "rules": ", ".join(rules),
        }
        for item in (*causes, "payout", "fee"):
            if row[item] != row[f"{item}_after"] or item == "payout":
                rows.append({**common, "cause": item, "before": row[item], "after": row[f"{item}_after"],
                             "difference": row[f"{item}_after"] - row[item]})
    schema = {"household_id": pl.String, "township": pl.String, "village": pl.String, "group_before": pl.String,
              "group_after": pl.String, "outcome_before": pl.String, "outcome_after": pl.String,
              "parameters": pl.String, "rules": pl.String, "cause": pl.String, "before": pl.Int64,
              "after": pl.Int64, "difference": pl.Int64}
    return pl.DataFrame(rows, schema=schema)


def stored_facts(record: DecisionRecord) -> dict[str, int | str]:
    """The engine facts a decision was stored with: the household's own and each cause's base."""
    facts: dict[str, int | str] = {name: getattr(record, name) for name in HOUSEHOLD_FIELDS}
    facts.update({f"{cause}_base": value for cause, value in decision_causes.of(record.bases).items()})
    return facts


def redecide(session: Session, record: DecisionRecord, *, facts: dict[str, int | str] | None = None,
             paid_before: dict[str, Decimal] | None = None) -> Decision:
    """One stored decision decided again, one household at a time (``decide_facts``), under the pack that made
    it: the full ``Decision``, with each cause's base, deductible, excess, tiers, cap, increment and the
    clauses its rules cite (the bulk replay above compares amounts; this explains them). ``facts`` and
    ``paid_before`` replace the stored ones (a claim's filing decides the surveyor's verified figures)."""
    from fangpin.services.checks import PACKS  # the packs loaded once per process

    pack = PACKS.by_hash(session, record.pack_hash)
    if facts is None:
        facts = stored_facts(record)
    facts = with_derived(dict(facts), pack)
    if paid_before is None:
        paid_before = {cause: from_fen(value) for cause, value in decision_causes.of(record.paid_before).items()}
    subject = Subject(record.household_id, record.year, record.county, record.township, record.village)
    return decide_facts(subject, facts, paid_before, pack)
