"""The impact of a draft pack on stored runs, as the county office and the finance bureau read it: who moves in
and out, what it costs and where, who is paid more or less, whether the fund holds, and which parameters of
the draft account for each changed yuan. Pure arithmetic in integer fen over the frames a replay produced
(``services.replay``): the stored decisions, the same facts re-decided under the draft, and the replay's diff.

Every figure is a sum over the same households, so the parts add up to the totals to the fen: the flows,
the townships (and villages within them) and the bands each sum to the payout difference of the totals; the
attribution by combination of parameters does too (a household's change is counted once, under the set of
parameters that accounts for it); per single parameter a household counts under each of its parameters.

Length: the report's arithmetic, its workbook and its printed summary are one reading of the same dict;
split, each part would repeat the other's keys.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import polars as pl
import xlsxwriter
from rich.console import Console
from rich.table import Table

from fangpin.money import fen_text
from fangpin.reports.labels import OUTCOMES

UNKNOWN_PLACE = "(未填乡镇)"
UNKNOWN_VILLAGE = "(未填村)"
WORKBOOK_OPTIONS = {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False}
DETAIL_ROW_LIMIT = 30_000

# The bands of a household's change in payout, in fen: (id, Chinese label, lower, upper), lower < change <= upper
# for decreases and lower <= change < upper for increases; "same" is exactly 0.
_INF = 10**18
BANDS: tuple[tuple[str, str, int, int], ...] = (
    ("less_over_10000", "减少1万元以上", -_INF, -1_000_000),
    ("less_5000_10000", "减少5000–1万元", -1_000_000, -500_000),
    ("less_1000_5000", "减少1000–5000元", -500_000, -100_000),
    ("less_under_1000", "减少1000元以内", -100_000, 0),
    ("same", "不变", 0, 0),
    ("more_under_1000", "增加1000元以内", 0, 100_000),
    ("more_1000_5000", "增加1000–5000元", 100_000, 500_000),
    ("more_5000_10000", "增加5000–1万元", 500_000, 1_000_000),
    ("more_over_10000", "增加1万元以上", 1_000_000, _INF),
)


def _band_expr(change: pl.Expr) -> pl.Expr:
    expr: Any = pl.lit("same")
    for key, _, lower, upper in BANDS:
        if key == "same":
            continue
        condition = ((change > lower) & (change <= upper)) if upper <= 0 else ((change >= lower) & (change < upper))
        expr = pl.when(condition).then(pl.lit(key)).otherwise(expr)
    return pl.when(change == 0).then(pl.lit("same")).otherwise(expr)


def _joined(stored: pl.DataFrame, replayed: pl.DataFrame, changed: pl.DataFrame,
            causes: tuple[str, ...]) -> pl.DataFrame:
    """One row per decision: before (``*_b``) and after (``*_a``), and whether the replay found it changed."""
    zero = pl.lit(0, pl.Int64)
    keys = ["run_id", "household_id"]
    before = stored.with_columns([zero.alias(c) for c in causes if c not in stored.columns]).select(
        *keys, pl.col("township").fill_null(UNKNOWN_PLACE), pl.col("village").fill_null(UNKNOWN_VILLAGE),
        pl.col("group").alias("group_b"), pl.col("outcome").alias("outcome_b"),
        pl.col("payout").alias("payout_b"), pl.col("fee").alias("fee_b"), *(pl.col(c).alias(f"{c}_b") for c in causes))
    after = replayed.with_columns([zero.alias(c) for c in causes if c not in replayed.columns]).select(
        *keys, pl.col("group").alias("group_a"), pl.col("outcome").alias("outcome_a"),
        pl.col("payout").alias("payout_a"), pl.col("fee").alias("fee_a"), *(pl.col(c).alias(f"{c}_a") for c in causes))
    joined = before.join(after, on=keys, how="inner")
    marked = changed.select(*keys).unique().with_columns(pl.lit(True).alias("changed"))
    return joined.join(marked, on=keys, how="left").with_columns(
        pl.col("changed").fill_null(False),
        (pl.col("payout_a") - pl.col("payout_b")).alias("payout_d"),
        (pl.col("fee_a") - pl.col("fee_b")).alias("fee_d"),
        ((pl.col("outcome_b") != "pay") & (pl.col("outcome_a") == "pay")).alias("entering"),
        ((pl.col("outcome_b") == "pay") & (pl.col("outcome_a") != "pay")).alias("leaving"),
    )


def _sums(causes: tuple[str, ...]) -> list[pl.Expr]:
    return [
        pl.len().alias("households"), pl.col("changed").sum().alias("households_changed"),
        pl.col("entering").sum().alias("entering"), pl.col("leaving").sum().alias("leaving"),
        (pl.col("outcome_b") == "pay").sum().alias("paid_before"),
        (pl.col("outcome_a") == "pay").sum().alias("paid_after"),
        *(pl.col(f"{item}_{side}").sum().alias(f"{item}_{name}") for item in ("payout", "fee", *causes)
          for side, name in (("b", "before"), ("a", "after"), ("d", "difference")) if side != "d" or item in
          ("payout", "fee")),
    ]


def _with_cause_differences(row: dict[str, Any], causes: tuple[str, ...]) -> dict[str, Any]:
    for cause in causes:
        row[f"{cause}_difference"] = row[f"{cause}_after"] - row[f"{cause}_before"]
    return {key: int(value) if isinstance(value, int | bool) and not isinstance(value, str) else value
            for key, value in row.items()}


def compute_impact(stored: pl.DataFrame, replayed: pl.DataFrame, diff: pl.DataFrame, causes: tuple[str, ...], *,
                   parameters: Mapping[str, tuple[str | None, str | None]], clauses: Mapping[str, str],
                   rule_clauses: Mapping[str, str], fund: list[dict[str, Any]],
                   header: dict[str, Any]) -> dict[str, Any]:
    """The impact report as one JSON-ready dict (money in integer fen; ``*_yuan`` text beside the totals).

    ``stored``/``replayed``/``diff`` carry a ``run_id`` column; ``parameters`` are those that differ between
    the packs (before, after as text), ``clauses`` the clause each parameter cites in the draft,
    ``rule_clauses`` the clause each rule cites; ``fund`` the fund lines (``services.simulate``)."""
    payout_rows = diff.filter(pl.col("cause") == "payout")
    joined = _joined(stored, replayed, payout_rows, causes)
    joined = joined.with_columns(_band_expr(pl.col("payout_d")).alias("band"))

    totals = _with_cause_differences(joined.select(_sums(causes)).row(0, named=True), causes)
    totals = {key: int(value or 0) for key, value in totals.items()}
    totals["households_unchanged"] = totals["households"] - totals["households_changed"]
    totals["paid_more"] = int((joined["payout_d"] > 0).sum())
    totals["paid_less"] = int((joined["payout_d"] < 0).sum())
    totals["paid_same"] = int((joined["payout_d"] == 0).sum())
    totals["moved_group_or_outcome"] = int(joined.filter(
        pl.col("group_b").ne_missing(pl.col("group_a")) | pl.col("outcome_b").ne_missing(pl.col("outcome_a"))).height)

    flows = (joined.group_by("group_b", "outcome_b", "group_a", "outcome_a")
             .agg(pl.len().alias("households"), pl.col("payout_b").sum().alias("payout_before"),
                  pl.col("payout_a").sum().alias("payout_after"), pl.col("payout_d").sum().alias("payout_difference"))
             .sort("households", "group_b", "outcome_b", "group_a", "outcome_a", descending=[True, False, False,
                                                                                             False, False],
                   nulls_last=True))
    flow_rows = [{"group_before": r["group_b"], "outcome_before": r["outcome_b"], "group_after": r["group_a"],
                  "outcome_after": r["outcome_a"], "households": int(r["households"]),
                  "payout_before": int(r["payout_before"]), "payout_after": int(r["payout_after"]),
                  "payout_difference": int(r["payout_difference"])} for r in flows.iter_rows(named=True)]

    townships = joined.group_by("township").agg(_sums(causes)).sort("township")
    villages = joined.group_by("township", "village").agg(_sums(causes)).sort("township", "village")
    village_rows: dict[str, list[dict[str, Any]]] = {}
    for row in villages.iter_rows(named=True):
        village_rows.setdefault(row["township"], []).append(_with_cause_differences(dict(row), causes))
    by_township = [{**_with_cause_differences(dict(row), causes), "villages": village_rows.get(row["township"], [])}
                   for row in townships.iter_rows(named=True)]

    band_sums = {key: (int(n), int(d)) for key, n, d in joined.group_by("band").agg(
        pl.len(), pl.col("payout_d").sum()).iter_rows()}
    bands = [{"band": key, "label": label, "households": band_sums.get(key, (0, 0))[0],
              "payout_difference": band_sums.get(key, (0, 0))[1]} for key, label, _, _ in BANDS]

    attribution = _attribution(diff, parameters, clauses, rule_clauses)
    return {
        **header,
        "causes": list(causes),
        "totals": totals,
        "totals_yuan": {key: fen_text(value) for key, value in totals.items()
                        if key.startswith(("payout_", "fee_", *(f"{c}_" for c in causes)))},
        "flows": flow_rows,
        "by_township": by_township,
        "bands": bands,
        "fund": fund,
        "attribution": attribution,
        "parameters_changed": {name: {"before": old, "after": new, "clause": clauses.get(name)}
                               for name, (old, new) in parameters.items()},
        "money_unit": "fen",
    }


def _attribution(diff: pl.DataFrame, parameters: Mapping[str, tuple[str | None, str | None]],
                 clauses: Mapping[str, str], rule_clauses: Mapping[str, str]) -> dict[str, Any]:
    payout = diff.filter(pl.col("cause") == "payout").select("run_id", "household_id", "parameters", "rules",
                                                             pl.col("difference").alias("payout_d"))
    fee = diff.filter(pl.col("cause") == "fee").select("run_id", "household_id", pl.col("difference").alias("fee_d"))
    rows = payout.join(fee, on=["run_id", "household_id"], how="left").with_columns(pl.col("fee_d").fill_null(0))
    by_parameter: dict[str, dict[str, int]] = {}
    by_rule: dict[str, dict[str, int]] = {}
    by_combination: dict[str, dict[str, int]] = {}

    def add(table: dict[str, dict[str, int]], key: str, change: int, fee_change: int) -> None:
        entry = table.setdefault(key, {"households": 0, "payout_difference": 0, "increase": 0, "decrease": 0,
                                       "fee_difference": 0})
        entry["households"] += 1
        entry["payout_difference"] += change
        entry["increase"] += max(change, 0)
        entry["decrease"] += min(change, 0)
        entry["fee_difference"] += fee_change

    for row in rows.iter_rows(named=True):
        names = [name for name in (row["parameters"] or "").split(", ") if name]
        rules = [name for name in (row["rules"] or "").split(", ") if name]
        change, fee_change = int(row["payout_d"]), int(row["fee_d"])
        for name in names:
            add(by_parameter, name, change, fee_change)
        for rule in rules:
            add(by_rule, rule, change, fee_change)
        add(by_combination, " + ".join(names), change, fee_change)
    return {
        "by_parameter": [{"parameter": name, "before": parameters.get(name, (None, None))[0],
                          "after": parameters.get(name, (None, None))[1], "clause": clauses.get(name), **entry}
                         for name, entry in sorted(by_parameter.items())],
        "by_rule": [{"rule": name, "clause": rule_clauses.get(name), **entry}
                    for name, entry in sorted(by_rule.items())],
        "by_combination": [{"parameters": key.split(" + ") if key else [], **entry}
                           for key, entry in sorted(by_combination.items())],
        "note": "by_combination counts each changed household once and adds up to the total payout difference; "
                "by_parameter and by_rule count a household under each parameter or rule that accounts for it",
    }


# --- writing ------------------------------------------------------------------------------------------------

def write_impact(out: Path, impact: dict[str, Any], diff: pl.DataFrame, cause_labels: Mapping[str, str]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "impact.json").write_text(json.dumps(impact, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    write_workbook(out / "impact.xlsx", impact, diff, cause_labels)


def _outcome(value: str | None) -> str:
    return OUTCOMES.get(value or "", value or "—")


def write_workbook(path: Path, impact: dict[str, Any], diff: pl.DataFrame, cause_labels: Mapping[str, str]) -> None:
    """impact.xlsx: the report's sections as Chinese sheets; money as numbers of yuan shown with 2 decimals."""
    causes = impact["causes"]
    groups: dict[str, str] = impact.get("group_labels", {})  # the packs' own labels (Pack.people_labels)

    def _group(value: str | None) -> str:
        return groups.get(value or "", value or "—")

    with xlsxwriter.Workbook(str(path), WORKBOOK_OPTIONS) as workbook:
        bold = workbook.add_format({"bold": True})
        money = workbook.add_format({"num_format": "#,##0.00"})

        def sheet(name: str, headers: list[str], rows: list[list[Any]], money_columns: set[int]) -> None:
            ws = workbook.add_worksheet(name)
            ws.write_row(0, 0, headers, bold)
            for r, row in enumerate(rows, start=1):
                for c, value in enumerate(row):
                    if c in money_columns and isinstance(value, int):
                        ws.write_number(r, c, value / 100, money)  # a number for the sheet; fen exact to 1e13
                    elif value is None:
                        ws.write_blank(r, c, None)
                    elif isinstance(value, int | float):
                        ws.write_number(r, c, value)
                    else:
                        ws.write_string(r, c, str(value))
            ws.set_column(0, max(len(headers) - 1, 0), 16)

        t = impact["totals"]
        summary = [
            ["范围", impact["scope"]],
            ["原规则包", f"{impact['pack_before']['id']} {impact['pack_before']['hash'][:12]}"],
            ["模拟规则包", f"{impact['pack_after']['id']} {impact['pack_after']['hash'][:12]}"
                          + ("(草案)" if impact["pack_after"].get("draft") else "")],
            ["户数", t["households"]], ["有变化户数", t["households_changed"]],
            ["无变化户数", t["households_unchanged"]],
            ["新纳入赔付户数", t["entering"]], ["退出赔付户数", t["leaving"]],
            ["类别或结果变化户数", t["moved_group_or_outcome"]],
            ["赔付增加户数", t["paid_more"]], ["赔付减少户数", t["paid_less"]], ["赔付不变户数", t["paid_same"]],
            ["赔付合计(原)", t["payout_before"]], ["赔付合计(模拟)", t["payout_after"]],
            ["赔付差额", t["payout_difference"]],
            ["保险服务费(原)", t["fee_before"]], ["保险服务费(模拟)", t["fee_after"]],
            ["服务费差额", t["fee_difference"]],
            *([f"{cause_labels.get(c, c)}赔付(原)", t[f"{c}_before"]] for c in causes),
            *([f"{cause_labels.get(c, c)}赔付(模拟)", t[f"{c}_after"]] for c in causes),
        ]
        money_rows = {i for i, (label, _) in enumerate(summary) if "赔付(" in label or "服务费(" in label
                      or "差额" in label or "赔付合计" in label}
        ws = workbook.add_worksheet("汇总")
        ws.write_row(0, 0, ["项目", "内容"], bold)
        for i, (label, value) in enumerate(summary, start=1):
            ws.write_string(i, 0, label)
            if i - 1 in money_rows and isinstance(value, int):
                ws.write_number(i, 1, value / 100, money)
            elif isinstance(value, int):
                ws.write_number(i, 1, value)
            else:
                ws.write_string(i, 1, str(value))
        ws.set_column(0, 1, 28)

        sheet("流向", ["原类别", "原结果", "模拟类别", "模拟结果", "户数", "原赔付", "模拟赔付", "差额"],
              [[_group(f["group_before"]), _outcome(f["outcome_before"]), _group(f["group_after"]),
                _outcome(f["outcome_after"]), f["households"], f["payout_before"], f["payout_after"],
                f["payout_difference"]] for f in impact["flows"]], {5, 6, 7})
        place_headers = ["户数", "有变化户数", "新纳入", "退出", "原赔付", "模拟赔付", "赔付差额", "原服务费",
                         "模拟服务费", *(f"{cause_labels.get(c, c)}差额" for c in causes)]

        def place(row: dict[str, Any]) -> list[Any]:
            return [row["households"], row["households_changed"], row["entering"], row["leaving"],
                    row["payout_before"], row["payout_after"], row["payout_difference"], row["fee_before"],
                    row["fee_after"], *(row[f"{c}_difference"] for c in causes)]

        money_at = set(range(4, 9 + len(causes)))
        sheet("乡镇", ["乡镇", *place_headers], [[r["township"], *place(r)] for r in impact["by_township"]],
              {c + 1 for c in money_at})
        sheet("村", ["乡镇", "村", *place_headers],
              [[r["township"], v["village"], *place(v)] for r in impact["by_township"] for v in r["villages"]],
              {c + 2 for c in money_at})
        sheet("变化分档", ["赔付变化", "户数", "差额合计"],
              [[b["label"], b["households"], b["payout_difference"]] for b in impact["bands"]], {2})
        sheet("基金", ["县(区)", "年度", "规则包", "上年结转", "财政投入", "可用资金", "赔付", "结余", "结转下年",
                     "财政兜底补足", "保险服务费(财政支付)"],
              [[f["county"], f["year"], "原规则包" if f["pack"] == "before" else "模拟规则包", f["opening_balance"],
                f["fiscal_input"], f["available"], f["payouts"], f["balance"], f["carry_over"], f["top_up"], f["fees"]]
               for f in impact["fund"]], set(range(3, 11)))
        attribution = impact["attribution"]
        sheet("参数归因", ["参数", "原值", "新值", "依据条款", "涉及户数", "赔付差额", "增加", "减少", "服务费差额"],
              [[a["parameter"], a["before"], a["after"], a["clause"], a["households"], a["payout_difference"],
                a["increase"], a["decrease"], a["fee_difference"]] for a in attribution["by_parameter"]], {5, 6, 7, 8})
        sheet("参数组合归因", ["参数组合", "户数", "赔付差额", "服务费差额"],
              [["、".join(a["parameters"]) or "(仅规则变化)", a["households"], a["payout_difference"],
                a["fee_difference"]] for a in attribution["by_combination"]], {2, 3})
        sheet("规则归因", ["规则", "依据条款", "涉及户数", "赔付差额"],
              [[a["rule"], a["clause"], a["households"], a["payout_difference"]] for a in attribution["by_rule"]], {3})
        detail = diff.head(DETAIL_ROW_LIMIT)
        sheet("差异明细", ["户编号", "乡镇", "村", "原结果", "模拟结果", "项目", "原", "模拟", "差额", "相关参数"],
              [[r["household_id"], r["township"], r["village"], _outcome(r["outcome_before"]),
                _outcome(r["outcome_after"]), cause_labels.get(r["cause"], {"payout": "赔付合计", "fee": "服务费"}.get(
                    r["cause"], r["cause"])), r["before"], r["after"], r["difference"], r["parameters"]]
               for r in detail.iter_rows(named=True)], {6, 7, 8})
        if diff.height > DETAIL_ROW_LIMIT:
            ws_detail = workbook.get_worksheet_by_name("差异明细")
            if ws_detail is not None:
                ws_detail.write_string(detail.height + 2, 0, f"只显示前 {DETAIL_ROW_LIMIT} 行(共 {diff.height} 行)")


