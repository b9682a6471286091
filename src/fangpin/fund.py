"""The fund of one county, year by year (docs/policy.md section 7, 基金式管理). Pure arithmetic in integer fen.

    opening balance (last year's carry-over) + fiscal input = available
    available − payouts = balance; a positive balance carries over, a shortfall is topped up by the budget
    the insurer's fee (section 4) is paid by the fiscal budget: shown, never drawn from the fund

The first year with any input or payout opens with nothing; a year with neither carries its opening over.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class YearFlows:
    """What happened in one year: money in, money paid, fees, households paid (all fen but the count)."""

    fiscal_input: int = 0
    payouts: int = 0
    fees: int = 0
    households_paid: int = 0
    claims_paid: int = 0


@dataclass(frozen=True)
class FundLine:
    county: str
    year: int
    opening_balance: int
    fiscal_input: int
    available: int
    payouts: int
    households_paid: int
    claims_paid: int
    fees: int
    carry_over: int
    top_up: int

    def to_json_dict(self) -> dict[str, Any]:
        money = ("opening_balance", "fiscal_input", "available", "payouts", "fees", "carry_over", "top_up")
        return {
            "county": self.county,
            "year": self.year,
            **{name: yuan(getattr(self, name)) for name in money},
            "households_paid": self.households_paid,
            "claims_paid": self.claims_paid,
            "fees_paid_by": "fiscal budget",
        }


def fund_lines(county: str, flows: dict[int, YearFlows], until: int) -> list[FundLine]:
    """Every year's line from the first year with any flow up to ``until``, each opening with the year
    before's carry-over."""
    first = min([year for year in flows if year <= until], default=until)
    lines: list[FundLine] = []
    opening = 0
    for year in range(first, until + 1):
        flow = flows.get(year, YearFlows())
        available = opening + flow.fiscal_input
        balance = available - flow.payouts
        line = FundLine(
            county=county, year=year, opening_balance=opening, fiscal_input=flow.fiscal_input, available=available,
            payouts=flow.payouts, households_paid=flow.households_paid, claims_paid=flow.claims_paid,
            fees=flow.fees, carry_over=max(balance, 0), top_up=max(-balance, 0),
        )
        lines.append(line)
        opening = line.carry_over
    return lines


def yuan(fen: int) -> str:
    """Integer fen as yuan with exactly two decimals."""
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"
