"""Partitions of a drop's work, so that what a screening holds at once is bounded by a setting, not by the drop.

A partition is a set of keys chosen by hash: rows with the same key always land in the same partition, so
every rule that compares rows with the same key (the corrections and duplicates of one event id, the sums of
one household) sees all of them in one partition, and a partitioned run decides, rejects and counts exactly
as an unpartitioned one (tests/integration/test_partitions.py). Linking uses three keys (``linking``):

* the household, for what happens within a household (a duplicate register row, members of an unknown
  household, its events summed, its members' labour, its paid before, its decision);
* the ID number, for what happens between rows of one person (a duplicate person, the people map: ID number
  -> household) and the household of each event's person;
* the event id, for what happens between rows of one event (its duplicates, its corrections, which row is
  current, the reason a row is rejected).

The rows are spilled to disk by partition as they are read (``spill``, ``linking.Reading``) and moved from
one key to the next by spilling them again, so a run holds one partition of one kind of rows at a time.

How many partitions (``plan``): one if the whole run fits the budget (setting ``memory_budget_mb``) held in
memory; else the drop's bytes times the working memory a byte takes in a partitioned run, over the budget.
``screen_partitions`` forces a count.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import polars as pl

from fangpin.config import Settings, get_settings

SEED = 0x66616E67  # fixed: a key's partition is the same for every frame of one run
# Memory a byte of the drop's files takes at a run's peak (process and workers; docs/scaling.md, "Latest
# figures"): held whole, 2.76-3.07 GiB for the 695 MB of a 1M-household drop in fifteen runs of one session
# (4.3-4.7; freed pages are kept a second, fangpin/__init__.py). Counted at 5, with a margin over the largest
# seen: drops up to ~640 MB (~900,000 households) run unpartitioned within the default budget, with nothing
# spilled; at 4.5 a 1M drop was held whole and went past 3 GiB in some runs (3.01, 3.07 GiB).
# Partitioned, a run holds ``FIXED_BYTES`` whatever its partitions' size (the interpreter
# and polars, SQLite's page cache of 256 MiB, the workbook's process writing its sheets, ~0.45 GiB) and
# about 7 bytes a byte of one partition (measured at 1M in 10 partitions and 5M in 10: 1.16 and 3.25 GiB);
# each partition is sized at 8 bytes a byte in what the budget leaves beside the fixed part.
UNPARTITIONED_BYTES_PER_DROP_BYTE = 5
WORKING_BYTES_PER_DROP_BYTE = 8
FIXED_BYTES = 1 << 30


def plan(drop_bytes: int, settings: Settings | None = None) -> int:
    """How many partitions the drop's linking and deciding are split into."""
    settings = settings or get_settings()
    if settings.screen_partitions:
        return settings.screen_partitions
    budget = settings.memory_budget_mb << 20
    if drop_bytes * UNPARTITIONED_BYTES_PER_DROP_BYTE <= budget:
        return 1
    working = max(budget - FIXED_BYTES, budget // 4)
    return max(2, math.ceil(drop_bytes * WORKING_BYTES_PER_DROP_BYTE / working))


def bounds(keys: pl.Series, partitions: int) -> pl.Series:
    """At most ``partitions - 1`` keys that cut the sorted ``keys`` into ``partitions`` ranges of about equal
    size: the bounds of a spill by ranges (``ranges``). ``keys`` is a sample of the rows to come: one hash
    partition of them is a fair one (the hash does not follow the key's order)."""
    values = keys.drop_nulls().sort()
    if partitions <= 1 or values.is_empty():
        return values.clear()
    cuts = values.gather([values.len() * index // partitions for index in range(1, partitions)])
    return pl.Series(keys.name, cuts.to_list(), dtype=keys.dtype).unique(maintain_order=True)  # its own text


def ranges(frame: pl.DataFrame, key: str, cuts: pl.Series, partitions: int) -> Iterator[pl.DataFrame]:
    """The frame's rows in ``partitions`` parts by ranges of ``key`` (``bounds``): part i holds the keys from
    ``cuts[i - 1]`` (included) up to ``cuts[i]`` (not included), each part in the frame's order. A null key
    is below every other (it sorts first, as polars sorts), in the first part."""
    if partitions <= 1 or cuts.is_empty():
        yield frame
        yield from (frame.clear() for _ in range(partitions - 1))
        return
    part = cuts.search_sorted(frame[key], side="right")
    for index in range(partitions):
        yield frame.filter(part == index)


def split(frame: pl.DataFrame, key: str, partitions: int) -> Iterator[pl.DataFrame]:
    """The frame's rows in ``partitions`` parts by the hash of ``key``, each in the frame's order. A null key
    has a partition like any value. One pass over the frame (``partition_by``): a filter per partition read
    every column of every row once per partition, a cost that grew with the partitions (19 s of a 5M run's
    linking in 14 partitions)."""
    if partitions <= 1:
        yield frame
        return
    if frame.height == 0 or frame.width == 0:
        yield from (frame for _ in range(partitions))
        return
    part = frame.select(pl.col(key).hash(seed=SEED) % partitions).to_series()
    name = "_partition"
    while name in frame.columns:
        name += "_"
    parts = frame.with_columns(part.alias(name)).partition_by(name, as_dict=True, include_key=False,
                                                                maintain_order=True)
    empty = frame.clear()
    for index in range(partitions):
        yield parts.get((index,), empty)
