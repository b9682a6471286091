"""Files to raw string tables: encodings, header location, physical row numbers, xlsx cells."""

from __future__ import annotations

import datetime as dt
import mmap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import xlsxwriter

from fangpin.intake import readers
from fangpin.intake.errors import UnreadableFileError, UnrecognisedFileError
from fangpin.intake.readers import RawTable, read_header, read_table

HEADER = "结算单号,身份证号,医疗总费用"


def is_header(cells: Sequence[str | None]) -> bool:
    return "结算单号" in [(cell or "").strip() for cell in cells]


def write(tmp_path: Path, text: str, encoding: str = "utf-8", name: str = "export.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def rows(table: RawTable) -> list[tuple[object, ...]]:
    return list(table.cells.rows())


def write_xlsx(tmp_path: Path, fill: object, name: str = "export.xlsx") -> Path:
    path = tmp_path / name
    workbook = xlsxwriter.Workbook(str(path))
    fill(workbook)  # type: ignore[operator]
    workbook.close()
    return path


# --- encodings -----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("encoding", "detected"), [("gbk", "gb18030"), ("gb18030", "gb18030"), ("utf-8", "utf-8"),
                                                    ("utf-8-sig", "utf-8-sig")])
def test_the_encoding_is_detected_and_the_text_decoded(tmp_path: Path, encoding: str, detected: str) -> None:
    path = write(tmp_path, f"{HEADER}\r\nS1,张三,12345.67元\r\n", encoding)

    table = read_table(path, is_header)

    assert table.encoding == detected
    assert table.header == ("结算单号", "身份证号", "医疗总费用")
    assert rows(table) == [(2, "S1", "张三", "12345.67元")]


def test_a_gbk_file_whose_chinese_starts_late_is_still_decoded(tmp_path: Path) -> None:
    filler = "".join(f"S{n},1,2\r\n" for n in range(20000))
    path = write(tmp_path, f"{HEADER}\r\n{filler}S-last,王五,3\r\n", "gbk")

    table = read_table(path, is_header)

    assert table.encoding == "gb18030"
    assert rows(table)[-1] == (20002, "S-last", "王五", "3")


def test_bytes_that_are_no_known_text_make_the_file_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "broken.csv"
    path.write_bytes(HEADER.encode("gbk") + b"\r\nS1,\xff\xff\xff,1\r\n")

    with pytest.raises(UnreadableFileError, match=r"broken\.csv"):
        read_table(path, is_header)


def test_a_missing_file_is_unreadable(tmp_path: Path) -> None:
    with pytest.raises(UnreadableFileError, match=r"nothing\.csv"):
        read_table(tmp_path / "nothing.csv", is_header)


# --- header and row numbers ----------------------------------------------------------------------------

def test_title_lines_above_the_header_are_skipped_and_numbered(tmp_path: Path) -> None:
    text = f"某某县医保结算数据导出\r\n导出时间：2019-12-31,,\r\n,,\r\n\r\n{HEADER}\r\nS1,a,1\r\n"
    path = write(tmp_path, text, "gbk")

    table = read_table(path, is_header)

    assert table.header_row == 5
    assert table.skipped.rows() == [(1, "title"), (2, "title"), (3, "blank"), (4, "blank")]
    assert rows(table) == [(6, "S1", "a", "1")]


def test_row_numbers_are_physical_lines_with_blank_lines_counted(tmp_path: Path) -> None:
    text = f"{HEADER}\r\nS1,a,1\r\n\r\n\r\nS2,b,2\r\n,,\r\n  \r\nS3,c,3"
    path = write(tmp_path, text)

    table = read_table(path, is_header)

    assert rows(table) == [
        (2, "S1", "a", "1"),
        (3, None, None, None),
        (4, None, None, None),
        (5, "S2", "b", "2"),
        (6, None, None, None),
        (7, "  ", None, None),
        (8, "S3", "c", "3"),
    ]


