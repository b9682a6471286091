"""Decide a whole frame of households with the same engine and the same pack as a single check.

The engine is asked once per threshold class (``packs.conditions.signature``): the class of each
household is computed column-wise, one household of each class is posted to durable_rules, and what
fired is joined back to every household of that class. Amounts are then exact integer-fen column
arithmetic (``payouts.owed_fen_expr``), held equal to the scalar Decimal arithmetic by tests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field

import polars as pl
from polars.io.plugins import register_io_source

from fangpin.deciding import classify
from fangpin.engine import PolicyEngine, engine_for
from fangpin.money import to_fen
from fangpin.packs import Pack
from fangpin.packs.formulas import to_expr
from fangpin.payouts import fee_fen_expr, owed_fen_expr
from fangpin.screening.spill import Spill


def stored_fact_columns(pack: Pack) -> list[str]:
    """The facts a decision is stored with: the household's own and each cause's base. Derived facts are
    not stored; they follow from these under the pack."""
    derived = {item.id for item in pack.structure.derived}
    return [name for name in pack.fields if name not in derived]


def paid_columns(pack: Pack) -> list[str]:
    return [f"{cause}_paid_before" for cause in pack.cause_ids]


def decision_columns(pack: Pack) -> list[str]:
    """decisions.csv (docs/exports.md section 4): the cause columns are the pack's causes in its order."""
    return ["household_id", "group", "outcome", "per_capita_income", *pack.cause_ids, "payout", "fee"]


def with_derived_columns(frame: pl.DataFrame, pack: Pack) -> pl.DataFrame:
    """The pack's derived facts as columns, each from the columns before it (``deciding.with_derived``)."""
    for derived in pack.structure.derived:
        frame = frame.with_columns(to_expr(derived.formula).alias(derived.id))
    return frame


def _class_columns(pack: Pack) -> list[pl.Expr]:
    """Each field's interval between the pack's thresholds: 2k, or 2k+1 when equal to the k-th (from 0)."""
    columns = []
    for field, cuts in pack.thresholds.items():
        if not cuts:
            columns.append(pl.col(field).alias(f"_class_{field}"))
            continue
        below = pl.sum_horizontal([(pl.col(field) > cut).cast(pl.Int32) for cut in cuts])
        equal = pl.sum_horizontal([(pl.col(field) == cut).cast(pl.Int32) for cut in cuts])
        columns.append((below * 2 + equal).alias(f"_class_{field}"))
    return columns


def _classes(frame: pl.DataFrame, pack: Pack, engine: PolicyEngine) -> pl.DataFrame:
    """One row per threshold class present: what fired, the group, the terminal outcome, the benefits."""
    keys = [f"_class_{field}" for field in pack.thresholds]
    representatives = frame.unique(subset=keys, keep="first", maintain_order=True)
    rows = []
    fact_columns = list(pack.fields)
    for representative in representatives.select([*keys, *fact_columns]).iter_rows(named=True):
        facts = {field: representative[field] for field in fact_columns}
        fired = engine.fire(facts)
        chosen = classify(pack, fired, facts)
        row = {key: representative[key] for key in keys}
        row.update(
            rules=",".join(fired),
            group=None if chosen.group is None or chosen.terminal == "not_covered" else chosen.group.id,
            terminal=chosen.terminal,
            notes="\n".join(chosen.notes),
        )
        for cause in pack.cause_ids:
            benefit = chosen.benefits.get(cause)
            row[f"{cause}_benefit"] = None if chosen.terminal or benefit is None else benefit.id
        rows.append(row)
    schema = {key: frame.schema[key] for key in keys} | {
        "rules": pl.String, "group": pl.String, "terminal": pl.String, "notes": pl.String,
        **{f"{cause}_benefit": pl.String for cause in pack.cause_ids},
    }
    return pl.DataFrame(rows, schema=schema, orient="row")


def _owed(pack: Pack, cause: str) -> pl.Expr:
    expr: pl.Expr = pl.lit(0, dtype=pl.Int64)
    for benefit in pack.rules_file.benefits:
        if benefit.cause != cause:
            continue
        excess = pl.col(f"{cause}_base") - to_fen(pack.amount(benefit.deductible))
        owed = owed_fen_expr(excess, pack.schedule(benefit.tiers), pack.amount(benefit.cap))
        expr = pl.when(pl.col(f"{cause}_benefit") == benefit.id).then(owed).otherwise(expr)
    return expr


def decide_frame(facts: pl.DataFrame, pack: Pack, engine: PolicyEngine | None = None) -> pl.DataFrame:
    """Facts in (the stored facts and ``<cause>_paid_before``, all fen), decisions out: the facts, the
    derived facts, then
    ``rules, group, terminal, notes, <cause>_benefit, <cause>_owed, <cause>`` (paid now), payout, fee
    and outcome, all money in integer fen."""
    engine = engine or engine_for(pack)
    classed = with_derived_columns(facts, pack).with_columns(_class_columns(pack))
    classes = _classes(classed, pack, engine)
    keys = [f"_class_{field}" for field in pack.thresholds]
    joined = classed.join(classes, on=keys, how="left", maintain_order="left").drop(keys)
    return _amounts(joined, pack)


