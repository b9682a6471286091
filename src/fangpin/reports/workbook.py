"""The county office's workbook: who to visit and what they are owed, totals, and every rejected row.

It is written from what it shows of the decisions (``reports.shown.Shown``: a sheet's rows at most, and
sums), in a process of its own during a screening (``python -m fangpin.reports.workbook``, below).
"""

from __future__ import annotations

import unicodedata
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import polars as pl
import xlsxwriter

from fangpin.money import to_decimal
from fangpin.reports.labels import DEPARTMENTS, OUTCOMES, REASONS
from fangpin.reports.results import SAFE_WORKBOOK, neutralised, yuan
from fangpin.reports.shown import ORDER, Shown


def _money(frame: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    """Fen → yuan as exact decimal text, then a number cell for the spreadsheet (2 decimals, displayed)."""
    return frame.with_columns([yuan(column).cast(pl.Decimal(20, 2)) for column in columns])


MONEY_FORMAT = "#,##0.00"
WIDTH_SAMPLE = 2_000  # rows looked at to size a column
MAX_WIDTH = 60


def text_width(text: str) -> int:
    """Columns a text takes in Excel: a Chinese character is two, like a terminal's cells."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def _shown(value: object) -> str:
    if isinstance(value, Decimal):
        return f"{value:,.2f}"
    return "" if value is None else str(value)


def column_widths(frame: pl.DataFrame) -> list[int]:
    """A width per column that fits its header (with the filter button) and its widest value, Chinese
    counted double; xlsxwriter's autofit counts a Chinese character as one and cuts them."""
    sample = frame.head(WIDTH_SAMPLE)
    return [min(MAX_WIDTH, max([text_width(column) + 4, *(text_width(_shown(v)) + 2 for v in sample[column])]))
            for column in frame.columns]


F = TypeVar("F", pl.DataFrame, pl.LazyFrame)


def _sheet(workbook: xlsxwriter.Workbook, name: str, frame: pl.DataFrame, money: list[str], limit: int,
           note: str = "", height: int | None = None) -> None:
    """A sheet of the frame's first ``limit`` rows, with a note if there are more: ``height`` rows (default
    the frame's; a listing of ``Shown`` holds only the rows shown)."""
    shown = frame.head(limit)
    height = frame.height if height is None else height
    shown = _money(shown, [column for column in money if column in shown.columns])
    shown.write_excel(
        workbook=workbook, worksheet=name, autofit=False, header_format={"bold": True},
        float_precision=2, table_style="Table Style Light 9",
        column_formats={column: MONEY_FORMAT for column in money if column in shown.columns},
    )
    sheet = workbook.get_worksheet_by_name(name)
    if sheet is None:
        return
    for index, width in enumerate(column_widths(shown)):
        sheet.set_column(index, index, width)
    if note or height > limit:
        text = note or f"只显示前 {limit} 行(共 {height} 行),完整内容见同目录 CSV 文件"
        sheet.write(shown.height + 2, 0, text)


def _summary_sheet(workbook: xlsxwriter.Workbook, rows: list[tuple[str, str | int | Decimal]]) -> None:
    """汇总: one item a row; amounts are number cells shown as #,##0.00 (they add up in Excel), counts are
    numbers, ids and hashes text."""
    sheet = workbook.add_worksheet("汇总")
    bold = workbook.add_format({"bold": True})
    money = workbook.add_format({"num_format": MONEY_FORMAT})
    sheet.write_row(0, 0, ["项目", "内容"], bold)
    for row, (item, value) in enumerate(rows, start=1):
        sheet.write_string(row, 0, item)
        if isinstance(value, Decimal):
            sheet.write_number(row, 1, float(value), money)  # a spreadsheet cell is a double; value has 2 places
        elif isinstance(value, int):
            sheet.write_number(row, 1, value)
        else:
            sheet.write_string(row, 1, value)
    sheet.set_column(0, 0, max(text_width(item) for item, _ in rows) + 2)
    sheet.set_column(1, 1, min(MAX_WIDTH + 20, max(text_width(_shown(value)) for _, value in rows) + 2))


def run_groups(run: dict[str, Any]) -> dict[str, str]:
    """The deciding pack's groups and their labels (a run.json of 0.1 has none: the ids are shown)."""
    return {group["id"]: group["label"] for group in run["pack"].get("groups", [])}


def run_rules(run: dict[str, Any]) -> dict[str, str]:
    """The deciding pack's rules and their names for people (a run.json written before they were kept has
    none: the ids are shown)."""
    return {rule["id"]: rule["label"] for rule in run["pack"].get("rules", [])}


def _rule_labels(ids: pl.Expr, labels: dict[str, str]) -> pl.Expr:
    """"edge,illness_edge" → "非贫低收入户(边缘户);因病·非贫低收入户(边缘户)"."""
    if not labels:
        return ids
    return ids.str.split(",").list.eval(pl.element().replace(labels)).list.join(";")


def _group_label(groups: dict[str, str]) -> pl.Expr:
    return pl.col("group").replace(groups).fill_null("").alias("group_label")


def _labels(decisions: F, groups: dict[str, str]) -> F:
    return decisions.with_columns(
        _group_label(groups), pl.col("outcome").replace_strict(OUTCOMES, default=None).alias("outcome_label"))


Causes = list[tuple[str, str]]  # the deciding pack's causes in its order: (id, label), e.g. ("illness", "因病")


def run_causes(run: dict[str, Any]) -> Causes:
    return [(cause["id"], cause["label"]) for cause in run["pack"]["causes"]]


def _cause_columns(causes: Causes) -> list[pl.Expr]:
    return [pl.col(cause).alias(f"{label}赔付") for cause, label in causes]


def _money_columns(causes: Causes) -> list[str]:
    return [*(f"{label}赔付" for _, label in causes), "赔付合计", "保险服务费"]


def _listed(*more: pl.Expr) -> list[pl.Expr]:
    """The columns every listing starts with, from the decisions with ``group_label``; then ``more``."""
    return [pl.col("township").alias("乡镇"), pl.col("village").alias("村"), pl.col("household_id").alias("户编号"),
            pl.col("head_name").alias("户主姓名"), pl.col("group_label").alias("类别"), *more]


def _visit_columns(causes: Causes) -> list[pl.Expr]:
    return _listed(pl.col("per_capita_income").alias("人均可支配收入"), *_cause_columns(causes),
                   pl.col("payout").alias("赔付合计"), pl.col("fee").alias("保险服务费"))


def visit_list(decisions: F, causes: Causes, groups: dict[str, str]) -> F:
    """The households to visit, by township and village, with what each cause pays (fen)."""
    return (_labels(decisions, groups).sort(ORDER, nulls_last=True).filter(pl.col("outcome") == "pay")
            .select(_visit_columns(causes)))


# what the visit list reads of the decisions, beside the causes, payout and fee
VISIT_COLUMNS = ["township", "village", "household_id", "head_name", "group", "outcome", "per_capita_income"]
VISIT_ORDER = ORDER  # township, village, household id; nulls last


def visit_rows(decisions: pl.DataFrame, causes: Causes, groups: dict[str, str]) -> pl.DataFrame:
    """visits.csv's rows of these decisions, as written: the paying households, by township and village."""
    visits = visit_list(decisions, causes, groups)
    money = ["人均可支配收入", *_money_columns(causes)]
    table = visits.with_columns(*(yuan(column) for column in money))
    return neutralised(table, ["乡镇", "村", "户编号", "户主姓名"])


def write_visits_csv(path: Path, decisions: pl.DataFrame, causes: Causes, groups: dict[str, str]) -> None:
    """The complete visit list as CSV (UTF-8 with BOM, so Excel shows the Chinese headers)."""
    visit_rows(decisions, causes, groups).write_csv(path, include_bom=True)


def write_workbook(path: Path, run: dict[str, Any], shown: Shown, rejections: pl.DataFrame,
                   rejections_total: int | None = None) -> None:
    """The workbook of ``run`` from what it shows of the decisions (``Shown.of`` a frame of them, or
    combined partition by partition), each sheet cut at ``shown.limit`` rows. ``rejections``: all of them,
    or the first ``shown.limit`` in file and row order of ``rejections_total``."""
    causes, groups = run_causes(run), run_groups(run)
    visit_money = ["人均可支配收入", *_money_columns(causes)]
    visit = shown.visits.with_columns(_group_label(groups)).select(_visit_columns(causes))
    dibao = shown.dibao.with_columns(_group_label(groups)).select(
        _listed(pl.col("per_capita_income").alias("人均可支配收入")))
    count = pl.get_index_type()  # a count's type, as a group's length (pl.len) has it
    by_township = shown.townships.select(
        pl.col("township").alias("乡镇"), pl.col("households").cast(count).alias("赔付户数"),
        *_cause_columns(causes), pl.col("payout").alias("赔付合计"), pl.col("fee").alias("保险服务费"))
    outcomes = (  # ties by label, so that the order is one
        shown.outcomes.with_columns(pl.col("outcome").replace_strict(OUTCOMES, default=None).alias("结果"))
        .group_by("结果").agg(pl.col("households").sum().cast(count).alias("户数"),
                              pl.col("payout").sum().alias("赔付合计"))
        .sort(["户数", "结果"], descending=[True, False], nulls_last=True)
    )
    files = pl.DataFrame([
        {"文件": item["file"], "部门": DEPARTMENTS.get(item.get("department") or "", "未识别"),
         "读取行数": item["rows_read"], "使用": item["used"], "拒绝": item["rejected"], "跳过": item["skipped"],
         "原因明细": "; ".join(f"{REASONS.get(k, k)} {v}" for k, v in sorted(item["by_reason"].items())),
         "未识别列": ", ".join(item.get("unknown_columns", [])), "sha256": item["sha256"]}
        for item in run["inputs"]
    ])
    rejected = rejections.sort(["file", "row"]).select(
        pl.col("file").alias("文件"), pl.col("row").alias("行号"), pl.col("field").alias("字段"),
        pl.col("value").alias("值"), pl.col("reason").alias("原因代码"),
        pl.col("reason").replace_strict(REASONS, default=None).alias("原因"),
    )
    totals = run["totals"]
    summary: list[tuple[str, str | int | Decimal]] = [
        ("运行编号", run["run_id"]), ("县(区)代码", run["county"]), ("政策年度", int(run["year"])),
        ("规则包", f"{run['pack']['id']} {run['pack']['version']}"), ("规则包哈希", run["pack"]["hash"]),
        ("核查户数", int(totals["households"])), ("赔付户数", int(totals["outcomes"].get("pay", 0))),
        ("赔付合计(元)", to_decimal(totals["payout"])), ("保险服务费(元)", to_decimal(totals["fee"])),
        *((f"{label}(元)", to_decimal(totals[cause])) for cause, label in causes),
        ("读取行数", int(run["rows"]["read"])), ("使用", int(run["rows"]["used"])),
        ("拒绝", int(run["rows"]["rejected"])), ("跳过", int(run["rows"]["skipped"])),
    ]
    limit = shown.limit
    with xlsxwriter.Workbook(path, SAFE_WORKBOOK) as workbook:
        _summary_sheet(workbook, summary)
        _sheet(workbook, "入户核查名单", visit, visit_money, limit, height=shown.height("pay"))
        _sheet(workbook, "按乡镇汇总", by_township, _money_columns(causes), limit)
        _sheet(workbook, "结果分布", outcomes, ["赔付合计"], limit)
        _sheet(workbook, "低保衔接", dibao, ["人均可支配收入"], limit, height=shown.height("refer_dibao"))
        _sheet(workbook, "文件统计", files, [], limit)
        _sheet(workbook, "拒绝明细", rejected, [], limit, height=rejections_total)
        if shown.everything is not None:
            everything = _labels(shown.everything, groups).select(_listed(
                pl.col("outcome_label").alias("结果"), pl.col("per_capita_income").alias("人均可支配收入"),
                *_cause_columns(causes), pl.col("payout").alias("赔付合计"), pl.col("fee").alias("保险服务费"),
                _rule_labels(pl.col("rules"), run_rules(run)).alias("触发规则")))
            _sheet(workbook, "全部结果", everything, visit_money, limit, height=shown.households)
        else:
            note = (f"共 {shown.households} 户,超过 {shown.everything_limit} 户不在工作簿中列出:"
                    "全部结果见 decisions.csv")
            _sheet(workbook, "全部结果", pl.DataFrame({"说明": [note]}), [], limit)


def write_workbook_from_files(path: str, run_json: str, shown: str, rejections_parquet: str) -> None:
    """The entry point of the process that writes the workbook while the run is being stored: from what it
    shows of the decisions (a folder written by ``Shown.write``), never the decisions themselves."""
    import json

    run = json.loads(Path(run_json).read_text(encoding="utf-8"))
    rejections = pl.read_parquet(rejections_parquet)  # the rows the sheet shows, of REJECTIONS_TOTAL
    total = pl.read_parquet_metadata(rejections_parquet).get(REJECTIONS_TOTAL)
    write_workbook(Path(path), run, Shown.read(Path(shown)), rejections,
                   int(total) if total is not None else None)


REJECTIONS_TOTAL = "fangpin:rejections"  # the rejections file's metadata: how many there are in all


def die_with_parent(parent: int, signum: int = 9) -> None:
    """Get ``signum`` (default SIGKILL) when the process ``parent`` ends (Linux); exit now if it already has."""
    import os
    import signal
    import sys

    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signum or signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:
        sys.exit("the process that started this one is gone")


# python -m fangpin.reports.workbook OUT.xlsx RUN.json SHOWN_FOLDER REJECTIONS.parquet [PARENT PID]
if __name__ == "__main__":
    import os
    import sys

    # Written while the run is being stored, which is what the office waits for: the workbook takes the
    # CPU that storing leaves, and has it all once storing is done.
    os.nice(10)
    if sys.argv[1] == "--stdin":  # started early, its imports done while the drop is read: the files follow
        die_with_parent(int(sys.argv[2]))
        line = sys.stdin.readline()
        if line.strip():  # nothing: the run ended without a workbook to write
            import json

            write_workbook_from_files(*json.loads(line))
        sys.exit(0)
    if len(sys.argv) > 5:  # the process that started it: die with it (Linux: PR_SET_PDEATHSIG)
        die_with_parent(int(sys.argv[5]))
    write_workbook_from_files(*sys.argv[1:5])
