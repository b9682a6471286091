"""What an auditor reads after a replay: the diff per household and cause, and the totals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import xlsxwriter
from rich.console import Console
from rich.table import Table

from fangpin.money import fen_text
from fangpin.private import private_dir
from fangpin.reports.labels import OUTCOMES
from fangpin.reports.results import yuan


def replay_summary(scope: str, identical: bool, before: dict[str, str], after: dict[str, str],
                   totals: dict[str, Any], digests: tuple[str, str],
                   parameters: dict[str, tuple[str | None, str | None]]) -> dict[str, Any]:
    return {
        "scope": scope,
        "identical": identical,
        "pack_before": before,
        "pack_after": after,
        "stored_sha256": digests[0],
        "replayed_sha256": digests[1],
        "households": totals["households"],
        "households_changed": totals["households_changed"],
        "causes": [key.removesuffix("_before") for key in totals
                   if key.endswith("_before") and key not in ("payout_before", "fee_before")],
        **{key: fen_text(value) for key, value in totals.items() if key.endswith(("_before", "_after"))},
        "parameters_changed": {name: {"before": old, "after": new} for name, (old, new) in parameters.items()},
    }


def write_replay(out: Path, summary: dict[str, Any], diff: pl.DataFrame) -> None:
    private_dir(out)  # owner-only, as a run's result folder
    (out / "summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    table = diff.with_columns(yuan("before"), yuan("after"), yuan("difference"))
    table.write_csv(out / "diff.csv")
    with xlsxwriter.Workbook(out / "diff.xlsx") as workbook:
        totals = pl.DataFrame({
            "项目": ["范围", "原规则包", "新规则包", "结果一致", "户数", "变化户数", "赔付(前)", "赔付(后)",
                   "服务费(前)", "服务费(后)"],
            "内容": [summary["scope"], f"{summary['pack_before']['id']} {summary['pack_before']['hash'][:12]}",
                   f"{summary['pack_after']['id']} {summary['pack_after']['hash'][:12]}",
                   "是" if summary["identical"] else "否", str(summary["households"]),
                   str(summary["households_changed"]), summary["payout_before"], summary["payout_after"],
                   summary["fee_before"], summary["fee_after"]],
        })
        totals.write_excel(workbook=workbook, worksheet="汇总", autofit=True)
        shown = diff.head(1_000_000).with_columns(
            *(yuan(column).cast(pl.Decimal(20, 2)) for column in ("before", "after", "difference")),
            pl.col("outcome_before").replace_strict(OUTCOMES, default=None),
            pl.col("outcome_after").replace_strict(OUTCOMES, default=None),
        ).rename({"household_id": "户编号", "township": "乡镇", "village": "村", "group_before": "类别(前)",
                  "group_after": "类别(后)", "outcome_before": "结果(前)", "outcome_after": "结果(后)",
                  "cause": "项目", "before": "前", "after": "后", "difference": "差额", "parameters": "相关参数",
                  "rules": "相关规则"})
        shown.write_excel(workbook=workbook, worksheet="差异明细", autofit=shown.height < 20_000,
                          column_formats={"前": "#,##0.00", "后": "#,##0.00", "差额": "#,##0.00"})
        parameters = pl.DataFrame(
            [{"参数": name, "原值": change["before"], "新值": change["after"]}
             for name, change in summary["parameters_changed"].items()],
            schema={"参数": pl.String, "原值": pl.String, "新值": pl.String},
        )
        parameters.write_excel(workbook=workbook, worksheet="参数变化", autofit=True)


def print_replay(summary: dict[str, Any], diff: pl.DataFrame, console: Console) -> None:
    verdict = "identical 一致" if summary["identical"] else "differs 不一致"
    console.print(f"replay of {summary['scope']}: [bold]{verdict}[/bold] — pack {summary['pack_before']['id']} "
                  f"{summary['pack_before']['hash'][:12]} → {summary['pack_after']['id']} "
                  f"{summary['pack_after']['hash'][:12]}")
    console.print(f"stored  sha256 {summary['stored_sha256']}\nreplayed sha256 {summary['replayed_sha256']}")
    totals = Table(title="totals")
    for column in ("", "before", "after"):
        totals.add_column(column, justify="right")
    totals.add_row("households changed", "", f"{summary['households_changed']} of {summary['households']}")
    for key in ("payout", "fee", *summary["causes"]):
        totals.add_row(key, summary[f"{key}_before"], summary[f"{key}_after"])
    console.print(totals)
    if summary["parameters_changed"]:
        params = Table(title="parameters that differ between the packs")
        for column in ("parameter", "before", "after"):
            params.add_column(column)
        for name, change in summary["parameters_changed"].items():
            params.add_row(name, change["before"] or "—", change["after"] or "—")
        console.print(params)
    if diff.height:
        sample = Table(title=f"differences (first 20 of {diff.height} rows; all in diff.csv)")
        for column in ("household", "cause", "before", "after", "difference", "outcome", "accounted for by"):
            sample.add_column(column)
        for row in diff.head(20).iter_rows(named=True):
            sample.add_row(row["household_id"], row["cause"], fen_text(row["before"]), fen_text(row["after"]),
                           fen_text(row["difference"]), f"{row['outcome_before']} → {row['outcome_after']}",
                           row["parameters"] or row["rules"])
        console.print(sample)