def _amounts(frame: pl.DataFrame, pack: Pack) -> pl.DataFrame:
    fee_rate = pack.rate(pack.rules_file.fee.rate)
    causes = pack.cause_ids
    frame = frame.with_columns([_owed(pack, cause).alias(f"{cause}_owed") for cause in causes])
    frame = frame.with_columns(
        [(pl.col(f"{cause}_owed") - pl.col(f"{cause}_paid_before")).clip(lower_bound=0).alias(cause)
         for cause in causes]
    )
    frame = frame.with_columns(pl.sum_horizontal([pl.col(cause) for cause in causes]).alias("payout"))
    any_benefit = pl.any_horizontal([pl.col(f"{cause}_benefit").is_not_null() for cause in causes])
    return frame.with_columns(
        fee_fen_expr(pl.col("payout"), fee_rate).alias("fee"),
        pl.when(pl.col("terminal").is_not_null()).then(pl.col("terminal"))
        .when(~any_benefit).then(pl.lit("below_deductible"))
        .when(pl.col("payout") > 0).then(pl.lit("pay"))
        .otherwise(pl.lit("already_paid"))
        .alias("outcome"),
    )


# --- deciding a spill, and reading the decisions back in household order ------------------------------

SLICE_ROWS = 100_000  # decisions read back at once, for the result files and the chains


@dataclass
class Totals:
    """What run.json counts of the decisions, added up partition by partition: exact integer sums."""

    households: int = 0
    sums: dict[str, int] = dataclass_field(default_factory=dict)  # each cause, payout and fee, in fen
    outcomes: dict[str, int] = dataclass_field(default_factory=dict)

    def add(self, decisions: pl.DataFrame, columns: Sequence[str]) -> None:
        self.households += decisions.height
        for column in columns:
            self.sums[column] = self.sums.get(column, 0) + int(decisions[column].sum() or 0)
        for outcome, count in decisions.group_by("outcome").len().iter_rows():
            self.outcomes[outcome] = self.outcomes.get(outcome, 0) + int(count)


def decide_spilled(
    facts: Spill, pack: Pack, decisions: Spill, each: Callable[[int, pl.DataFrame], None] | None = None,
) -> Totals:
    """``decide_frame`` on each partition of ``facts`` (one engine), each partition's decisions sorted by
    household and written to the same partition of ``decisions`` (sorted runs, read back in household order
    by ``merged``: one after the other when the facts are by ranges of household, ``Spill.ranged``, which
    ``decisions`` must then be too); ``each`` is given every partition's decisions too. What is held at once
    is one partition."""
    if decisions.count != facts.count or decisions.ranged != facts.ranged:
        raise ValueError("the decisions are spilled in the facts' partitions, by ranges if the facts are")
    engine = engine_for(pack)
    totals = Totals()
    columns = [*pack.cause_ids, "payout", "fee"]
    for index in range(facts.count):
        decided = decide_frame(facts.read(index), pack, engine).sort("household_id")
        add_sorted(decisions, index, decided)
        totals.add(decided, columns)
        if each is not None:
            each(index, decided)
        del decided
    return totals


