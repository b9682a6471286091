"""The printed summary of a run (rich)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from fangpin.reports.labels import DEPARTMENTS, OUTCOMES, REASONS


def print_summary(run: dict[str, Any], console: Console) -> None:
    files = Table(title=f"run {run['run_id']} — files 文件统计 (read = used + rejected + skipped)")
    for column, justify in (("file", "left"), ("department", "left"), ("read", "right"), ("used", "right"),
                            ("rejected", "right"), ("skipped", "right"), ("reasons", "left")):
        files.add_column(column, justify=justify)  # type: ignore[arg-type]
    for item in run["inputs"]:
        reasons = ", ".join(f"{REASONS.get(k, k)}({k}) {v}" for k, v in sorted(item["by_reason"].items()))
        files.add_row(item["file"], DEPARTMENTS.get(item.get("department") or "", "unrecognised 未识别"),
                      str(item["rows_read"]), str(item["used"]), str(item["rejected"]), str(item["skipped"]), reasons)
    rows = run["rows"]
    files.add_row("all", "", str(rows["read"]), str(rows["used"]), str(rows["rejected"]), str(rows["skipped"]), "",
                  style="bold")
    console.print(files)
    totals = run["totals"]
    outcome = Table(title="households 核查结果")
    outcome.add_column("outcome")
    outcome.add_column("households", justify="right")
    for key, count in totals["outcomes"].items():
        outcome.add_row(f"{OUTCOMES.get(key, key)} {key}", str(count))
    outcome.add_row("all", str(totals["households"]), style="bold")
    console.print(outcome)
    money = Table(title="paid by this run 本次赔付 (yuan)")
    causes = [(cause["id"], cause["label"]) for cause in run["pack"].get("causes", [])]
    for column in (*(f"{cause} {label}" for cause, label in causes), "payout 合计", "insurer fee 服务费"):
        money.add_column(column, justify="right")
    money.add_row(*(totals[cause] for cause, _ in causes), totals["payout"], totals["fee"])
    console.print(money)
    if run.get("unrecognised"):
        console.print("[yellow]files that look like no department's (ignored):[/yellow] "
                      + ", ".join(run["unrecognised"]))
    for warning in run.get("warnings", []):
        console.print(f"[yellow]warning:[/yellow] {warning}", highlight=False, soft_wrap=True)
    console.print(f"pack {run['pack']['id']} {run['pack']['version']} sha256:{run['pack']['hash']}")
