"""Spills: rows by partition, read back in the order they were added, on disk or (one partition) held."""

from __future__ import annotations

import tempfile
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fangpin.screening import partitions
from fangpin.screening.spill import Spill


@pytest.mark.parametrize(("count", "hold", "files"), [(3, None, True), (1, None, False), (1, False, True)])
def test_a_spill_gives_back_each_partition_in_the_order_added_on_disk_or_held(
        tmp_path: Path, count: int, hold: bool | None, files: bool) -> None:
    frame = pl.DataFrame({"household_id": [f"H{n % 50}" for n in range(400)], "n": range(400)})
    spill = Spill(tmp_path, "rows", count, hold=hold)
    for start in range(0, 400, 70):
        spill.add_split(frame.slice(start, 70), "household_id")

    back = [spill.read(index) for index in range(count)]

    assert spill.height == 400 and sum(part.height for part in back) == 400
    assert all(part["n"].is_sorted() for part in back)  # each partition in the order added
    assert pl.concat(back).sort("n").equals(frame)
    assert any((tmp_path / "rows").iterdir()) is files
    spill.drop(0)
    assert spill.read(0).is_empty() and spill.read(0).schema == frame.schema


def test_the_first_read_of_a_spill_writes_every_partition_s_waiting_pieces(tmp_path: Path) -> None:
    """Small pieces wait to be written together; once the pass that made a spill is over (its first read)
    they all go to disk (``Spill.flush``), not kept in memory until their own partition is read."""
    frame = pl.DataFrame({"household_id": [f"H{n % 50}" for n in range(400)], "n": range(400)})
    spill = Spill(tmp_path, "rows", 4)
    for start in range(0, 400, 70):
        spill.add_split(frame.slice(start, 70), "household_id")
    assert all(spill._pending) and not any((tmp_path / "rows").iterdir())  # small: all still waiting

    first = spill.read(0)

    assert not any(spill._pending) and spill._buffered == 0 and spill._shared == 0
    back = [first, *(spill.read(index) for index in range(1, 4))]
    assert all(part["n"].is_sorted() for part in back)
    assert pl.concat(back).sort("n").equals(frame)
    assert len(list((tmp_path / "rows").iterdir())) == 4  # a file a partition
    held = Spill(tmp_path, "held", 1)
    held.add(0, frame)
    held.flush()  # held in memory (one partition): nothing to write
    assert held.read(0).equals(frame) and not any((tmp_path / "held").iterdir())


@settings(max_examples=60, deadline=None)
@given(keys=st.lists(st.text(alphabet="0123456789AB", min_size=0, max_size=4), max_size=300),
       count=st.integers(1, 7), sample=st.integers(0, 6))
def test_a_spill_by_ranges_read_one_partition_after_the_other_is_in_key_order(
        keys: list[str], count: int, sample: int) -> None:
    """Whatever the cuts (from any sample of the keys, even none), every row lands in exactly one partition,
    in the order added, and each partition's keys all come before the next one's: partitions sorted one by
    one and read one after the other are the rows sorted (what deciding's output and the event ledger rely
    on instead of a merge)."""
    frame = pl.DataFrame({"key": keys, "n": range(len(keys))}, schema={"key": pl.String, "n": pl.Int64})
    cuts = partitions.bounds(frame["key"].gather_every(sample + 1) if sample < 6 else frame["key"].clear(), count)
    assert cuts.len() <= count - 1 and cuts.is_sorted()
    with tempfile.TemporaryDirectory() as folder:
        spill = Spill(Path(folder), "rows", count, ranged=True)
        for start in range(0, max(frame.height, 1), 40):
            spill.add_ranges(frame.slice(start, 40), "key", cuts)
        parts = [spill.read(index) for index in range(count)]
    assert sum(part.height for part in parts) == frame.height
    assert all(part["n"].is_sorted() for part in parts)
    in_order = pl.concat([part.sort("key", "n") for part in parts], how="vertical_relaxed")
    assert in_order.equals(frame.sort("key", "n"))


def test_bounds_cut_a_sample_into_ranges_of_about_equal_size(tmp_path: Path) -> None:
    frame = pl.DataFrame({"key": [f"{n:07d}" for n in range(100_000)]}).sample(fraction=1.0, shuffle=True, seed=3)
    cuts = partitions.bounds(frame["key"].head(10_000), 8)
    spill = Spill(tmp_path, "rows", 8, ranged=True)
    spill.add_ranges(frame, "key", cuts)
    sizes = [spill.read(index).height for index in range(8)]
    assert sum(sizes) == 100_000 and min(sizes) > 0.9 * 100_000 / 8 and max(sizes) < 1.1 * 100_000 / 8


def test_a_spill_is_by_hash_or_by_ranges_not_both(tmp_path: Path) -> None:
    frame = pl.DataFrame({"key": ["a", "b"]})
    with pytest.raises(ValueError, match="by ranges"):
        Spill(tmp_path, "ranged", 2, ranged=True).add_split(frame, "key")
    with pytest.raises(ValueError, match="by hash"):
        Spill(tmp_path, "hashed", 2).add_ranges(frame, "key", pl.Series(["b"]))


@settings(max_examples=40, deadline=None)
@given(sizes=st.lists(st.lists(st.integers(0, 30), max_size=5), min_size=1, max_size=4),
       rows=st.integers(1, 25), ranged=st.booleans())
def test_merged_parts_are_the_merged_rows_cut_into_parts_of_the_rows_asked(
        sizes: list[list[int]], rows: int, ranged: bool) -> None:
    """``merged_parts`` gives exactly the rows ``merged`` gives (the streaming engine), in the same order,
    every part ``rows`` long but the last."""
    from fangpin.screening.bulk import merged, merged_parts, slices

    with tempfile.TemporaryDirectory() as folder:
        spill = Spill(Path(folder), "runs", len(sizes), {"household_id": pl.String(), "n": pl.Int64()},
                      hold=False, ranged=ranged)
        start = 0
        for index, chunks in enumerate(sizes):
            # by ranges: partition i's keys all below partition i+1's; else interleaved runs
            keys = [start + n for n in range(sum(chunks))] if ranged else list(range(index, 4 * sum(chunks), 4))
            start += sum(chunks)
            frame = pl.DataFrame({"household_id": [f"H{key:05d}" for key in keys[:sum(chunks)]],
                                  "n": keys[:sum(chunks)]}, schema={"household_id": pl.String, "n": pl.Int64})
            offset = 0
            for size in chunks:  # a sorted run in chunks of these sizes (files of their own, or held pieces)
                spill.add(index, frame.slice(offset, size))
                offset += size
        parts = list(merged_parts(spill, ["household_id"], rows=rows))
        expected = pl.concat([pl.DataFrame(schema=spill.schema or {}),
                              *slices(merged(spill, ["household_id"]))])
        assert [part.height for part in parts[:-1]] == [rows] * (len(parts) - 1)
        assert not parts or 0 < parts[-1].height <= rows
        got = pl.concat(parts) if parts else expected.clear()
        assert got.equals(expected) and got["household_id"].is_sorted()