def print_impact(impact: dict[str, Any], console: Console) -> None:
    t = impact["totals"]
    console.print(f"simulation of {impact['scope']} under {impact['pack_after']['id']} "
                  f"{impact['pack_after']['hash'][:12]}{' (draft)' if impact['pack_after'].get('draft') else ''} "
                  f"(decided under {impact['pack_before']['id']} {impact['pack_before']['hash'][:12]})")
    console.print(f"households {t['households']}: {t['households_changed']} changed, {t['households_unchanged']} "
                  f"unchanged; {t['entering']} enter payment, {t['leaving']} leave; paid more {t['paid_more']}, "
                  f"less {t['paid_less']}, same {t['paid_same']}", soft_wrap=True)
    money = Table(title="cost (yuan)")
    for column in ("", "before", "after", "difference"):
        money.add_column(column, justify="right")
    for key in ("payout", "fee", *impact["causes"]):
        money.add_row(key, fen_text(t[f"{key}_before"]), fen_text(t[f"{key}_after"]), fen_text(t[f"{key}_difference"]))
    console.print(money)
    towns = Table(title="by township")
    for column in ("township", "households", "changed", "enter", "leave", "payout before", "after", "difference"):
        towns.add_column(column, justify="right")
    for row in impact["by_township"]:
        towns.add_row(row["township"], str(row["households"]), str(row["households_changed"]), str(row["entering"]),
                      str(row["leaving"]), fen_text(row["payout_before"]), fen_text(row["payout_after"]),
                      fen_text(row["payout_difference"]))
    console.print(towns)
    for line in impact["fund"]:
        console.print(f"fund {line['county']} {line['year']} under the {line['pack']} pack: available "
                      f"{fen_text(line['available'])}, payouts {fen_text(line['payouts'])}, balance "
                      f"{fen_text(line['balance'])}, budget top-up {fen_text(line['top_up'])}", soft_wrap=True)
    attribution = Table(title="attribution: parameters of the draft that account for the change")
    for column in ("parameter", "before", "after", "households", "payout difference"):
        attribution.add_column(column)
    for row in impact["attribution"]["by_parameter"]:
        attribution.add_row(row["parameter"], row["before"] or "—", row["after"] or "—", str(row["households"]),
                            fen_text(row["payout_difference"]))
    console.print(attribution)
