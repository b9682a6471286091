"""The figures behind the console's charts, from the stored decisions, claims and fund inputs. Sums are
integer fen from the database; yuan for the chart are computed from them at the very end (a chart draws
numbers, it does not add them up)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fangpin.claims import LOCAL
from fangpin.db.claims_models import Claim, ClaimEvent, FundInput
from fangpin.db.models import DecisionRecord
from fangpin.facts import CAUSES
from fangpin.money import to_fen
from fangpin.packs import Pack
from fangpin.services import fund as fund_service
from fangpin.web.labels import CAUSES as CAUSE_LABELS
from fangpin.web.labels import OUTCOMES

UNKNOWN_PLACE = "(未填乡镇)"


def chart_yuan(fen: int) -> float:
    """For drawing only: the exact amounts are shown as text beside every chart."""
    return float(Decimal(fen) / 100)


def run_totals_by_township(session: Session, run_id: str) -> list[dict[str, Any]]:
    """Per township: households paid, each cause's payout, the payout and the fee (fen)."""
    rows = session.execute(
        select(DecisionRecord.township, func.count(), *(func.sum(getattr(DecisionRecord, c)) for c in CAUSES),
               func.sum(DecisionRecord.payout), func.sum(DecisionRecord.fee))
        .where(DecisionRecord.run_id == run_id, DecisionRecord.payout > 0)
        .group_by(DecisionRecord.township).order_by(DecisionRecord.township)
    ).all()
    result = []
    for township, households, *sums in rows:
        amounts = [int(value or 0) for value in sums]
        row: dict[str, Any] = {"township": township or UNKNOWN_PLACE, "households": int(households)}
        row.update(zip(CAUSES, amounts[:3], strict=True))
        row.update(payout=amounts[3], fee=amounts[4])
        result.append(row)
    return result


def payouts_chart(session: Session, run_id: str) -> dict[str, Any]:
    """Stacked bars: per township, the payout of each cause."""
    rows = run_totals_by_township(session, run_id)
    return {
        "townships": [row["township"] for row in rows],
        "series": [{"cause": cause, "name": CAUSE_LABELS[cause], "data": [chart_yuan(row[cause]) for row in rows]}
                   for cause in CAUSES],
        "households": [row["households"] for row in rows],
    }


def outcomes_chart(session: Session, run_id: str) -> dict[str, Any]:
    rows = session.execute(
        select(DecisionRecord.outcome, func.count()).where(DecisionRecord.run_id == run_id)
        .group_by(DecisionRecord.outcome)
    ).all()
    counts = {str(outcome): int(count) for outcome, count in rows}
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
    bucket = DecisionRecord.per_capita_income // width
    rows = session.execute(
        select(bucket, func.count()).where(DecisionRecord.run_id == run_id).group_by(bucket)
    ).all()
    counts = [0] * (top + 1)
    for index, count in rows:
        counts[min(max(int(index or 0), 0), top)] += int(count)
    bins = [{"lower": chart_yuan(i * width), "upper": chart_yuan((i + 1) * width) if i < top else None,
             "count": counts[i], "covered": (i + 1) * width <= ceiling} for i in range(top + 1)]
    below = sum(count for i, count in enumerate(counts) if (i + 1) * width <= ceiling)
    return {"ceiling": chart_yuan(ceiling), "width": chart_yuan(width), "bins": bins,
            "below": below, "at_or_above": sum(counts) - below}


def fund_chart(session: Session, county: str, year: int) -> dict[str, Any]:
    """The fund month by month through the policy year: fiscal input and payouts (claims the insurer
    paid, by the day paid) in each month, and the balance at each month's end from the year's opening
    balance (SPEC section 7). Money recorded before January or after December of the policy year is shown
    in a bucket before or after the twelve months, never moved into one of them."""
    line = fund_service.fund_line(session, county, year)
    before, after = f"{year}年前", f"{year}年后"
    months = [f"{year}-{month:02d}" for month in range(1, 13)]

    def bucket(day: dt.date) -> str:
        return before if day.year < year else after if day.year > year else f"{year}-{day.month:02d}"

    inputs: dict[str, int] = {}
    for at, amount in session.execute(
        select(FundInput.at, FundInput.amount).where(FundInput.county == county, FundInput.year == year)
    ):
        key = bucket(_aware(at).astimezone(LOCAL).date())
        inputs[key] = inputs.get(key, 0) + int(amount)
    payouts: dict[str, int] = {}
    for claim_amount, payload in session.execute(
        select(Claim.amount_paid, ClaimEvent.payload).join(Claim, Claim.id == ClaimEvent.claim_id)
        .where(Claim.county == county, Claim.year == year, Claim.state == "paid", ClaimEvent.step == "paid")
    ):
        key = bucket(dt.date.fromisoformat(str(payload.get("paid_on"))))
        payouts[key] = payouts.get(key, 0) + int(claim_amount or 0)
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


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def fen_of(amount: str) -> int:
    return to_fen(Decimal(amount))
