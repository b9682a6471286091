"""The machine-readable results of a run (docs/exports.md section 4) and run.json."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import polars as pl

REJECTION_HEADER = ["file", "row", "field", "value", "reason"]

# CSV cells a spreadsheet would run (docs/exports.md, "Result files"): text starting with = + - @ or a tab
# or carriage return, unless the whole cell is a plain number (-12.50 stays a number). Such a cell gets a
# leading apostrophe; a cell that already starts with apostrophes before such a character gets one more,
# so reading back (``restored``) removes exactly one and gives the original text.
_RUNNABLE = r"^'*[=+\-@\t\r]"
_PLAIN_NUMBER = r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$"
_ESCAPED = r"^'+[=+\-@\t\r]"
_CANDIDATE = r"^['=+\-@\t\r]"

# Text from the drop (village names, file names) goes into a workbook as text: never a formula, link or number.
SAFE_WORKBOOK = {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False}

Frame = pl.DataFrame | pl.LazyFrame
F = TypeVar("F", pl.DataFrame, pl.LazyFrame)


def _text_columns(frame: Frame) -> list[str]:
    schema = frame.collect_schema() if isinstance(frame, pl.LazyFrame) else frame.schema
    return [name for name, dtype in schema.items() if dtype == pl.String]


def neutralised(frame: pl.DataFrame, columns: Sequence[str] | None = None) -> pl.DataFrame:
    """Every text cell a spreadsheet would run as a formula, prefixed with an apostrophe, in ``columns``
    (default: every text column). Cheap when there is none: one anchored test per column, the full rule
    only on a column that has a candidate."""
    names = [name for name in _text_columns(frame) if columns is None or name in columns]
    if not names or frame.height == 0:
        return frame
    candidates = frame.select(pl.col(name).str.contains(_CANDIDATE).any() for name in names).row(0)
    return frame.with_columns(
        pl.when(pl.col(name).str.contains(_RUNNABLE) & ~pl.col(name).str.contains(_PLAIN_NUMBER))
        .then(pl.lit("'") + pl.col(name)).otherwise(pl.col(name)).alias(name)
        for name, candidate in zip(names, candidates, strict=True) if candidate
    )


def restored(frame: F) -> F:
    """The text as it was before :func:`neutralised` (for showing a result file's cells in the console)."""
    return frame.with_columns(
        pl.when(pl.col(name).str.contains(_ESCAPED)).then(pl.col(name).str.slice(1))
        .otherwise(pl.col(name)).alias(name)
        for name in _text_columns(frame)
    )


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


def decision_rows(decisions: pl.DataFrame, pack_hash: str, causes: Sequence[str]) -> pl.DataFrame:
    """decisions.csv's rows of these decisions, as written."""
    # household_id is the only text from the drop; the other columns are fangpin's own (codes, amounts, hash)
    return neutralised(decisions_table(decisions, pack_hash, causes), ["household_id"])


def write_decisions(path: Path, decisions: pl.DataFrame, pack_hash: str, causes: Sequence[str]) -> None:
    decision_rows(decisions, pack_hash, causes).write_csv(path)


def write_rejections(path: Path, rejections: pl.DataFrame) -> None:
    """rejections.csv, in file and row order, written a slice at a time (``write_rejection_slices``)."""
    table = rejections.select(REJECTION_HEADER).sort(["file", "row"])
    write_rejection_slices(path, (table.slice(start, WRITE_SLICE_ROWS)
                                  for start in range(0, table.height, WRITE_SLICE_ROWS)))


def write_rejection_slices(path: Path, slices: Iterable[pl.DataFrame]) -> None:
    """rejections.csv from its rows in file and row order, a slice at a time (``REJECTION_HEADER``): a
    screening's rejections grow with the drop's defects (1.4M rows at 5M households), and sorting and
    neutralising them whole held two more copies of them beside storing."""
    out = CsvFile(path)
    try:
        for part in slices:
            out.write(neutralised(part.select(REJECTION_HEADER), ["file", "field", "value"]))
    finally:
        out.close(pl.DataFrame(schema=dict.fromkeys(REJECTION_HEADER, pl.String())))  # the header alone


WRITE_SLICE_ROWS = 100_000  # rows a result file is written at a time


def household_rows(households: pl.DataFrame) -> pl.DataFrame:
    return neutralised(households, ["household_id", "head_name", "township", "village"])


def write_households(path: Path, households: pl.DataFrame) -> None:
    """households.csv: who heads each household (household_id, head_name, head_id, township, village); with a
    BOM, as people open it in Excel (docs/exports.md)."""
    household_rows(households).write_csv(path, include_bom=True)


class CsvFile:
    """A result file written a slice of rows at a time, byte for byte the file ``write_csv`` of all the
    rows at once writes: the BOM (``bom``) and the header once, then each slice's rows. Closing a file no
    slice was written to writes ``empty`` (the header alone)."""

    def __init__(self, path: Path, *, bom: bool = False) -> None:
        self._handle = path.open("wb")
        self._bom = bom
        self._started = False

    def write(self, rows: pl.DataFrame) -> None:
        rows.write_csv(self._handle, include_header=not self._started, include_bom=self._bom and not self._started)
        self._started = True

    def close(self, empty: pl.DataFrame) -> None:
        try:
            if not self._started:
                self.write(empty)
        finally:
            self._handle.close()


def write_run_json(path: Path, run: dict[str, Any]) -> None:
    path.write_text(json.dumps(run, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
