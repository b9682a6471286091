"""A screening split into partitions (by household, by event id) decides, rejects and counts exactly as one that
is not, on SQLite and PostgreSQL: the same bytes of decisions.csv and rejections.csv, the same accounting of
every row, the same events counted, also when events corrected or repeated from an earlier run cross partitions."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import polars as pl
import pytest

import fangpin_synth as synth
from fangpin.config import get_settings
from fangpin.intake import parallel, readers
from fangpin.screening import partitions, spill
from fangpin.services.screening import ScreenRequest, ScreenResult, screen

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "fixtures" / "demo"


def _screen(drop: Path, database_url: str, out: Path, parts: int, monkeypatch: pytest.MonkeyPatch,
            workers: int = 0) -> ScreenResult:
    monkeypatch.setenv("FANGPIN_SCREEN_PARTITIONS", str(parts))
    assert partitions.plan(1) == parts
    result = screen(ScreenRequest(drop=drop, year=2019, county="130434", database_url=database_url, out_dir=out,
                                  workers=workers, keep_linked=True))
    monkeypatch.delenv("FANGPIN_SCREEN_PARTITIONS")
    return result


def _same(one: ScreenResult, other: ScreenResult) -> None:
    assert one.out_dir is not None and other.out_dir is not None
    for name in ("decisions.csv", "rejections.csv", "visits.csv", "households.csv"):
        assert (one.out_dir / name).read_bytes() == (other.out_dir / name).read_bytes(), name
    for key in ("rows", "totals", "corrections", "inputs", "events"):
        mine, theirs = dict(one.run[key]) if isinstance(one.run[key], dict) else one.run[key], other.run[key]
        if key == "events":
            assert mine["counted_now"] == theirs["counted_now"]
            continue
        assert mine == theirs, key
    assert one.linked is not None and other.linked is not None
    assert one.linked.facts.equals(other.linked.facts)
    assert one.linked.new_events.equals(other.linked.new_events)
    assert one.linked.superseded == other.linked.superseded
    order = ["household_id", "department", "event_id"]
    assert one.linked.counted.sort(order).equals(other.linked.counted.sort(order))
    assert one.linked.corrections == other.linked.corrections == one.run["corrections"]["of_earlier_runs"]


@pytest.fixture(scope="module")
def crowded_drop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Many defects and corrections: duplicate households, people and events, corrections within the drop."""
    folder = tmp_path_factory.mktemp("crowded") / "drop"
    synth.generate_drop(folder, 1500, seed=11, bad_share=0.06, correction_share=0.05, formats="utf8")
    return folder


@pytest.mark.parametrize("parts", [2, 3, 7])
def test_a_partitioned_screening_is_byte_for_byte_an_unpartitioned_one(
    crowded_drop: Path, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parts: int
) -> None:
    whole = _screen(crowded_drop, f"sqlite:///{tmp_path / 'whole.db'}", tmp_path / "whole", 1, monkeypatch)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))  # where the run's spills go
    written: set[tuple[str, int]] = set()
    take = spill.Spill._take  # every partition's rows, added alone or as parts of a frame split

    def counted_take(self: spill.Spill, index: int, frame: pl.DataFrame, *, alone: bool) -> bool:
        written.add((self.folder.name, index))
        return take(self, index, frame, alone=alone)

    monkeypatch.setattr(spill.Spill, "_take", counted_take)
    split = _screen(crowded_drop, database_url, tmp_path / "split", parts, monkeypatch)

    _same(whole, split)
    assert {index for name, index in written if name == "register"} == set(range(parts))
    assert {index for name, index in written if name == "events-medical"} == set(range(parts))
    assert not list(scratch.iterdir()), "the spills go with the run"
    reasons = whole.rejections["reason"].value_counts()
    found = {reason: count for reason, count in reasons.iter_rows()}
    for reason in ("duplicate_household", "unknown_household", "duplicate_person", "duplicate_event",
                   "unknown_person", "outside_policy_year"):
        assert found.get(reason, 0) > 0, f"the drop has no {reason}: the test would prove nothing"
    assert sum(whole.linked.superseded.values()) > 0  # type: ignore[union-attr]


