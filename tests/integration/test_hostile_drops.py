"""Hostile files in a drop (issue 13): over-limit and crashing xlsx files fail their run with a message naming
the file and the limit while the process goes on; text from a drop never becomes a formula in the results."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path
from typing import Any

import openpyxl
import polars as pl
import pytest

from fangpin.intake.guard import FileLimitError, FileLimits
from fangpin.reports.results import neutralised, restored
from fangpin.services.screening import ScreenRequest, ScreenResult, screen
from tests.integration.drops import (
    MEDICAL_HEADER,
    MEMBERS_HEADER,
    REGISTER_HEADER,
    base_drop,
    far_cell_xlsx,
    person,
    settlement,
    write,
    zip_bomb_xlsx,
)
from tests.support import DEMO


def _screen(drop: Path, database_url: str, tmp_path: Path, **kwargs: Any) -> ScreenResult:
    request = ScreenRequest(drop=drop, year=2019, county="130434", database_url=database_url,
                            runs_dir=tmp_path / "runs", **kwargs)
    return screen(request)


def _demo_with(tmp_path: Path, hostile: Path) -> Path:
    drop = tmp_path / "drop"
    shutil.copytree(DEMO, drop)
    shutil.copy(hostile, drop / hostile.name)
    return drop


def test_an_xlsx_declaring_a_far_cell_is_refused_before_it_is_read(database_url: str, tmp_path: Path) -> None:
    drop = _demo_with(tmp_path, far_cell_xlsx(tmp_path / "far.xlsx"))

    with pytest.raises(FileLimitError) as caught:
        _screen(drop, database_url, tmp_path)

    assert caught.value.file == "far.xlsx"
    assert "XFD1048576" in str(caught.value) and "xlsx_max_columns" in str(caught.value)
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_an_xlsx_whose_reader_aborts_fails_its_run_and_the_process_goes_on(database_url: str,
                                                                            tmp_path: Path) -> None:
    """Without <dimension> the checks cannot see the far cell: calamine aborts (SIGABRT) in the worker."""
    drop = _demo_with(tmp_path, far_cell_xlsx(tmp_path / "nodim.xlsx", dimension=False))

    with pytest.raises(FileLimitError) as caught:
        _screen(drop, database_url, tmp_path)

    assert caught.value.file == "nodim.xlsx"
    assert "parse_memory_mb" in str(caught.value)
    (drop / "nodim.xlsx").unlink()
    result = _screen(drop, database_url, tmp_path)  # this process is alive and screens the good drop
    assert result.run["totals"]["payout"] == "176550.08"


def test_a_zip_bomb_is_refused_by_its_expansion_ratio(database_url: str, tmp_path: Path) -> None:
    bomb = zip_bomb_xlsx(tmp_path / "bomb.xlsx")
    assert bomb.stat().st_size < 2 << 20
    drop = _demo_with(tmp_path, bomb)

    with pytest.raises(FileLimitError) as caught:
        _screen(drop, database_url, tmp_path)

    assert caught.value.file == "bomb.xlsx"
    assert "sharedStrings.xml" in str(caught.value) and "xlsx_max_ratio" in str(caught.value)


def test_a_file_over_the_size_limit_is_refused(database_url: str, tmp_path: Path) -> None:
    drop = base_drop(tmp_path / "drop", [settlement("S1", 1, "2019-03-01", "20000.00")])

    with pytest.raises(FileLimitError) as caught:
        _screen(drop, database_url, tmp_path, limits=FileLimits(max_file_bytes=100))

    assert caught.value.file in {"register.csv", "members.csv", "medical.csv"}
    assert "超过单个文件的上限 100 字节" in str(caught.value) and "max_drop_file_mb" in str(caught.value)


def test_a_reader_over_its_time_limit_is_stopped(database_url: str, tmp_path: Path) -> None:
    drop = _demo_with(tmp_path, far_cell_xlsx(tmp_path / "slow.xlsx", dimension=False))

    with pytest.raises(FileLimitError) as caught:  # no reader starts, let alone finishes, in 0 seconds
        _screen(drop, database_url, tmp_path, limits=FileLimits(parse_seconds=0.0))

    assert "parse_seconds" in str(caught.value)


FORMULAS = ["=1+2", '=HYPERLINK("http://example.invalid/x","点此")', "@SUM(A1:A2)", "+1+2", "-1+2"]


def _formula_drop(folder: Path) -> Path:
    write(folder, "register.csv", [REGISTER_HEADER] + [
        f'H{n},{person(n)},户主{n},东代固镇,"{village.replace(chr(34), chr(34) * 2)}",1,3000.00,一般农户,是'
        for n, village in enumerate(FORMULAS, start=1)
    ])
    write(folder, "members.csv", [MEMBERS_HEADER] + [
        f"H{n},{person(n)},户主{n},户主,普通劳动力" for n in range(1, len(FORMULAS) + 1)
    ])
    write(folder, "medical.csv", [MEDICAL_HEADER, settlement("S1", 1, "2019-03-01", "30000.00")])
    return folder


def test_formula_looking_village_names_are_text_in_the_workbook_and_neutralised_in_csv(
    database_url: str, tmp_path: Path
) -> None:
    result = _screen(_formula_drop(tmp_path / "drop"), database_url, tmp_path)
    out = result.out_dir
    assert out is not None

    workbook = openpyxl.load_workbook(out / "report.xlsx")
    cells = [cell for sheet in workbook.worksheets for row in sheet.iter_rows() for cell in row]
    assert [cell.coordinate for cell in cells if cell.data_type == "f"] == []
    texts = {cell.value for cell in cells if cell.data_type == "s"}
    assert set(FORMULAS) <= texts
    assert not any(cell.hyperlink for cell in cells)

    with (out / "households.csv").open(encoding="utf-8") as stream:
        villages = [row["village"] for row in csv.DictReader(stream)]
    assert sorted(villages) == sorted("'" + village for village in FORMULAS)
    visits = (out / "visits.csv").read_text(encoding="utf-8-sig")
    assert "'=1+2" in visits and ",=1+2" not in visits
    decisions = pl.read_csv(out / "decisions.csv", infer_schema=False)
    assert decisions.filter(pl.col("household_id") == "H1")["payout"].item() not in ("0.00", None)


def test_neutralising_leaves_numbers_alone_and_is_undone_exactly() -> None:
    cells = ["=1+2", "+1+2", "-1+2", "@x", "\tTab", "\rCR", "'=already", "''=twice", "-12.50", "+3", "-0.5e3",
             "3-2", "plain", "村=1", "'plain", None]
    frame = pl.DataFrame({"text": cells, "amount": [1] * len(cells)})

    safe = neutralised(frame)

    assert safe["text"].to_list() == [
        "'=1+2", "'+1+2", "'-1+2", "'@x", "'\tTab", "'\rCR", "''=already", "'''=twice", "-12.50", "+3", "-0.5e3",
        "3-2", "plain", "村=1", "'plain", None]
    assert safe["amount"].to_list() == frame["amount"].to_list()
    assert restored(safe).equals(frame)
    assert restored(safe.lazy()).collect().equals(frame)
