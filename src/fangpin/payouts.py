"""Tiered payouts, exact to the fen: excess → each tier's slice at its rate → cap → round half-up once."""

from __future__ import annotations

from decimal import Decimal

from fangpin.decisions import Citation, TierSlice
from fangpin.money import ZERO, round_fen
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


__all__ = ["Citation", "capped_amount", "fee_on", "increment", "tier_slices"]
