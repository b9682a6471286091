"""The county office's workbook: who to visit and what they are owed, totals, and every rejected row."""

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

# A workbook is for reading: xlsxwriter writes ~100k cells a second, and nobody reads 100,000 rows in
# Excel. Larger lists are cut with a note; the CSV files beside the workbook always hold every row.
SHEET_ROW_LIMIT = 30_000

ALL_DECISIONS_LIMIT = 20_000


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


def _height(frame: pl.DataFrame | pl.LazyFrame) -> int:
    if isinstance(frame, pl.DataFrame):
        return frame.height
    return int(frame.select(pl.len()).collect(engine="streaming").item())


def _sheet(workbook: xlsxwriter.Workbook, name: str, frame: pl.DataFrame | pl.LazyFrame, money: list[str],
           note: str = "") -> None:
    """A sheet of the frame's first ``SHEET_ROW_LIMIT`` rows; a lazy frame is read no further (a sort
    followed by a head is a top-k: the rows not shown are never held)."""
    shown = frame.head(SHEET_ROW_LIMIT)
    if isinstance(shown, pl.LazyFrame):
        shown = shown.collect(engine="streaming")  # top-k and sums: what a sheet shows is held
    height = shown.height if shown.height < SHEET_ROW_LIMIT else _height(frame)
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
    if note or height > SHEET_ROW_LIMIT:
        text = note or f"只显示前 {SHEET_ROW_LIMIT} 行(共 {height} 行),完整内容见同目录 CSV 文件"
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


def _labels(decisions: F, groups: dict[str, str]) -> F:
    return decisions.with_columns(
        pl.col("group").replace(groups).fill_null("").alias("group_label"),
        pl.col("outcome").replace_strict(OUTCOMES, default=None).alias("outcome_label"),
    )


def _labelled(decisions: F, groups: dict[str, str]) -> F:
    return _labels(decisions, groups).sort(["township", "village", "household_id"], nulls_last=True)


Causes = list[tuple[str, str]]  # the deciding pack's causes in its order: (id, label), e.g. ("illness", "因病")


def run_causes(run: dict[str, Any]) -> Causes:
    return [(cause["id"], cause["label"]) for cause in run["pack"]["causes"]]


def _cause_columns(causes: Causes) -> list[pl.Expr]:
    return [pl.col(cause).alias(f"{label}赔付") for cause, label in causes]


def _money_columns(causes: Causes) -> list[str]:
    return [*(f"{label}赔付" for _, label in causes), "赔付合计", "保险服务费"]


def visit_list(decisions: F, causes: Causes, groups: dict[str, str]) -> F:
    """The households to visit, by township and village, with what each cause pays (fen)."""
    return _labelled(decisions, groups).filter(pl.col("outcome") == "pay").select(
        pl.col("township").alias("乡镇"), pl.col("village").alias("村"), pl.col("household_id").alias("户编号"),
        pl.col("head_name").alias("户主姓名"), pl.col("group_label").alias("类别"),
        pl.col("per_capita_income").alias("人均可支配收入"), *_cause_columns(causes),
        pl.col("payout").alias("赔付合计"), pl.col("fee").alias("保险服务费"),
    )


# what the visit list reads of the decisions, beside the causes, payout and fee
VISIT_COLUMNS = ["township", "village", "household_id", "head_name", "group", "outcome", "per_capita_income"]
VISIT_ORDER = ["township", "village", "household_id"]  # nulls last


def visit_rows(decisions: pl.DataFrame, causes: Causes, groups: dict[str, str]) -> pl.DataFrame:
    """visits.csv's rows of these decisions, as written: the paying households, by township and village."""
    visits = visit_list(decisions, causes, groups)
    money = ["人均可支配收入", *_money_columns(causes)]
    table = visits.with_columns(*(yuan(column) for column in money))
    return neutralised(table, ["乡镇", "村", "户编号", "户主姓名"])


def write_visits_csv(path: Path, decisions: pl.DataFrame, causes: Causes, groups: dict[str, str]) -> None:
    """The complete visit list as CSV (UTF-8 with BOM, so Excel shows the Chinese headers)."""
    visit_rows(decisions, causes, groups).write_csv(path, include_bom=True)