def test_empty_lines_that_a_csv_reader_skips_are_still_rows(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    original = pl.read_csv

    def skipping(*args: Any, **kwargs: Any) -> pl.DataFrame:
        frame = original(*args, **kwargs)
        return frame.filter(~pl.all_horizontal(pl.all().is_null()))

    monkeypatch.setattr(pl, "read_csv", skipping)
    path = write(tmp_path, f'{HEADER}\r\nS1,"a\r\nb",1\r\n\r\nS2,b,2\r\n\r\n')

    assert rows(read_table(path, is_header)) == [
        (2, "S1", "a\r\nb", "1"), (4, None, None, None), (5, "S2", "b", "2"), (6, None, None, None)]


def test_a_blank_last_line_is_a_row(tmp_path: Path) -> None:
    path = write(tmp_path, f"{HEADER}\nS1,a,1\n\n")

    assert [row[0] for row in rows(read_table(path, is_header))] == [2, 3]


def test_a_quoted_cell_spanning_lines_is_one_row_numbered_by_its_first_line(tmp_path: Path) -> None:
    text = f'{HEADER}\r\nS1,"a\r\nb",1\r\n\r\nS2,"x,y","1,234.50"\r\nS3,"say ""hi""",3\r\n'
    path = write(tmp_path, text)

    table = read_table(path, is_header)

    assert rows(table) == [
        (2, "S1", "a\r\nb", "1"),
        (4, None, None, None),
        (5, "S2", "x,y", "1,234.50"),
        (6, "S3", 'say "hi"', "3"),
    ]


def test_short_rows_are_filled_and_long_rows_cut_to_the_header_width(tmp_path: Path) -> None:
    path = write(tmp_path, f"{HEADER}\nS1\nS2,a,1,extra,more\n")

    assert rows(read_table(path, is_header)) == [(2, "S1", None, None), (3, "S2", "a", "1")]


def test_a_header_only_file_has_no_rows(tmp_path: Path) -> None:
    table = read_table(write(tmp_path, f"{HEADER}\r\n"), is_header)

    assert table.cells.height == 0
    assert table.cells.columns == ["row", "c0", "c1", "c2"]


def test_a_file_without_a_header_near_the_top_is_unrecognised(tmp_path: Path) -> None:
    path = write(tmp_path, "".join(f"line {n}\n" for n in range(30)) + f"{HEADER}\n")

    with pytest.raises(UnrecognisedFileError) as raised:
        read_table(path, is_header)

    assert raised.value.file == "export.csv"
    assert raised.value.first_rows[0] == ("line 0",)


def test_an_empty_file_is_unrecognised(tmp_path: Path) -> None:
    with pytest.raises(UnrecognisedFileError):
        read_table(write(tmp_path, ""), is_header)


def test_the_header_alone_is_read_without_the_rows(tmp_path: Path) -> None:
    path = write(tmp_path, f"标题\n{HEADER}\nS1,a,1\n", "gbk")

    assert read_header(path, is_header) == (2, ("结算单号", "身份证号", "医疗总费用"))


# --- xlsx ----------------------------------------------------------------------------------------------

def test_xlsx_cells_arrive_as_the_text_a_reader_can_read_exactly(tmp_path: Path) -> None:
    def fill(workbook: xlsxwriter.Workbook) -> None:
        sheet = workbook.add_worksheet("结算")
        date_format = workbook.add_format({"num_format": "yyyy-mm-dd"})
        sheet.write_row(0, 0, ["结算单号", "身份证号", "医疗总费用", "日期"])
        sheet.write_row(1, 0, ["S1", "11010519491231002X"])
        sheet.write_number(1, 2, 12345.67)
        sheet.write_datetime(1, 3, dt.datetime(2019, 3, 5), date_format)
        sheet.write_string(2, 0, "S2")
        sheet.write_number(2, 1, 20190305)
        sheet.write_number(2, 2, 123456789.0)
        sheet.write_string(2, 3, "2019/3/5")
        sheet.write_row(3, 0, ["S3", None])
        sheet.write_number(3, 2, 1e-05)
        sheet.write_number(3, 3, 4)

    table = read_table(write_xlsx(tmp_path, fill), is_header)

    assert table.encoding == "xlsx"
    assert rows(table) == [
        (2, "S1", "11010519491231002X", "12345.67", "2019-03-05 00:00:00"),
        (3, "S2", "20190305", "123456789", "2019/3/5"),
        (4, "S3", None, "0.00001", "4"),
    ]


def test_xlsx_rows_are_numbered_as_the_sheet_shows_them(tmp_path: Path) -> None:
    def fill(workbook: xlsxwriter.Workbook) -> None:
        sheet = workbook.add_worksheet()
        sheet.write(2, 1, "某某县医保结算数据导出")
        sheet.write_row(4, 1, HEADER.split(","))
        sheet.write_row(5, 1, ["S1", "a", "1"])
        sheet.write_row(7, 1, ["S2", "b", "2"])
        sheet.write_row(8, 1, ["合计", "", "3"])

    table = read_table(write_xlsx(tmp_path, fill), is_header)

    assert table.header_row == 5
    assert table.skipped.rows() == [(1, "blank"), (2, "blank"), (3, "title"), (4, "blank")]
    assert rows(table) == [(6, "S1", "a", "1"), (7, None, None, None), (8, "S2", "b", "2"), (9, "合计", None, "3")]


def test_a_named_xlsx_sheet_is_read_instead_of_the_first(tmp_path: Path) -> None:
    def fill(workbook: xlsxwriter.Workbook) -> None:
        workbook.add_worksheet("说明").write(0, 0, "本表为导出说明")
        sheet = workbook.add_worksheet("数据")
        sheet.write_row(0, 0, HEADER.split(","))
        sheet.write_row(1, 0, ["S1", "a", "1"])

    path = write_xlsx(tmp_path, fill)

    assert rows(read_table(path, is_header, sheet="数据")) == [(2, "S1", "a", "1")]
    with pytest.raises(UnrecognisedFileError):
        read_table(path, is_header)
    with pytest.raises(UnreadableFileError):
        read_table(path, is_header, sheet="没有")


def test_a_file_that_is_no_workbook_is_unreadable(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER, name="fake.xlsx")

    with pytest.raises(UnreadableFileError, match=r"fake\.xlsx"):
        read_table(path, is_header)


@pytest.mark.parametrize(("tail", "encoding"), [("中文".encode("gbk"), "gb18030"), ("中文".encode(), "utf-8")])
def test_a_large_file_is_mapped_and_its_encoding_found_a_block_at_a_time(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tail: bytes, encoding: str) -> None:
    monkeypatch.setattr(readers, "CHUNK_BYTES", 1000)
    path = tmp_path / "large.csv"
    path.write_bytes(b"a" * 69_999 + tail)  # ASCII well past the sniffed prefix; a character across two blocks
    data = readers._open(path, 1000)

    assert isinstance(data, mmap.mmap)
    assert readers._sniff("large.csv", data) == (encoding, 0)
    assert readers._sniff("large.csv", path.read_bytes()) == (encoding, 0)  # as when read whole
