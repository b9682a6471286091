"""A spill's writes: small pieces written together on the writer's thread, read back in the order they were
added whatever the thresholds, by two threads at once, and a failed write failing the read, not lost."""

from __future__ import annotations

import itertools
import threading
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fangpin.screening import spill as spill_module
from fangpin.screening.spill import Spill, spill_root


def _piece(start: int, rows: int) -> pl.DataFrame:
    return pl.DataFrame({"n": range(start, start + rows), "text": [f"第{n}行" for n in range(start, start + rows)]})


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(adds=st.lists(st.tuples(st.integers(0, 3), st.integers(0, 40)), max_size=60),
       file_bytes=st.sampled_from([0, 200, 2_000, 1 << 30]), buffer_bytes=st.sampled_from([0, 500, 1 << 30]),
       in_flight=st.sampled_from([0, 1_000, 1 << 30]), dropped=st.sets(st.integers(0, 3)))
def test_partitions_read_back_are_the_pieces_added_in_order_whatever_the_thresholds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, adds: list[tuple[int, int]], file_bytes: int,
    buffer_bytes: int, in_flight: int, dropped: set[int],
) -> None:
    monkeypatch.setattr(spill_module, "FILE_BYTES", file_bytes)
    monkeypatch.setattr(spill_module, "BUFFER_BYTES", buffer_bytes)
    monkeypatch.setattr(spill_module, "IN_FLIGHT_BYTES", in_flight)
    expected: list[list[int]] = [[] for _ in range(4)]
    with spill_root(tmp_path) as root:
        rows = Spill(root, "rows", 4, hold=False)
        start = 0
        for index, count in adds:
            rows.add(index, _piece(start, count))
            expected[index].extend(range(start, start + count))
            start += count
        assert rows.height == start
        for index in dropped:
            rows.drop(index)
        for index in range(4):
            if index in dropped:
                assert rows.empty(index) and rows.read(index).is_empty()
                continue
            assert rows.empty(index) == (not expected[index])
            back = rows.read(index)
            assert (back["n"].to_list() if back.width else []) == expected[index]
            chunked = [frame["n"].to_list() for frame in rows.chunks(index, ["n"])]
            assert [n for chunk in chunked for n in chunk] == expected[index]
        # every file of a partition not dropped is on disk, whole (those dropped may still be being deleted)
        for index in set(range(4)) - dropped:
            assert all(path.exists() and path.stat().st_size for path in rows.files(index))


def test_small_pieces_are_written_together_and_a_piece_of_a_file_s_size_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    size = _piece(0, 100).estimated_size()
    monkeypatch.setattr(spill_module, "FILE_BYTES", size * 10)
    monkeypatch.setattr(spill_module, "BUFFER_BYTES", size * 1000)
    with spill_root(tmp_path) as root:
        rows = Spill(root, "rows", 2, hold=False)
        for number in range(25):  # 25 small pieces of partition 0: three files (10, 10 and the last 5)
            rows.add(0, _piece(number * 100, 100))
        rows.add(1, _piece(10_000, 1_000))  # a piece of ten: a file at once
        assert len(rows.files(0)) == 3 and len(rows.files(1)) == 1
        assert rows.read(0)["n"].to_list() == list(range(2_500))