def write_workbook(path: Path, run: dict[str, Any], decisions: pl.DataFrame | pl.LazyFrame,
                   rejections: pl.DataFrame) -> None:
    """``decisions`` may be lazy (a scan of the run's decisions on disk): each sheet then reads what it
    shows, at most ``SHEET_ROW_LIMIT`` rows, and the sums it shows."""
    causes, groups = run_causes(run), run_groups(run)
    decisions = decisions.lazy()  # each sheet collects what it shows
    labelled = _labelled(decisions, groups)
    visit = visit_list(decisions, causes, groups)
    visit_money = ["人均可支配收入", *_money_columns(causes)]
    dibao = labelled.filter(pl.col("outcome") == "refer_dibao").select(
        pl.col("township").alias("乡镇"), pl.col("village").alias("村"), pl.col("household_id").alias("户编号"),
        pl.col("head_name").alias("户主姓名"), pl.col("group_label").alias("类别"),
        pl.col("per_capita_income").alias("人均可支配收入"),
    )
    by_township = (  # sums: of the decisions in any order (a lazy sort before them would hold every row)
        _labels(decisions, groups).filter(pl.col("outcome") == "pay")
        .group_by("township")
        .agg(pl.len().alias("赔付户数"), *(pl.col(cause).sum().alias(f"{label}赔付") for cause, label in causes),
             pl.col("payout").sum().alias("赔付合计"), pl.col("fee").sum().alias("保险服务费"))
        .sort("township", nulls_last=True)
        .rename({"township": "乡镇"})
    )
    outcomes = (
        _labels(decisions, groups).group_by("outcome_label")
        .agg(pl.len().alias("户数"), pl.col("payout").sum().alias("赔付合计"))
        .rename({"outcome_label": "结果"}).sort("户数", descending=True)
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
    everything = labelled.select(
        pl.col("township").alias("乡镇"), pl.col("village").alias("村"), pl.col("household_id").alias("户编号"),
        pl.col("head_name").alias("户主姓名"), pl.col("group_label").alias("类别"),
        pl.col("outcome_label").alias("结果"), pl.col("per_capita_income").alias("人均可支配收入"),
        *_cause_columns(causes), pl.col("payout").alias("赔付合计"), pl.col("fee").alias("保险服务费"),
        _rule_labels(pl.col("rules"), run_rules(run)).alias("触发规则"),
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
    with xlsxwriter.Workbook(path, SAFE_WORKBOOK) as workbook:
        _summary_sheet(workbook, summary)
        _sheet(workbook, "入户核查名单", visit, visit_money)
        _sheet(workbook, "按乡镇汇总", by_township, _money_columns(causes))
        _sheet(workbook, "结果分布", outcomes, ["赔付合计"])
        _sheet(workbook, "低保衔接", dibao, ["人均可支配收入"])
        _sheet(workbook, "文件统计", files, [])
        _sheet(workbook, "拒绝明细", rejected, [])
        households = _height(decisions)
        if households <= ALL_DECISIONS_LIMIT:
            _sheet(workbook, "全部结果", everything, visit_money)
        else:
            note = f"共 {households} 户,超过 {ALL_DECISIONS_LIMIT} 户不在工作簿中列出:全部结果见 decisions.csv"
            _sheet(workbook, "全部结果", pl.DataFrame({"说明": [note]}), [])


def write_workbook_from_files(path: str, run_json: str, decisions_parquet: str, rejections_parquet: str) -> None:
    """The entry point of the process that writes the workbook while the run is being stored."""
    import json

    run = json.loads(Path(run_json).read_text(encoding="utf-8"))
    write_workbook(Path(path), run, scan_decisions(decisions_parquet), pl.read_parquet(rejections_parquet))


def scan_decisions(source: str) -> pl.LazyFrame:
    """The decisions a workbook is written from, lazily: a Parquet file, or a JSON list of Arrow IPC files
    (a screening's decisions as it holds them on disk, ``screening.spill``)."""
    if source.startswith("["):
        import json

        return pl.scan_ipc(json.loads(source))
    return pl.scan_parquet(source)


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


# python -m fangpin.reports.workbook OUT.xlsx RUN.json DECISIONS.parquet REJECTIONS.parquet [PARENT PID]
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
