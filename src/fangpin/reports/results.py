"""The machine-readable results of a run (docs/exports.md section 4) and run.json."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl

REJECTION_HEADER = ["file", "row", "field", "value", "reason"]


def yuan(column: str) -> pl.Expr:
    """Integer fen as yuan with exactly two decimals, without ever passing through a float."""
    fen = pl.col(column).cast(pl.Int64)
    sign = pl.when(fen < 0).then(pl.lit("-")).otherwise(pl.lit(""))
    magnitude = fen.abs()
    return pl.concat_str(
        [sign, (magnitude // 100).cast(pl.String), pl.lit("."), (magnitude % 100).cast(pl.String).str.zfill(2)]
    ).alias(column)


def decision_header(causes: Sequence[str]) -> list[str]:
    """decisions.csv's columns: the cause columns are the deciding pack's causes in its order."""
    return ["household_id", "group", "outcome", "per_capita_income", *causes, "payout", "fee", "pack"]


def decisions_table(decisions: pl.DataFrame, pack_hash: str, causes: Sequence[str]) -> pl.DataFrame:
    return decisions.sort("household_id").select(
        pl.col("household_id"),
        pl.col("group"),
        pl.col("outcome"),
        yuan("per_capita_income"),
        *(yuan(cause) for cause in causes),
        yuan("payout"),
        yuan("fee"),
        pl.lit(pack_hash).alias("pack"),
    )


def write_decisions(path: Path, decisions: pl.DataFrame, pack_hash: str, causes: Sequence[str]) -> None:
    decisions_table(decisions, pack_hash, causes).write_csv(path)


def write_rejections(path: Path, rejections: pl.DataFrame) -> None:
    rejections.select(REJECTION_HEADER).sort(["file", "row"]).write_csv(path)


def write_run_json(path: Path, run: dict[str, Any]) -> None:
    path.write_text(json.dumps(run, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
