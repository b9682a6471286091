"""Every kind of broken drop gets a one-line message naming the file and field and a non-zero exit, never a
traceback, and nothing is stored (issue 13, docs/limits.md); a drop that is still valid gets a warning."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
import xlsxwriter
from typer.testing import CliRunner

from fangpin.cli import app
from fangpin.db.session import get_engine
from tests.integration.drops import MEDICAL_HEADER, REGISTER_HEADER, base_drop, person, settlement, write

runner = CliRunner()
ENGLISH = re.compile(r"[A-Za-z]{2,}(?: [A-Za-z]{2,}){2,}")  # three English words in a row: a sentence, not a code


def english(message: str, *paths: Path) -> list[str]:
    """The English sentences left in a message once its paths are taken out."""
    for path in paths:
        message = message.replace(str(path), "")
    return ENGLISH.findall(message.removeprefix("error: ").removeprefix("warning: "))


@pytest.fixture
def env(database_url: str, tmp_path: Path) -> dict[str, str]:
    return {"FANGPIN_DATABASE_URL": database_url, "FANGPIN_RUNS_DIR": str(tmp_path / "runs"), "COLUMNS": "400"}


def _drop(folder: Path) -> Path:
    return base_drop(folder, [settlement("S1", 1, "2019-03-15", "30000.00"),
                              settlement("S2", 2, "2019-04-15", "9000.00")])


def _no_register(folder: Path) -> Path:
    (_drop(folder) / "register.csv").unlink()
    return folder


def _register_without_its_id_column(folder: Path) -> Path:
    path = _drop(folder) / "register.csv"
    path.write_bytes(path.read_bytes().replace("户编号".encode("gb18030"), "备注".encode("gb18030"), 1))
    return folder


def _medical_without_date(folder: Path) -> Path:
    _drop(folder)
    header = MEDICAL_HEADER.replace(",结算日期", "")
    write(folder, "medical.csv", [header, f"S1,{person(1)},31000.00,1000.00,0,0,30000.00"])
    return folder


def _stray_quote(folder: Path) -> Path:
    _drop(folder)
    write(folder, "medical.csv", [MEDICAL_HEADER, settlement("S1", 1, "2019-03-15", "30000.00"),
                                  f'S2,"{person(2)},2019-04-15,10000.00,1000.00,0,0,9000.00',
                                  settlement("S3", 1, "2019-05-15", "100.00")])
    return folder


def _register_xlsx_without_income(folder: Path) -> Path:
    """Read in a worker process: its MissingColumnError must come back as one line all the same."""
    _drop(folder)
    (folder / "register.csv").unlink()
    with xlsxwriter.Workbook(folder / "register.xlsx") as workbook:
        sheet = workbook.add_worksheet()
        sheet.write_row(0, 0, REGISTER_HEADER.replace(",家庭年可支配收入", "").split(","))
        sheet.write_row(1, 0, ["H1", person(1), "张三", "东代固镇", "东村", "4", "一般农户", "是"])
    return folder


Case = tuple[Callable[[Path], Path], list[str], list[str]]  # build the drop, extra arguments, expected texts
CASES: dict[str, Case] = {
    "no household register": (_no_register, [], ["数据包的文件中没有防贫对象底册", "请上传包含防贫对象底册的文件夹"]),
    "register without 户编号": (_register_without_its_id_column, [],
                               ["register.csv,字段 户编号: 看起来是防贫对象底册", "缺少列 户编号(household_id",
                                "「户编号」"]),
    "missing required column": (_medical_without_date, [],
                                ["medical.csv,字段 日期: 医保结算导出文件缺少必需的列 「结算日期」(date)", "请导出"]),
    "stray quote in a CSV": (_stray_quote, [],
                             ["medical.csv,第 3 行: 无法读取为 CSV", "引号", "请在 Excel 中打开此文件"]),
    "xlsx missing a required column": (_register_xlsx_without_income, [],
                                       ["register.xlsx,字段 家庭年收入: ", "「家庭年可支配收入」(income)"]),
    "a county no household carries": (_drop, ["--county", "999999"],
                                      ["register.csv,字段 户编号: 没有任何农户属于县(区)代码 999999",
                                       "以 130434 开头", "请检查县(区)代码(--county)"]),
    "a year in which no event falls": (_drop, ["--year", "2020"],
                                       ["medical.csv,字段 日期: ", "不在政策年度 2020 内", "它们在 2019 年",
                                        "请检查政策年度(--year)"]),
}


@pytest.mark.parametrize("kind", list(CASES))
def test_a_broken_drop_gets_one_line_naming_file_and_field(kind: str, env: dict[str, str], tmp_path: Path) -> None:
    build, extra, expected = CASES[kind]
    drop = build(tmp_path / "drop")
    arguments = {"--year": "2019", "--county": "130434"} | dict(zip(extra[::2], extra[1::2], strict=True))

    result = runner.invoke(app, ["screen", str(drop), *(item for pair in arguments.items() for item in pair)],
                           env=env)

    message = result.stderr.strip()
    assert result.exit_code == 1, (result.exit_code, result.output, result.exception)
    assert message.startswith("error: ") and len(message.splitlines()) == 1, message
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)
    for text in expected:
        assert text in message, (text, message)
    assert english(message, tmp_path) == [], message
    with get_engine(env["FANGPIN_DATABASE_URL"]).connect() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM runs")).scalar_one() == 0


def test_a_file_where_the_folder_is_expected_names_the_folder(env: dict[str, str], tmp_path: Path) -> None:
    drop = _drop(tmp_path / "drop")

    result = runner.invoke(app, ["screen", str(drop / "medical.csv"), "--year", "2019", "--county", "130434"],
                           env=env)

    assert result.exit_code == 1
    assert "这是一个文件,这里需要的是数据包的文件夹" in result.stderr
    assert str(drop) in result.stderr


def test_an_export_whose_events_all_fall_in_another_year_is_a_warning(env: dict[str, str], tmp_path: Path) -> None:
    drop = _drop(tmp_path / "drop")
    write(drop, "fire.csv", ["起火日期,火灾编号,直接财产损失,保险赔偿,身份证号",
                             f"2018-06-01,F1,20000.00,0,{person(1)}"])

    result = runner.invoke(app, ["screen", str(drop), "--year", "2019", "--county", "130434"], env=env)

    assert result.exit_code == 0, result.output
    assert "warning: fire.csv,字段 日期: 全部 1 条事件都不在政策年度 2019 内" in result.stderr
