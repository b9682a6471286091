"""The printed summary of a run (rich): Chinese first, amounts grouped, file names and run ids never cut."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from fangpin.reports.labels import DEPARTMENTS, OUTCOMES, REASONS
from fangpin.termout import Justify, print_lines, print_records, term, yuan


def print_summary(run: dict[str, Any], console: Console) -> None:
    print_lines(console, [f"{term('run')} {run['run_id']}"])
    columns: list[tuple[str, Justify]] = [(term("file"), "left"), (term("department"), "left")]
    columns += [(term(name), "right") for name in ("read", "used", "rejected", "skipped")]
    columns.append((term("reasons"), "left"))
    rows = []
    for item in run["inputs"]:
        reasons = ", ".join(f"{REASONS.get(k, k)}({k}) {v}" for k, v in sorted(item["by_reason"].items()))
        rows.append([item["file"], DEPARTMENTS.get(item.get("department") or "", "未识别 unrecognised"),
                     str(item["rows_read"]), str(item["used"]), str(item["rejected"]), str(item["skipped"]), reasons])
    counts = run["rows"]
    rows.append([term("all"), "", str(counts["read"]), str(counts["used"]), str(counts["rejected"]),
                 str(counts["skipped"]), ""])
    print_records(console, "文件统计 files (读取 = 使用 + 拒绝 + 跳过; read = used + rejected + skipped)", columns,
                  rows, styles=[""] * (len(rows) - 1) + ["bold"])
    totals = run["totals"]
    outcomes = [[f"{OUTCOMES.get(key, key)} {key}", str(count)] for key, count in totals["outcomes"].items()]
    outcomes.append([term("all"), str(totals["households"])])
    print_records(console, "核查结果 households", [(term("outcome"), "left"), (term("households"), "right")],
                  outcomes, styles=[""] * (len(outcomes) - 1) + ["bold"])
    causes = [(cause["id"], cause["label"]) for cause in run["pack"].get("causes", [])]
    money_columns: list[tuple[str, Justify]] = [(f"{label} {cause}", "right") for cause, label in causes]
    money_columns += [("赔付合计 payout", "right"), ("保险服务费 insurer fee", "right")]
    print_records(console, "本次赔付 paid by this run (元 yuan)", money_columns,
                  [[*(yuan(totals[cause]) for cause, _ in causes), yuan(totals["payout"]), yuan(totals["fee"])]],
                  keys=())
    if run.get("unrecognised"):
        console.print("[yellow]无法识别部门的文件(已忽略) files that look like no department's (ignored):[/yellow] "
                      + ", ".join(run["unrecognised"]))
    print_lines(console, [f"规则包 pack {run['pack']['id']} {run['pack']['version']} sha256:{run['pack']['hash']}"])
