"""The column-wise payout arithmetic of bulk screening equals the scalar arithmetic of single checks."""

from __future__ import annotations

from decimal import Decimal

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from fangpin.money import from_fen, to_fen
from fangpin.packs import Pack
from fangpin.packs.schema import ScheduleParameter
from fangpin.payouts import capped_amount, fee_fen_expr, fee_on, owed_fen_expr, tier_slices

SCHEDULES = ["illness_tiers", "schooling_tiers", "disaster_tiers"]
CAPS = {"illness_tiers": "illness_cap", "schooling_tiers": "schooling_cap", "disaster_tiers": "disaster_cap"}


def _scalar_owed(excess_fen: int, schedule: ScheduleParameter, cap: Decimal) -> int:
    if excess_fen <= 0:
        return 0
    uncapped = sum((piece.amount for piece in tier_slices(from_fen(excess_fen), schedule)), Decimal(0))
    return to_fen(capped_amount(uncapped, cap)[0])


@settings(max_examples=60, deadline=None)
@given(
    name=st.sampled_from(SCHEDULES),
    excesses=st.lists(st.one_of(st.integers(-10_000, 30_000_000), st.sampled_from([0, 1, 2_000_000, 5_000_000])),
                      min_size=1, max_size=200),
)
def test_column_payouts_equal_scalar_payouts_to_the_fen(pack: Pack, name: str, excesses: list[int]) -> None:
    schedule, cap = pack.schedule(name), pack.amount(CAPS[name])

    column = pl.DataFrame({"excess": excesses}).select(owed_fen_expr(pl.col("excess"), schedule, cap))

    assert column.to_series().to_list() == [_scalar_owed(e, schedule, cap) for e in excesses]


@settings(max_examples=60, deadline=None)
@given(payouts=st.lists(st.integers(0, 50_000_000), min_size=1, max_size=200),
       rate=st.sampled_from(["0.15", "0.1", "0.125", "0.333", "1", "0"]))
def test_column_fee_equals_scalar_fee(payouts: list[int], rate: str) -> None:
    column = pl.DataFrame({"p": payouts}).select(fee_fen_expr(pl.col("p"), Decimal(rate)))

    assert column.to_series().to_list() == [to_fen(fee_on(from_fen(p), Decimal(rate))) for p in payouts]
