"""What an auditor reads after a replay: the diff per household and cause, and the totals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import xlsxwriter
from rich.console import Console

from fangpin.money import fen_text
from fangpin.private import private_dir
from fangpin.reports.labels import OUTCOMES
from fangpin.reports.results import SAFE_WORKBOOK, neutralised, yuan
from fangpin.termout import Justify, amount_or_text, fen, print_lines, print_records, term
from fangpin.termout import yuan as grouped


def replay_summary(scope: str, identical: bool, before: dict[str, str], after: dict[str, str],
                   totals: dict[str, Any], digests: tuple[str, str],
                   parameters: dict[str, tuple[str | None, str | None]], verdict: str | None = None,
                   parameter_labels: dict[str, str] | None = None) -> dict[str, Any]:
    """``identical``: same sha256; ``verdict``: identical, unchanged (same results under another pack) or
    changed (``ReplayResult.verdict``); ``parameter_labels``: the packs' labels of the parameters."""
    named = parameter_labels or {}
    return {
        "scope": scope,
        "identical": identical,
        "verdict": verdict or ("identical" if identical else "changed"),
        "pack_before": before,
        "pack_after": after,
        "stored_sha256": digests[0],
        "replayed_sha256": digests[1],
        "households": totals["households"],
        "households_changed": totals["households_changed"],
        "causes": [key.removesuffix("_before") for key in totals
                   if key.endswith("_before") and key not in ("payout_before", "fee_before")],
        **{key: fen_text(value) for key, value in totals.items() if key.endswith(("_before", "_after"))},
        "parameters_changed": {name: {"before": old, "after": new, "label": named.get(name, name)}
                               for name, (old, new) in parameters.items()},
    }


def write_replay(out: Path, summary: dict[str, Any], diff: pl.DataFrame) -> None:
    private_dir(out)  # owner-only, as a run's result folder
    (out / "summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    table = diff.with_columns(yuan("before"), yuan("after"), yuan("difference"))
    neutralised(table).write_csv(out / "diff.csv")
    with xlsxwriter.Workbook(out / "diff.xlsx", SAFE_WORKBOOK) as workbook:
        totals = pl.DataFrame({
            "项目": ["范围", "原规则包", "新规则包", "逐字节一致", "户数", "变化户数", "赔付(前)", "赔付(后)",
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
            [{"参数": change.get("label") or name, "参数代码": name, "原值": change["before"], "新值": change["after"]}
             for name, change in summary["parameters_changed"].items()],
            schema={"参数": pl.String, "参数代码": pl.String, "原值": pl.String, "新值": pl.String},
        )
        parameters.write_excel(workbook=workbook, worksheet="参数变化", autofit=True)


SAMPLE_ROWS = 20
VERDICTS = {"identical": "一致 identical",
            "unchanged": "不一致:各户结果未变,但规则包不同,sha256 不同 unchanged under another pack",
            "changed": "结果改变 changed"}


def print_replay(summary: dict[str, Any], diff: pl.DataFrame, console: Console,
                 cause_labels: dict[str, str] | None = None, parameter_labels: dict[str, str] | None = None) -> None:
    """The verdict, digests and totals, the parameters that differ, and the first rows of the diff;
    ``cause_labels`` and ``parameter_labels`` are the packs' labels (id → 因病, 贫困线 …), shown first with
    the id beside them."""
    parameter_names = {name: f"{label} {name}" for name, label in (parameter_labels or {}).items() if label != name}
    names = {"payout": term("payout"), "fee": term("fee"),
             **{cause: f"{label} {cause}" for cause, label in (cause_labels or {}).items()}}
    verdict = VERDICTS[summary.get("verdict") or ("identical" if summary["identical"] else "changed")]
    console.print(f"重算 replay of {summary['scope']}: [bold]{verdict}[/bold]", soft_wrap=True, highlight=False)
    print_lines(console, [
        f"规则包 pack {summary['pack_before']['id']} {summary['pack_before']['hash'][:12]} → "
        f"{summary['pack_after']['id']} {summary['pack_after']['hash'][:12]}",
        f"原 stored   sha256 {summary['stored_sha256']}",
        f"重算 replayed sha256 {summary['replayed_sha256']}",
    ])
    rows = [[term("households changed"), "", f"{summary['households_changed']} / {summary['households']}"]]
    for key in ("payout", "fee", *summary["causes"]):
        rows.append([names.get(key, key), grouped(summary[f"{key}_before"]), grouped(summary[f"{key}_after"])])
    print_records(console, "合计 totals (元 yuan)", [("", "left"), (term("before"), "right"), (term("after"), "right")],
                  rows, keys=())
    if summary["parameters_changed"]:
        print_records(console, "两个规则包不同的参数 parameters that differ between the packs",
                      [(term("parameter"), "left"), (term("before"), "left"), (term("after"), "left")],
                      [[parameter_names.get(name, name), amount_or_text(change["before"]),
                        amount_or_text(change["after"])]
                       for name, change in summary["parameters_changed"].items()])
    if diff.height:
        shown = min(diff.height, SAMPLE_ROWS)
        scope = (f"前 {shown} 行,共 {diff.height} 行 first {shown} of {diff.height} rows" if diff.height > shown
                 else f"共 {diff.height} 行 all {diff.height} rows")
        columns: list[tuple[str, Justify]] = [
            (term("household"), "left"), (term("cause"), "left"), (term("before"), "right"),
            (term("after"), "right"), (term("difference"), "right"), (term("outcome"), "left"),
            (term("accounted for by"), "left")]
        print_records(console, f"差异 differences ({scope}; 全部见 all in diff.csv)", columns, [
            [row["household_id"], names.get(row["cause"], row["cause"]), fen(row["before"]), fen(row["after"]),
             fen(row["difference"]),
             f"{OUTCOMES.get(row['outcome_before'] or '', row['outcome_before'] or '—')} → "
             f"{OUTCOMES.get(row['outcome_after'] or '', row['outcome_after'] or '—')}",
             row["parameters"] or row["rules"] or ""]
            for row in diff.head(SAMPLE_ROWS).iter_rows(named=True)])
