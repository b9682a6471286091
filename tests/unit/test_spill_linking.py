"""Spills: rows by partition, read back in the order they were added, on disk or (one partition) held."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

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
