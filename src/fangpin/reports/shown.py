"""What the office's workbook shows of a run's decisions (``Shown``), and nothing more.

The workbook lists at most ``SHEET_ROW_LIMIT`` rows a sheet and sums the rest: the households to visit and
those referred to dibao (the first rows by township, village and household, nulls last), every household
when the run has at most ``ALL_DECISIONS_LIMIT`` of them, the payouts by township and the households and
payout by outcome. A ``Shown`` holds exactly that, built from one frame of decisions (``Shown.of``), or
partition by partition (a screening, ``services.screening``): each partition's own ``Shown`` combined with
the ones before (``Shown.combined``). Combining is exact: the first rows of the whole are among the first
rows of its parts (a household is in one part, and its id makes the order total), and the sums are integer
fen added up. What is held at any time is a few sheets' rows, never every decision; a screening hands the
workbook's process this value (``write``/``read``: a few small Parquet files), not its decisions.

The limits travel with the value: the workbook is written with those it was cut at, in whatever process.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import polars as pl

from fangpin.frames import detached

# A workbook is for reading: xlsxwriter writes ~100k cells a second, and nobody reads 100,000 rows in
# Excel. Larger lists are cut with a note; the CSV files beside the workbook always hold every row.
SHEET_ROW_LIMIT = 30_000
ALL_DECISIONS_LIMIT = 20_000  # a run with more households has no 全部结果 rows, only a note

ORDER = ["township", "village", "household_id"]  # the listings' order, nulls last (``workbook.VISIT_ORDER``)
_LISTED = ["township", "village", "household_id", "head_name", "group", "per_capita_income"]
_FRAMES = ("visits", "dibao", "townships", "outcomes", "everything")


def _visit_columns(causes: Sequence[str]) -> list[str]:
    return [*_LISTED, *causes, "payout", "fee"]


def _all_columns(causes: Sequence[str]) -> list[str]:
    return [*_LISTED, "outcome", *causes, "payout", "fee", "rules"]


@dataclass(frozen=True)
class Shown:
    """The rows and sums the workbook shows of a run's decisions (money in fen, as decided)."""

    causes: tuple[str, ...]  # the deciding pack's causes, in its order
    visits: pl.DataFrame  # the paying households, the first ``limit`` in ``ORDER``: ``_visit_columns``
    dibao: pl.DataFrame  # the households referred to dibao, the first ``limit`` in ``ORDER``: ``_LISTED``
    townships: pl.DataFrame  # the paying households by township: township, households, each cause, payout, fee
    outcomes: pl.DataFrame  # outcome, households, payout: every outcome decided
    # every household, the first ``limit`` (``_all_columns``); None when there are more than ``everything_limit``
    everything: pl.DataFrame | None
    limit: int  # the rows a sheet shows
    everything_limit: int

    @property
    def households(self) -> int:
        return int(self.outcomes["households"].sum())

    def height(self, outcome: str) -> int:
        """How many households the run decided ``outcome`` for: a listing's full length."""
        return int(self.outcomes.filter(pl.col("outcome") == outcome)["households"].sum())

    @classmethod
    def of(cls, decisions: pl.DataFrame | pl.LazyFrame, causes: Sequence[str], *, limit: int | None = None,
           everything_limit: int | None = None) -> Shown:
        """What the workbook shows of ``decisions`` (lazy: read a sheet at a time by the streaming engine, a
        sort followed by a head a top-k: the rows not shown are never held). The limits default to the
        module's, read when called."""
        limit = SHEET_ROW_LIMIT if limit is None else limit
        everything_limit = ALL_DECISIONS_LIMIT if everything_limit is None else everything_limit
        frame, causes = decisions.lazy(), tuple(causes)

        def first(rows: pl.LazyFrame, columns: list[str]) -> pl.DataFrame:  # its own text: the decisions go
            return detached(rows.select(columns).sort(ORDER, nulls_last=True).head(limit).collect(engine="streaming"))

        paying = frame.filter(pl.col("outcome") == "pay")
        sums = [*causes, "payout", "fee"]
        townships = paying.group_by("township").agg(pl.len().cast(pl.Int64).alias("households"),
                                                    pl.col(sums).sum())
        outcomes = frame.group_by("outcome").agg(pl.len().cast(pl.Int64).alias("households"), pl.col("payout").sum())
        shown = cls(
            causes=causes, visits=first(paying, _visit_columns(causes)),
            dibao=first(frame.filter(pl.col("outcome") == "refer_dibao"), _LISTED),
            townships=detached(_canonical(townships.collect(engine="streaming"), "township")),
            outcomes=_canonical(outcomes.collect(engine="streaming"), "outcome"),
            everything=None, limit=limit, everything_limit=everything_limit,
        )
        if shown.households > everything_limit:
            return shown
        return replace(shown, everything=first(frame, _all_columns(causes)))

    @classmethod
    def combined(cls, pieces: Sequence[Shown]) -> Shown:
        """The ``Shown`` of the decisions of every piece together (each piece of different households)."""
        if not pieces:
            raise ValueError("nothing to combine")
        head = pieces[0]
        if len(pieces) == 1:
            return head
        if any((piece.causes, piece.limit, piece.everything_limit) != (head.causes, head.limit,
                                                                          head.everything_limit) for piece in pieces):
            raise ValueError("pieces cut at different limits, or of different packs, do not combine")

        def first(frames: list[pl.DataFrame]) -> pl.DataFrame:  # its own text: the pieces go
            return detached(pl.concat(frames, how="vertical_relaxed").sort(ORDER, nulls_last=True).head(head.limit))

        def added(frames: list[pl.DataFrame], key: str) -> pl.DataFrame:
            every = pl.concat(frames, how="vertical_relaxed")
            return detached(_canonical(every.group_by(key).agg(pl.exclude(key).sum()), key))

        outcomes = added([piece.outcomes for piece in pieces], "outcome")
        alls = [piece.everything for piece in pieces]
        within = int(outcomes["households"].sum()) <= head.everything_limit
        return cls(
            causes=head.causes, visits=first([piece.visits for piece in pieces]),
            dibao=first([piece.dibao for piece in pieces]),
            townships=added([piece.townships for piece in pieces], "township"), outcomes=outcomes,
            everything=first([frame for frame in alls if frame is not None])
            if within and all(frame is not None for frame in alls) else None,
            limit=head.limit, everything_limit=head.everything_limit,
        )

    def write(self, folder: Path) -> None:
        """Into ``folder`` (new): a Parquet file a frame and ``shown.json`` (the causes and limits)."""
        folder.mkdir()
        for name in _FRAMES:
            frame = getattr(self, name)
            if frame is not None:
                frame.write_parquet(folder / f"{name}.parquet", compression="lz4", statistics=False)
        meta = {"causes": list(self.causes), "limit": self.limit, "everything_limit": self.everything_limit}
        (folder / "shown.json").write_text(json.dumps(meta), encoding="utf-8")

    @classmethod
    def read(cls, folder: Path) -> Shown:
        """A ``Shown`` written by ``write``."""
        meta = json.loads((folder / "shown.json").read_text(encoding="utf-8"))
        everything = folder / "everything.parquet"
        return cls(
            causes=tuple(meta["causes"]), visits=pl.read_parquet(folder / "visits.parquet"),
            dibao=pl.read_parquet(folder / "dibao.parquet"), townships=pl.read_parquet(folder / "townships.parquet"),
            outcomes=pl.read_parquet(folder / "outcomes.parquet"),
            everything=pl.read_parquet(everything) if everything.exists() else None,
            limit=int(meta["limit"]), everything_limit=int(meta["everything_limit"]),
        )


def _canonical(sums: pl.DataFrame, key: str) -> pl.DataFrame:
    """Sums in one order (their key's, nulls last), whatever order they were added up in."""
    return sums.sort(key, nulls_last=True)