@pytest.mark.parametrize("parts", [1, 3])
def test_rows_read_in_chunks_by_worker_processes_in_any_order_link_as_rows_read_whole(
    crowded_drop: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parts: int
) -> None:
    """Every file in a worker (they finish in any order), or in this process a few hundred bytes at a time:
    the rows keep their place in the drop (``_order``) and the run is the same."""
    whole = _screen(crowded_drop, f"sqlite:///{tmp_path / 'whole.db'}", tmp_path / "whole", 1, monkeypatch)
    monkeypatch.setattr(parallel, "WORKER_THRESHOLD_BYTES", 1)
    in_workers = _screen(crowded_drop, f"sqlite:///{tmp_path / 'workers.db'}", tmp_path / "workers", parts,
                         monkeypatch, workers=3)
    monkeypatch.setattr(parallel, "WORKER_THRESHOLD_BYTES", 1 << 40)
    monkeypatch.setattr(readers, "CHUNK_BYTES", 4096)
    in_chunks = _screen(crowded_drop, f"sqlite:///{tmp_path / 'chunks.db'}", tmp_path / "chunks", parts,
                        monkeypatch)

    _same(whole, in_workers)
    _same(whole, in_chunks)


@pytest.mark.parametrize("parts", [2, 64])  # 64: more partitions than the demo's 40 households, some empty
def test_the_demo_screened_in_partitions_is_the_demo(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parts: int
) -> None:
    whole = _screen(DEMO, f"sqlite:///{tmp_path / 'whole.db'}", tmp_path / "whole", 1, monkeypatch)
    split = _screen(DEMO, database_url, tmp_path / "split", parts, monkeypatch)

    _same(whole, split)
    assert split.run["totals"]["payout"] == "176550.08"


def _first_half(drop: Path, folder: Path) -> Path:
    """The drop as it was earlier in the year: the medical export's first half."""
    shutil.copytree(drop, folder)
    medical = next(path for path in folder.iterdir() if "医保" in path.name or "结算" in path.name)
    lines = medical.read_bytes().split(b"\n")
    medical.write_bytes(b"\n".join(lines[: len(lines) // 2]) + b"\n")
    return folder


def test_events_stored_by_an_earlier_run_are_repeated_and_corrected_alike_across_partitions(
    crowded_drop: Path, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    earlier = _first_half(crowded_drop, tmp_path / "earlier")
    results: dict[int, Any] = {}
    for parts, url in ((1, f"sqlite:///{tmp_path / 'whole.db'}"), (3, database_url)):
        _screen(earlier, url, tmp_path / f"earlier-{parts}", parts, monkeypatch)
        results[parts] = _screen(crowded_drop, url, tmp_path / f"later-{parts}", parts, monkeypatch)

    _same(results[1], results[3])
    assert results[3].run["corrections"]["of_earlier_runs"] > 0
    assert results[3].run["corrections"]["within_this_drop"] > 0
    assert results[3].rejections.filter(pl.col("reason") == "duplicate_event").height > 0


def test_the_partition_count_follows_the_memory_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FANGPIN_MEMORY_BUDGET_MB", "3072")
    assert get_settings().memory_budget_mb == 3072
    budget = 3 << 30
    whole = int(budget // partitions.UNPARTITIONED_BYTES_PER_DROP_BYTE)  # the most that runs held whole
    assert partitions.plan(whole) == 1
    assert partitions.plan(whole + 1) == 3  # held whole it takes 5 bytes a byte; partitioned, 8 beside 1 GiB
    # a 1M-household drop (695 MB) held whole peaked at 2.76-3.07 GiB: it is split, and stays under 3 GiB
    assert partitions.plan(695_000_000) == 3
    assert partitions.plan(600_000_000) == 1
    # partitions share what the budget leaves beside what a run holds whatever their size
    per = (budget - partitions.FIXED_BYTES) // partitions.WORKING_BYTES_PER_DROP_BYTE
    assert partitions.plan(3 * per) == 3
    assert partitions.plan(3 * per + 1) == 4
    assert partitions.plan(10 * per) == 10
    # a budget hardly above that fixed part: the partitions get a quarter of it, not nothing
    monkeypatch.setenv("FANGPIN_MEMORY_BUDGET_MB", "1024")
    quarter = (1 << 28) // partitions.WORKING_BYTES_PER_DROP_BYTE
    assert partitions.plan(10 * quarter) == 10
    assert partitions.plan(10 * quarter + 1) == 11
    # a large budget: a drop just too large to be held whole runs in two partitions, not one
    monkeypatch.setenv("FANGPIN_MEMORY_BUDGET_MB", "30720")
    assert partitions.plan(int((30 << 30) // partitions.UNPARTITIONED_BYTES_PER_DROP_BYTE) + 1) == 2


def test_rows_with_one_key_land_in_one_partition_whatever_frame_they_are_in() -> None:
    first = pl.DataFrame({"household_id": [f"H{n}" for n in range(500)], "n": range(500)})
    second = first.sample(fraction=1.0, shuffle=True, seed=3)
    placed = [set(part["household_id"]) for part in partitions.split(first, "household_id", 4)]
    again = [set(part["household_id"]) for part in partitions.split(second, "household_id", 4)]
    assert placed == again
    assert sum(len(part) for part in placed) == 500 and all(placed)
