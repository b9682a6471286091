"""report.xlsx and the CSV files as the office opens them: numbers that add up, Chinese headers and rule names,
columns wide enough for Chinese, a BOM on the files people open in Excel."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from fangpin.packs import pack_for_year
from fangpin.reports.workbook import text_width
from fangpin.services.screening import ScreenRequest, ScreenResult, screen
from tests.support import REPO

ENGLISH_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_]{2,}")
ALLOWED = {"sha256", "csv", "xlsx"}  # a hash's name and file names are not prose


@pytest.fixture
def demo_run(database_url: str, tmp_path: Path) -> ScreenResult:
    return screen(ScreenRequest(drop=REPO / "fixtures" / "demo", year=2019, county="130434",
                                database_url=database_url, out_dir=tmp_path / "out"))


def _workbook(run: ScreenResult) -> openpyxl.Workbook:
    assert run.out_dir is not None
    return openpyxl.load_workbook(run.out_dir / "report.xlsx")


def test_the_summary_sheet_holds_amounts_as_numbers_formatted_with_separators(demo_run: ScreenResult) -> None:
    sheet = _workbook(demo_run)["汇总"]
    cells = {row[0].value: row[1] for row in sheet.iter_rows(min_row=2)}

    payout = cells["赔付合计(元)"]
    assert isinstance(payout.value, int | float) and payout.number_format == "#,##0.00"
    assert Decimal(str(payout.value)).quantize(Decimal("0.01")) == Decimal(demo_run.run["totals"]["payout"])
    assert Decimal(str(cells["保险服务费(元)"].value)).quantize(Decimal("0.01")) == Decimal(
        demo_run.run["totals"]["fee"])
    for cause in ("因病(元)", "因学(元)", "因灾(元)"):
        assert isinstance(cells[cause].value, int | float) and cells[cause].number_format == "#,##0.00"
    assert cells["核查户数"].value == demo_run.run["totals"]["households"]
    assert cells["运行编号"].value == demo_run.run["run_id"]


def test_every_sheet_has_chinese_headers(demo_run: ScreenResult) -> None:
    workbook = _workbook(demo_run)

    for sheet in workbook.worksheets:
        headers = [cell.value for cell in next(sheet.iter_rows(max_row=1)) if cell.value is not None]
        assert headers, sheet.title
        for header in headers:
            words = set(ENGLISH_WORD.findall(str(header))) - ALLOWED
            assert not words, (sheet.title, header)


def test_all_results_names_the_rules_in_chinese_not_by_their_ids(demo_run: ScreenResult) -> None:
    sheet = _workbook(demo_run)["全部结果"]
    rows = list(sheet.iter_rows(values_only=True))
    column = rows[0].index("触发规则")
    rule_ids = {rule.id for rule in pack_for_year(2019).compiled}

    named = [row[column] for row in rows[1:] if row[column]]
    assert named and any("因病·" in text for text in named)
    for text in named:
        assert not set(re.findall(r"[a-z_]+", text)) & rule_ids, text


def test_columns_are_wide_enough_for_their_chinese_text(demo_run: ScreenResult) -> None:
    sheet = _workbook(demo_run)["全部结果"]
    rows = list(sheet.iter_rows(values_only=True))
    group = rows[0].index("类别")
    letter = openpyxl.utils.get_column_letter(group + 1)
    widest = max(text_width(row[group] or "") for row in rows)

    assert widest >= 20  # 非贫低收入户(边缘户): eleven Chinese characters
    assert sheet.column_dimensions[letter].width >= widest


def test_the_csv_files_people_open_have_a_bom_and_the_export_files_keep_their_format(
        demo_run: ScreenResult) -> None:
    out = demo_run.out_dir
    assert out is not None

    for name in ("households.csv", "visits.csv"):
        assert (out / name).read_bytes().startswith(b"\xef\xbb\xbf"), name
    for name, header in (("decisions.csv", b"household_id,"), ("rejections.csv", b"file,row,field,value,reason")):
        assert (out / name).read_bytes().startswith(header), name
