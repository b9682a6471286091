"""A generated drop with the accident export (``generate_drop(..., accidents=True)``), screened by fangpin:
under the monitoring pack every row of every file is accounted for as the manifest says and the accident
cause pays; under the 2019 pack the accident rows are skipped as ``not_in_pack`` as the manifest says, and
the decisions are the manifest's (accidents change nothing there). On SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pytest

import fangpin_synth as synth
from fangpin.services.screening import ScreenRequest, ScreenResult, screen

REPO = Path(__file__).resolve().parents[2]
MONITORING = REPO / "rules" / "hebei-monitoring-2023"


@pytest.fixture(scope="module")
def drop_2023(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, synth.DropManifest]:
    folder = tmp_path_factory.mktemp("acc2023") / "drop"
    return folder, synth.generate_drop(folder, 2000, seed=23, year=2023, accidents=True)


@pytest.fixture(scope="module")
def drop_2019(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, synth.DropManifest]:
    folder = tmp_path_factory.mktemp("acc2019") / "drop"
    return folder, synth.generate_drop(folder, 400, seed=19, accidents=True, formats={"accident": "gbk"})


def _screen(drop: Path, year: int, database_url: str, tmp_path: Path, pack_dir: Path | None = None) -> ScreenResult:
    return screen(ScreenRequest(drop=drop, year=year, county="130434", database_url=database_url, pack_dir=pack_dir,
                                out_dir=tmp_path / "out", runs_dir=tmp_path / "runs"))


def _rejections(result: ScreenResult, name: str) -> dict[str, list[int]]:
    assert result.out_dir is not None
    rows = pl.read_csv(result.out_dir / "rejections.csv", infer_schema=False).filter(pl.col("file") == name)
    out: dict[str, list[int]] = {}
    for reason, row in rows.select("reason", "row").iter_rows():
        out.setdefault(reason, []).append(int(row))
    return {reason: sorted(found) for reason, found in sorted(out.items())}


def _as_manifest_says(result: ScreenResult, manifest: synth.DropManifest, skip: str = "") -> None:
    inputs = {item["file"]: item for item in result.run["inputs"]}
    assert set(inputs) == {f.name for f in manifest.files}
    for f in manifest.files:
        if f.name == skip:
            continue
        got = inputs[f.name]
        assert (got["rows_read"], got["used"], got["rejected"], got["skipped"]) == (
            f.rows_read, f.rows_used, f.rows_rejected, f.rows_skipped), f.name
        assert _rejections(result, f.name) == {reason: sorted(rows) for reason, rows in f.rejected.items()}, f.name


def test_under_the_monitoring_pack_every_row_is_counted_as_the_manifest_says_and_accidents_pay(
    drop_2023: tuple[Path, synth.DropManifest], database_url: str, tmp_path: Path
) -> None:
    drop, manifest = drop_2023
    accident = manifest.file("accident")

    result = _screen(drop, 2023, database_url, tmp_path, MONITORING)

    _as_manifest_says(result, manifest)
    got = next(item for item in result.run["inputs"] if item["department"] == "accident")
    assert got["file"] == accident.name and got["used"] > 100
    assert {k: v for k, v in got["by_reason"].items() if k not in ("title", "blank", "total")} == {
        reason: len(rows) for reason, rows in accident.rejected.items()}
    rows = result.run["rows"]
    assert (rows["read"], rows["used"], rows["rejected"], rows["skipped"]) == (
        manifest.totals["rows_read"], manifest.totals["rows_used"], manifest.totals["rows_rejected"],
        manifest.totals["rows_skipped"])
    assert result.decisions().filter(pl.col("accident") > 0).height > 0
    assert result.run["totals"]["accident"] != "0.00"


def test_under_the_2019_pack_the_accident_rows_are_skipped_as_not_in_pack_and_change_no_decision(
    drop_2019: tuple[Path, synth.DropManifest], database_url: str, tmp_path: Path
) -> None:
    drop, manifest = drop_2019
    want: dict[str, Any] = manifest.expected["accident_not_in_pack"]

    result = _screen(drop, 2019, database_url, tmp_path)

    _as_manifest_says(result, manifest, skip=want["file"])
    got = next(item for item in result.run["inputs"] if item["file"] == want["file"])
    assert got["department"] == "accident"
    assert (got["rows_read"], got["used"], got["rejected"], got["skipped"]) == (
        want["rows_read"], want["rows_used"], want["rows_rejected"], want["rows_skipped"])
    assert got["by_reason"] == {k: v for k, v in {**want["rejected"], **want["skipped"]}.items() if v}
    assert got["by_reason"]["not_in_pack"] > 20
    assert result.out_dir is not None
    decisions = pl.read_csv(result.out_dir / "decisions.csv", infer_schema=False)
    assert "accident" not in decisions.columns
    mine = {row["household_id"]: row for row in decisions.iter_rows(named=True)}
    assert len(mine) == len(manifest.expected["decisions"])
    for expected in manifest.expected["decisions"]:
        for key in ("group", "outcome", "illness", "schooling", "disaster", "payout", "fee"):
            assert (mine[expected["household_id"]][key] or "") == (expected[key] or ""), (expected, key)
