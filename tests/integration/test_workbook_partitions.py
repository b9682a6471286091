"""report.xlsx is the same workbook however many partitions a run is split into (SQLite and PostgreSQL): every
sheet reads back equal, also when the listings are longer than a sheet shows (the first rows of each
partition combined and cut again, the note counting them all). The workbook's process is given what the
workbook shows, built partition by partition in the screening process, never the run's decisions."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

import fangpin_synth as synth
from fangpin.reports import shown as shown_module
from fangpin.services import screening
from fangpin.services.screening import ScreenRequest, ScreenResult, screen


@pytest.fixture(scope="module")
def drop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("workbook") / "drop"
    synth.generate_drop(folder, 500, seed=11, bad_share=0.05, correction_share=0.05, formats="utf8")
    return folder


def _screen(drop: Path, url: str, out: Path, parts: int, monkeypatch: pytest.MonkeyPatch) -> ScreenResult:
    with monkeypatch.context() as patched:
        patched.setenv("FANGPIN_SCREEN_PARTITIONS", str(parts))
        result = screen(ScreenRequest(drop=drop, year=2019, county="130434", database_url=url, out_dir=out))
    assert result.out_dir is not None and not result.warnings
    return result


def _sheets(result: ScreenResult) -> dict[str, pl.DataFrame]:
    assert result.out_dir is not None
    sheets = pl.read_excel(result.out_dir / "report.xlsx", sheet_id=0)
    summary = sheets["汇总"]
    sheets["汇总"] = summary.filter(pl.col("项目") != "运行编号")  # the one cell two runs differ in
    return sheets


def _column(sheet: pl.DataFrame) -> list[str]:
    return [str(value) for value in sheet.to_series(0).to_list()]


@pytest.mark.parametrize(("limit", "everything_limit"), [(None, None), (7, 5), (7, 5_000)])
def test_a_partitioned_run_writes_the_workbook_an_unpartitioned_one_does(
    drop: Path, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, limit: int | None,
    everything_limit: int | None,
) -> None:
    if limit is not None:  # cut in this process, where the pieces are built: the limits travel with them
        monkeypatch.setattr(shown_module, "SHEET_ROW_LIMIT", limit)
        monkeypatch.setattr(shown_module, "ALL_DECISIONS_LIMIT", everything_limit)

    whole = _screen(drop, f"sqlite:///{tmp_path / 'whole.db'}", tmp_path / "whole", 1, monkeypatch)
    split = _screen(drop, database_url, tmp_path / "split", 3, monkeypatch)

    mine, theirs = _sheets(whole), _sheets(split)
    assert list(mine) == list(theirs) == ["汇总", "入户核查名单", "按乡镇汇总", "结果分布", "低保衔接", "文件统计",
                                          "拒绝明细", "全部结果"]
    for name, sheet in mine.items():
        assert sheet.equals(theirs[name]), name
    outcomes = whole.run["totals"]["outcomes"]
    households = whole.run["totals"]["households"]
    if limit is None:
        assert mine["入户核查名单"].height == outcomes["pay"] and mine["全部结果"].height == households
        return
    assert outcomes["pay"] > limit and outcomes["refer_dibao"] > limit
    for name, rows in (("入户核查名单", outcomes["pay"]), ("低保衔接", outcomes["refer_dibao"])):
        assert f"只显示前 {limit} 行(共 {rows} 行),完整内容见同目录 CSV 文件" in _column(mine[name]), name
    assert whole.out_dir is not None
    visits = pl.read_csv(whole.out_dir / "visits.csv")
    assert _column(mine["入户核查名单"])[:limit] == [str(v) for v in visits["乡镇"].head(limit).to_list()]
    # the rejections: the workbook's process is given the first rows only, and how many there are in all
    rejections = pl.read_csv(whole.out_dir / "rejections.csv", infer_schema=False)
    assert rejections.height > limit
    shown_rows = mine["拒绝明细"].head(limit)
    assert [str(value) for value in shown_rows["行号"].to_list()] == rejections["row"].head(limit).to_list()
    assert (f"只显示前 {limit} 行(共 {rejections.height} 行),完整内容见同目录 CSV 文件"
            in _column(mine["拒绝明细"]))
    every = _column(mine["全部结果"])
    if everything_limit is not None and households > everything_limit:
        assert every == [f"共 {households} 户,超过 {everything_limit} 户不在工作簿中列出:全部结果见 decisions.csv"]
    else:
        assert f"只显示前 {limit} 行(共 {households} 行),完整内容见同目录 CSV 文件" in every


# The process that writes the workbook, recording what it was given and what its inputs' folder held.
RECORDER = """
import json, sys
from pathlib import Path
import polars as pl
arguments = json.loads(sys.stdin.readline())
inputs = Path(arguments[1]).parent
files = sorted(path for path in inputs.rglob("*") if path.is_file())
Path(sys.argv[1]).write_text(json.dumps({
    "arguments": arguments, "inputs": [str(path.relative_to(inputs)) for path in files],
    "rows": {path.stem: pl.read_parquet(path).height for path in files
             if path.suffix == ".parquet" and path.parent.name == "shown"}}))
from fangpin.reports.workbook import write_workbook_from_files
write_workbook_from_files(*arguments)
"""


def test_the_workbooks_process_is_given_what_the_workbook_shows_not_the_decisions(
    drop: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = tmp_path / "given.json"
    monkeypatch.setattr(screening, "_ready_workbook", lambda: subprocess.Popen(
        [sys.executable, "-c", RECORDER, str(record)], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE))
    monkeypatch.setattr(shown_module, "SHEET_ROW_LIMIT", 7)
    monkeypatch.setattr(shown_module, "ALL_DECISIONS_LIMIT", 5)
    monkeypatch.setenv("FANGPIN_SPILL_DIR", str(tmp_path / "spill"))

    result = _screen(drop, f"sqlite:///{tmp_path / 'db.sqlite'}", tmp_path / "run", 3, monkeypatch)

    given = json.loads(record.read_text(encoding="utf-8"))
    report, run_json, shown, rejections = (Path(argument) for argument in given["arguments"])
    assert result.out_dir is not None and (result.out_dir / "report.xlsx").stat().st_size > 0
    assert report.name == "report.xlsx" and run_json.name == "run.json" and rejections.name == "rejections.parquet"
    assert shown.parent == run_json.parent == rejections.parent and run_json.parent.name == ".report-inputs"
    assert all(str(tmp_path / "spill") not in argument for argument in given["arguments"])
    assert given["inputs"] == ["rejections.parquet", "run.json", "shown/dibao.parquet", "shown/outcomes.parquet",
                               "shown/shown.json", "shown/townships.parquet", "shown/visits.parquet"]
    assert not run_json.parent.exists()  # removed once the workbook is written
    assert given["rows"]["visits"] == given["rows"]["dibao"] == 7  # a sheet's rows, of many more
    assert given["rows"]["outcomes"] == len(result.run["totals"]["outcomes"])