def add_sorted(spill: Spill, index: int, frame: pl.DataFrame) -> None:
    """Write a partition's rows, sorted, as a sorted run: in chunks small enough that a merge of every
    partition holds about ``SLICE_ROWS`` rows of them at once (``merged``; of ``SLICE_ROWS`` rows when the
    partitions are read one after the other, ``Spill.ranged``)."""
    rows = SLICE_ROWS if spill.ranged else max(1_000, SLICE_ROWS // spill.count)
    if frame.height == 0:
        spill.add(index, frame)
    for start in range(0, frame.height, rows):
        spill.add(index, frame.slice(start, rows))


def merged_slices(spill: Spill, key: Sequence[str], columns: Sequence[str] | None = None) -> Iterator[pl.DataFrame]:
    """The rows of a spill whose every partition is a sorted run by ``key`` (``add_sorted``; the key unique),
    in ``key`` order: a k-way merge that reads each run a chunk at a time. Each step emits, from every run,
    the rows up to the smallest last key read of the runs not yet exhausted (no row still unread can come
    before them), so what is held is about a chunk of each run. A spill by ranges (``Spill.ranged``), or of
    one run, is read as it is: its runs one after the other are in ``key`` order."""
    key = list(key)
    wanted = list(columns) if columns is not None else None
    runs = [spill.chunks(index, wanted) for index in range(spill.count) if not spill.empty(index)]
    if spill.ranged or len(runs) <= 1:
        for run in runs:
            yield from (frame for frame in run if frame.height)
        return
    pending: list[pl.DataFrame | None] = [None] * len(runs)  # None: the run is exhausted
    for number, run in enumerate(runs):
        pending[number] = next(run, None)
    while any(frame is not None for frame in pending):
        for number, frame in enumerate(pending):  # a run all of whose rows read were emitted: its next chunk
            while frame is not None and frame.height == 0:
                frame = pending[number] = next(runs[number], None)
        open_runs = [frame for frame in pending if frame is not None]
        if not open_runs:
            break
        lasts = pl.concat([frame.select(key).tail(1) for frame in open_runs]).sort(key).head(1)
        counts = _up_to(open_runs, key, lasts)
        emitted = [frame.head(count) for frame, count in zip(open_runs, counts, strict=True) if count]
        step = 0
        for number, frame in enumerate(pending):
            if frame is not None:
                pending[number] = frame.slice(counts[step])
                step += 1
        if emitted:
            yield pl.concat(emitted).sort(key)


def _up_to(frames: list[pl.DataFrame], key: list[str], bound: pl.DataFrame) -> list[int]:
    """How many of each sorted frame's first rows have a key up to ``bound``'s (one row)."""
    if len(key) == 1:
        value = bound[key[0]][0]
        return [int(frame[key[0]].search_sorted(value, side="right")) for frame in frames]
    tagged = pl.concat(
        [frame.select(key).with_columns(pl.lit(number, pl.Int32).alias("_run"), pl.lit(0, pl.Int8).alias("_mark"))
         for number, frame in enumerate(frames)]
        + [bound.select(key).with_columns(pl.lit(-1, pl.Int32).alias("_run"), pl.lit(1, pl.Int8).alias("_mark"))],
        how="vertical_relaxed").sort([*key, "_mark"], maintain_order=True)
    position = int(tagged["_mark"].arg_max() or 0)
    found = dict(tagged.head(position).group_by("_run").len().iter_rows())
    return [int(found.get(number, 0)) for number in range(len(frames))]


def merged(spill: Spill, key: Sequence[str], columns: Sequence[str] | None = None) -> pl.LazyFrame:
    """``merged_slices`` as a lazy frame (a source polars pulls from: a sink streams it to a file)."""
    schema = dict(spill.schema or {})
    if columns is not None:
        schema = {name: schema[name] for name in columns}
    return streamed(schema, lambda: merged_slices(spill, key, list(schema)))


def sorted_ranges(spill: Spill, key: Sequence[str], drop: bool = False) -> Iterator[pl.DataFrame]:
    """The rows of a spill by ranges (``Spill.ranged``) whose partitions are not sorted, in ``key`` order: each
    partition read whole and sorted, one after the other (what is held is one partition), given
    ``SLICE_ROWS`` rows at a time; ``drop``: each partition's files deleted once read (read only once)."""
    for index in range(spill.count):
        if not spill.empty(index):
            frame = spill.read(index)
            if drop:
                spill.drop(index)
            frame = frame.sort(list(key))
            yield from (frame.slice(start, SLICE_ROWS) for start in range(0, frame.height, SLICE_ROWS))
            del frame


def streamed(schema: dict[str, pl.DataType], frames: Callable[[], Iterator[pl.DataFrame]]) -> pl.LazyFrame:
    """A lazy frame of ``schema`` whose rows are the frames ``frames()`` gives, in order (a source polars pulls
    from, once a query is run: a sink streams it to a file)."""

    def source(with_columns: list[str] | None, predicate: pl.Expr | None, n_rows: int | None,
               _batch_size: int | None) -> Iterator[pl.DataFrame]:
        left = n_rows
        for frame in frames():
            part = frame.select(list(schema)) if with_columns is None else frame.select(with_columns)
            if predicate is not None:
                part = part.filter(predicate)
            if left is not None:
                part = part.head(left)
                left -= part.height
            yield part
            if left is not None and left <= 0:
                return

    return register_io_source(source, schema=schema)


def merged_parts(spill: Spill, key: Sequence[str], columns: Sequence[str] | None = None,
                 rows: int | None = None) -> Iterator[pl.DataFrame]:
    """``merged_slices`` cut again into parts of ``rows`` rows (default ``SLICE_ROWS``; the last fewer), in
    ``key`` order, in this thread: no streaming engine between the spill and whoever writes the rows. Given
    a Python source, polars' engine reads several batches ahead of its consumer (five of 28 MiB, 140 MiB
    beside what the consumer holds, measured); a screening stores its decisions and writes its files from
    them at once, two such streams of 100,000 decisions a batch (a 5M run's storing peaked there)."""
    rows = rows or SLICE_ROWS
    waiting: list[pl.DataFrame] = []
    held = 0
    for frame in merged_slices(spill, key, columns):
        while frame.height:
            taken = frame.slice(0, rows - held)
            waiting.append(taken)
            held += taken.height
            frame = frame.slice(taken.height)
            if held == rows:
                yield waiting[0] if len(waiting) == 1 else pl.concat(waiting)
                waiting, held = [], 0
    if waiting:
        yield waiting[0] if len(waiting) == 1 else pl.concat(waiting)


def slices(frame: pl.LazyFrame, rows: int | None = None) -> Iterator[pl.DataFrame]:
    """A lazy frame's rows in order, at most ``rows`` (default ``SLICE_ROWS``) at a time (the streaming engine)."""
    rows = rows or SLICE_ROWS
    for batch in frame.collect_batches(chunk_size=rows, maintain_order=True):
        for start in range(0, batch.height, rows):
            yield batch.slice(start, rows)
