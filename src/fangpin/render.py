"""Human-readable accounts of decisions for the terminal (rich)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from fangpin.decisions import Citation, Decision
from fangpin.labels import BASIS
from fangpin.money import format_exact
from fangpin.termout import term, yuan

OUTCOME_LABELS = {
    "not_covered": "不在救助范围 not covered",
    "refer_dibao": "纳入低保兜底 referred to dibao",
    "below_deductible": "未超起付线 below deductible",
    "already_paid": "本年已赔付 already paid",
    "pay": "赔付 pay",
}


def cite(citation: Citation) -> str:
    basis = "" if citation.basis == "source" else f" [{BASIS.get(citation.basis, citation.basis)} {citation.basis}]"
    quote = f" “{citation.quote}”" if citation.quote else ""
    return f"{citation.clause}{quote}{basis}"


def render_decision(decision: Decision, console: Console, cause_labels: Mapping[str, str],
                    rule_labels: Mapping[str, str] | None = None) -> None:
    """The decision as tables; ``cause_labels`` and ``rule_labels`` are the deciding pack's
    (``Pack.people_labels``): a rule that fired is named in the pack's Chinese with its id beside it, never by
    its ``description`` (which is for engineers).

    Amounts are grouped (26,150.00); the tier arithmetic stands on lines of its own under the causes, one tier
    a line, so no terminal width breaks it inside a number."""
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold", no_wrap=True)
    head.add_column()
    head.add_row(term("household"), decision.household_id)
    place = " ".join(part for part in (decision.county, decision.township, decision.village) if part)
    head.add_row(term("county"), place)
    head.add_row(term("year"), str(decision.year))
    head.add_row("人均可支配收入 per-capita income", yuan(decision.per_capita_income))
    head.add_row("类别 group", (decision.group_label and f"{decision.group_label} ({decision.group})") or "—")
    head.add_row(term("outcome"), Text(OUTCOME_LABELS[decision.outcome],
                                       style="bold green" if decision.outcome == "pay" else "bold"))
    causes = Table(title="救助原因 causes (元 yuan)", show_lines=True, pad_edge=False)
    causes.add_column("原因 cause", min_width=max([4, *(len(c.cause) for c in decision.causes)]))
    widest = max([9, *(len(yuan(amount)) for c in decision.causes for amount in (c.base, c.owed, c.excess))])
    for column in ("base", "deductible", "excess", "owed", "paid now"):
        causes.add_column(term(column), justify="right", min_width=widest)  # an amount is never folded
    tiers = Table.grid(padding=(0, 2))
    tiers.add_column(no_wrap=True)
    tiers.add_column(no_wrap=True)
    for result in decision.causes:
        label = f"{cause_labels.get(result.cause, result.cause)} {result.cause}"
        steps = [f"{yuan(t.slice)} × {t.rate} = {_exact(t.amount)}" for t in result.tiers]
        if result.capped and result.cap is not None:
            steps.append(f"封顶 capped at {yuan(result.cap)}")
        if result.paid_before:
            steps.append(f"已赔付 paid before {yuan(result.paid_before)}")
        for index, step in enumerate(steps):
            tiers.add_row(label if index == 0 else "", step)
        causes.add_row(
            label,
            yuan(result.base),
            "—" if result.deductible is None else yuan(result.deductible),
            yuan(result.excess),
            yuan(result.owed),
            yuan(result.increment),
        )
    totals = Table.grid(padding=(0, 2))
    totals.add_column(style="bold")
    totals.add_column(justify="right", no_wrap=True)
    totals.add_row(term("payout"), yuan(decision.payout))
    totals.add_row("保险服务费 insurer fee", yuan(decision.fee))
    rules = Table(title="触发规则 rules that fired", pad_edge=False)
    rules.add_column(term("rule"))
    rules.add_column("依据条款 cites")
    for rule in decision.rules:
        named = (rule_labels or {}).get(rule.id)
        rules.add_row(f"{named}\n[dim]{rule.id}[/dim]" if named else rule.id, cite(rule.cites))
    parts: list[object] = [head, causes]
    if tiers.row_count:
        parts += [Text("阶梯计算 tiers: slice × rate = amount", style="bold"), tiers]
    parts += [totals, rules]
    if decision.notes:
        parts.append(Text("\n".join(f"说明 note: {note}" for note in decision.notes), style="yellow"))
    console.rule("防贫核查结果 fangpin decision")
    console.print(Group(*parts))  # type: ignore[arg-type]
    console.print(Text(f"规则包 pack {decision.pack.id} {decision.pack.version} sha256:{decision.pack.hash}",
                       style="dim"), soft_wrap=True)


def _exact(value: Decimal) -> str:
    """An intermediate amount grouped, with every digit it has beyond the fen (3,672.835)."""
    text = format_exact(value)
    whole, _, decimals = text.partition(".")
    return f"{yuan(Decimal(whole + '.00'))[:-3]}.{decimals}" if decimals else yuan(value)
