"""Tiered payouts, exact to the fen: excess → each tier's slice at its rate → cap → round half-up once."""

from __future__ import annotations

from decimal import Decimal

import polars as pl

from fangpin.decisions import TierSlice
from fangpin.money import ZERO, round_fen, to_fen
from fangpin.packs.schema import ScheduleParameter


def tier_slices(excess: Decimal, schedule: ScheduleParameter) -> tuple[TierSlice, ...]:
    """The slices of the excess that fall in each tier, each with its exact (unrounded) amount."""
    slices: list[TierSlice] = []
    lower = ZERO
    for tier in schedule.tiers:
        if excess <= lower:
            break
        top = excess if tier.up_to is None else min(excess, tier.up_to)
        part = top - lower
        slices.append(
            TierSlice(lower=lower, upper=tier.up_to, rate=tier.rate, slice=part, amount=part * tier.rate,
                      cites=schedule.source)
        )
        if tier.up_to is None:
            break
        lower = tier.up_to
    return tuple(slices)


def capped_amount(uncapped: Decimal, cap: Decimal) -> tuple[Decimal, bool]:
    """What the cause owes for the year: the tiered sum, capped, then rounded half-up to fen."""
    return round_fen(min(uncapped, cap)), uncapped > cap


def fee_on(payout: Decimal, rate: Decimal) -> Decimal:
    """The insurer's fee: the rate on the decision's whole payout, rounded half-up to fen once."""
    return round_fen(payout * rate)


def increment(owed: Decimal, paid_before: Decimal) -> Decimal:
    """What this decision pays: the year's amount owed less what was already paid, never below zero."""
    return max(ZERO, owed - paid_before)




# --- the same arithmetic on whole columns of integer fen, for bulk screening ---------------------------
# Rates with d decimals are scaled by 10**d so every product is an exact integer; one half-up rounding
# to the fen at the end, as the scalar functions above do. A property test holds the two to agreement.


def _scale(rates: list[Decimal]) -> int:
    """10 to the number of decimals of the finest rate, so every rate times the scale is a whole number."""
    places = 0
    for rate in rates:
        exponent = rate.normalize().as_tuple().exponent
        assert isinstance(exponent, int), f"rate {rate} is not finite"
        places = max(places, -exponent)
    scale: int = 10**places
    return scale


def owed_fen_expr(excess_fen: pl.Expr, schedule: ScheduleParameter, cap: Decimal) -> pl.Expr:
    """What a cause owes for the year, in fen, from its excess in fen (≤ 0 owes nothing)."""
    scale = _scale([tier.rate for tier in schedule.tiers])
    total = pl.lit(0, dtype=pl.Int64)
    lower = 0
    for tier in schedule.tiers:
        top = excess_fen if tier.up_to is None else pl.min_horizontal(excess_fen, pl.lit(to_fen(tier.up_to)))
        part = (top - lower).clip(lower_bound=0)
        total = total + part * int(tier.rate * scale)
        if tier.up_to is None:
            break
        lower = to_fen(tier.up_to)
    capped = pl.min_horizontal(total, pl.lit(to_fen(cap) * scale))
    return (capped + scale // 2) // scale


def fee_fen_expr(payout_fen: pl.Expr, rate: Decimal) -> pl.Expr:
    scale = _scale([rate])
    return (payout_fen * int(rate * scale) + scale // 2) // scale
