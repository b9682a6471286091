"""Human-readable accounts of decisions for the terminal (rich)."""

from __future__ import annotations

from collections.abc import Mapping

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from fangpin.decisions import Citation, Decision
from fangpin.money import format_exact, format_yuan

OUTCOME_LABELS = {
    "not_covered": "不在救助范围 not covered",
    "refer_dibao": "纳入低保兜底 referred to dibao",
    "below_deductible": "未超起付线 below deductible",
    "already_paid": "本年已赔付 already paid",
    "pay": "赔付 pay",
}


def cite(citation: Citation) -> str:
    basis = "" if citation.basis == "source" else f" [{citation.basis}]"
    quote = f" “{citation.quote}”" if citation.quote else ""
    return f"{citation.clause}{quote}{basis}"


def render_decision(decision: Decision, console: Console, cause_labels: Mapping[str, str]) -> None:
    """The decision as tables; ``cause_labels`` are the deciding pack's (``Pack.people_labels.causes``)."""
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column()
    head.add_row("household", decision.household_id)
    place = " ".join(part for part in (decision.county, decision.township, decision.village) if part)
    head.add_row("county", place)
    head.add_row("year", str(decision.year))
    head.add_row("per-capita income", format_yuan(decision.per_capita_income))
    head.add_row("group", (decision.group_label and f"{decision.group_label} ({decision.group})") or "—")
    head.add_row("outcome", Text(OUTCOME_LABELS[decision.outcome], style="bold green" if decision.outcome == "pay"
                                 else "bold"))
    causes = Table(title="causes 救助原因", show_lines=True, pad_edge=False)
    causes.add_column("cause", min_width=4, no_wrap=True)
    for column in ("base", "deductible", "excess"):
        causes.add_column(column, justify="right", min_width=9)
    causes.add_column("tiers: slice × rate", overflow="fold")
    for column in ("owed", "paid now"):
        causes.add_column(column, justify="right", min_width=9)
    for result in decision.causes:
        tiers = [f"{format_yuan(t.slice)}×{t.rate}={format_exact(t.amount)}" for t in result.tiers]
        if result.capped and result.cap is not None:
            tiers.append(f"capped at {format_yuan(result.cap)}")
        if result.paid_before:
            tiers.append(f"paid before {format_yuan(result.paid_before)}")
        causes.add_row(
            f"{cause_labels.get(result.cause, result.cause)} {result.cause}",
            format_yuan(result.base),
            "—" if result.deductible is None else format_yuan(result.deductible),
            format_yuan(result.excess),
            "\n".join(tiers) or "—",
            format_yuan(result.owed),
            format_yuan(result.increment),
        )
    totals = Table.grid(padding=(0, 2))
    totals.add_column(style="bold")
    totals.add_column(justify="right")
    totals.add_row("payout 赔付", format_yuan(decision.payout))
    totals.add_row("insurer fee 服务费", format_yuan(decision.fee))
    rules = Table(title="rules that fired 触发规则", pad_edge=False)
    rules.add_column("rule", no_wrap=True)
    rules.add_column("what it says, and the clause it cites")
    for rule in decision.rules:
        rules.add_row(rule.id, f"{rule.description}\n[dim]{cite(rule.cites)}[/dim]")
    parts: list[object] = [head, causes, totals, rules]
    if decision.notes:
        parts.append(Text("\n".join(f"note: {note}" for note in decision.notes), style="yellow"))
    parts.append(Text(f"pack {decision.pack.id} {decision.pack.version} sha256:{decision.pack.hash}", style="dim"))
    console.rule("fangpin decision 防贫核查结果")
    console.print(Group(*parts))  # type: ignore[arg-type]