def test_two_threads_reading_a_spill_while_its_pieces_are_written_both_read_every_row_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The result files and storing read the decisions at once: neither may find a partition empty, or read a
    file not yet whole, while the other is having its waiting pieces written."""
    monkeypatch.setattr(spill_module, "FILE_BYTES", 1 << 30)
    monkeypatch.setattr(spill_module, "BUFFER_BYTES", 1 << 30)
    for _ in range(20):
        with spill_root(tmp_path) as root:
            rows = Spill(root, "rows", 8, hold=False)
            for index in range(8):
                for number in range(30):
                    start = (index * 30 + number) * 50
                    rows.add(index, _piece(start, 50))
            seen: list[list[int]] = []
            barrier = threading.Barrier(2)

            def read_all(rows: Spill = rows, seen: list[list[int]] = seen,
                         barrier: threading.Barrier = barrier) -> None:
                barrier.wait()
                parts = [rows.chunks(index, ["n"]) for index in range(8) if not rows.empty(index)]
                seen.append([n for part in parts for frame in part for n in frame["n"].to_list()])

            threads = [threading.Thread(target=read_all) for _ in range(2)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert seen == [list(range(8 * 30 * 50))] * 2


def test_a_failed_write_fails_the_read_of_its_partition(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spill_module, "FILE_BYTES", 0)
    with spill_root(tmp_path) as root:
        rows = Spill(root, "rows", 2, hold=False)
        rows.folder.rmdir()  # the disk lost the folder: the write cannot be made
        rows.add(0, _piece(0, 10))
        with pytest.raises(OSError):
            rows.read(0)
        with pytest.raises(OSError):  # still: the rows were never written
            rows.read(0)
        rows.drop(0)  # dropping it is no error


@settings(max_examples=60, deadline=None)
@given(keys=st.lists(st.one_of(st.none(), st.text(alphabet="0123456789X", max_size=4)), max_size=80),
       count=st.integers(1, 9))
def test_a_split_places_each_key_in_one_partition_keeping_the_rows_order(keys: list[str | None], count: int) -> None:
    from fangpin.screening.partitions import split

    frame = pl.DataFrame({"key": keys, "n": range(len(keys))}, schema={"key": pl.String, "n": pl.Int64})
    parts = list(split(frame, "key", count))
    assert len(parts) == count and all(part.schema == frame.schema for part in parts)
    assert sorted(n for part in parts for n in part["n"]) == list(range(len(keys)))
    for part in parts:
        assert part["n"].to_list() == sorted(part["n"].to_list())  # the frame's order within a partition
    where = {key: index for index, part in enumerate(parts) for key in part["key"].to_list()}
    again = list(split(frame.reverse(), "key", count))  # the same key, the same partition, whatever the frame
    assert {key: index for index, part in enumerate(again) for key in part["key"].to_list()} == where


def test_files_of_different_columns_are_read_back_as_one_frame_of_all_their_columns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two files of one export may differ (a column only one of them has, a column all blank in one): the
    partition read back has every column, null where a file lacked it."""
    monkeypatch.setattr(spill_module, "FILE_BYTES", 0)
    with spill_root(tmp_path) as root:
        rows = Spill(root, "rows", 2, hold=False)
        rows.add(0, pl.DataFrame({"n": [1, 2], "note": [None, None]}))
        rows.add(0, pl.DataFrame({"n": [3], "note": ["补录"], "extra": [True]}))
        rows.add(1, pl.DataFrame({"n": [4]}))
        rows.add(1, pl.DataFrame({"n": [5]}))
        assert len(rows.files(0)) == 2 and len(rows.files(1)) == 2
        back = rows.read(0)
        assert back.to_dict(as_series=False) == {"n": [1, 2, 3], "note": [None, None, "补录"],
                                                 "extra": [None, None, True]}
        assert rows.read(1)["n"].to_list() == [4, 5]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(keys=st.lists(st.integers(0, 500), max_size=200), first=st.integers(0, 60), count=st.integers(1, 6))
def test_a_spill_by_ranges_cuts_where_its_first_rows_cut_and_its_partitions_follow_each_other(
    tmp_path: Path, keys: list[int], first: int, count: int
) -> None:
    frame = pl.DataFrame({"key": keys, "n": range(len(keys))}, schema={"key": pl.Int64, "n": pl.Int64})
    with spill_root(tmp_path) as root:
        rows = Spill(root, "rows", count, hold=False, ranged=True)
        rows.add_ranges(frame.clear(), "key")  # nothing to cut by yet: nothing added, nothing decided
        for piece in [frame.head(first), *(frame.slice(start, 50) for start in range(first, len(keys), 50))]:
            rows.add_ranges(piece, "key")
        parts = [rows.read(index) for index in range(count)]
        read = [part for part in parts if part.width and part.height]
        assert sum(part.height for part in read) == len(keys)
        for earlier, later in itertools.pairwise(read):
            assert earlier["key"].max() < later["key"].min()  # a key in one partition, the ranges in order
        for part in read:
            assert part["n"].to_list() == sorted(part["n"].to_list())  # the order they were added in


def test_waiting_parts_of_a_split_frame_count_the_whole_frame_they_keep(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A part taken from a frame by rows keeps the frame's string buffers: while any part of it waits, the
    whole frame counts towards ``BUFFER_BYTES``, even once another partition's part of it was written (a 5M
    run's 14 partitions held far more than the parts' own sizes said); once none waits, nothing counts."""
    frame = pl.DataFrame({"key": range(1_000), "text": [f"第{n:08d}行的户主身份证号码" for n in range(1_000)]})
    size = frame.estimated_size()
    monkeypatch.setattr(spill_module, "FILE_BYTES", frame.head(500).estimated_size())
    monkeypatch.setattr(spill_module, "BUFFER_BYTES", int(size * 1.5))
    cuts = pl.Series("key", [900])
    with spill_root(tmp_path) as root:
        rows = Spill(root, "rows", 2, hold=False, ranged=True)
        rows.add_ranges(frame, "key", cuts)  # partition 0's part (900 rows) is a file at once, 1's waits
        assert not rows._pending[0] and len(rows._pending[1]) == 1
        assert rows._buffered == size  # the whole frame, not the waiting part's tenth of it
        rows.add_ranges(frame, "key", cuts)  # partition 1's two parts are still small, but two frames are kept
        assert not any(rows._pending) and rows._buffered == 0
        assert len(rows.files(1)) == 1 and rows.read(1)["key"].to_list() == [*range(900, 1_000)] * 2
        alone = Spill(root, "alone", 2, hold=False)
        alone.add(1, frame.head(10))
        assert alone._buffered == frame.head(10).estimated_size()  # a piece added alone: its own size
        alone.drop(1)
        assert alone._buffered == 0
