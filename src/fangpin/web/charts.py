"""The console's charts, drawn from the figures the services count (``services.runs``, ``services.fund``). Sums
are integer fen from the database; yuan for the chart are computed from them at the very end (a chart draws
numbers, it does not add them up)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from fangpin.claims import LOCAL
from fangpin.money import to_fen
from fangpin.packs import Pack
from fangpin.services import fund as fund_service
from fangpin.services import runs
from fangpin.web.labels import OUTCOMES

UNKNOWN_PLACE = "(未填乡镇)"


def chart_yuan(fen: int) -> float:
    """For drawing only: the exact amounts are shown as text beside every chart."""
    return float(Decimal(fen) / 100)


def run_totals_by_township(session: Session, run_id: str) -> list[dict[str, Any]]:
    """Per township: households paid, each cause's payout, the payout and the fee (fen)."""
    return [{**row, "township": row["township"] or UNKNOWN_PLACE} for row in runs.totals_by_township(session, run_id)]


def payouts_chart(session: Session, run_id: str) -> dict[str, Any]:
    """Stacked bars: per township, the payout of each cause of the run's pack."""
    rows = run_totals_by_township(session, run_id)
    causes = runs.run_causes(session, run_id)
    return {
        "townships": [row["township"] for row in rows],
        "series": [{"cause": cause, "name": label, "data": [chart_yuan(row.get(cause, 0)) for row in rows]}
                   for cause, label in causes],
        "households": [row["households"] for row in rows],
    }


def outcomes_chart(session: Session, run_id: str) -> dict[str, Any]:
    counts = runs.outcome_counts(session, run_id)
    order = [key for key in OUTCOMES if key in counts] + sorted(set(counts) - set(OUTCOMES))
    return {"items": [{"outcome": key, "name": OUTCOMES.get(key, key), "value": counts[key]} for key in order]}


def income_ceiling(pack: Pack) -> int:
    """The per-capita income ceiling of the pack, in fen: its ``income_ceiling`` parameter, else the
    highest per-capita income threshold its conditions compare with."""
    if "income_ceiling" in pack.money:
        return to_fen(pack.amount("income_ceiling"))
    thresholds = pack.thresholds.get("per_capita_income") or ()
    return max(thresholds) if thresholds else 0


def income_chart(session: Session, run_id: str, ceiling: int, bins_below: int = 24) -> dict[str, Any]:
    """A histogram of per-capita income from 0 to twice the ceiling, whose bins meet exactly at the
    ceiling, and the households above that range in a last bin. Counted in the database."""
    width = max(ceiling // bins_below, 100) if ceiling > 0 else 20_000
    top = 2 * bins_below
    counts = [0] * (top + 1)
    for index, count in runs.income_counts(session, run_id, width).items():
        counts[min(max(index, 0), top)] += count
    bins = [{"lower": chart_yuan(i * width), "upper": chart_yuan((i + 1) * width) if i < top else None,
             "count": counts[i], "covered": (i + 1) * width <= ceiling} for i in range(top + 1)]
    below = sum(count for i, count in enumerate(counts) if (i + 1) * width <= ceiling)
    return {"ceiling": chart_yuan(ceiling), "width": chart_yuan(width), "bins": bins,
            "below": below, "at_or_above": sum(counts) - below}


def fund_chart(session: Session, county: str, year: int) -> dict[str, Any]:
    """The fund month by month through the policy year: fiscal input and payouts (claims the insurer
    paid, by the day paid) in each month, and the balance at each month's end from the year's opening
    balance (docs/policy.md section 7). Money recorded before January or after December of the policy year is shown
    in a bucket before or after the twelve months, never moved into one of them."""
    line = fund_service.fund_line(session, county, year)
    before, after = f"{year}年前", f"{year}年后"
    months = [f"{year}-{month:02d}" for month in range(1, 13)]

    def bucket(day: dt.date) -> str:
        return before if day.year < year else after if day.year > year else f"{year}-{day.month:02d}"

    flows_in, flows_out = fund_service.monthly_flows(session, county, year)
    inputs: dict[str, int] = {}
    for at, amount in flows_in:
        key = bucket(at.astimezone(LOCAL).date())
        inputs[key] = inputs.get(key, 0) + amount
    payouts: dict[str, int] = {}
    for day, amount in flows_out:
        key = bucket(day)
        payouts[key] = payouts.get(key, 0) + amount
    labels = ([before] if before in inputs or before in payouts else []) + months
    labels += [after] if after in inputs or after in payouts else []
    balance, balances = line.opening_balance, []
    for key in labels:
        balance += inputs.get(key, 0) - payouts.get(key, 0)
        balances.append(balance)
    return {
        "county": county, "year": year, "opening_balance": chart_yuan(line.opening_balance),
        "months": labels,
        "input": [chart_yuan(inputs.get(key, 0)) for key in labels],
        "payouts": [chart_yuan(payouts.get(key, 0)) for key in labels],
        "balance": [chart_yuan(value) for value in balances],
        "line": line.to_json_dict(),
    }


def fen_of(amount: str) -> int:
    return to_fen(Decimal(amount))
