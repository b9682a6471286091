"""Properties of the payout under the shipped pack, checked on generated households."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from fangpin.deciding import decide
from fangpin.facts import Household
from fangpin.packs import Pack
from tests.support import fen_amounts, household, households, illness, oracle

CAPS = {"illness": Decimal(100000), "schooling": Decimal(30000), "disaster": Decimal(50000)}


@settings(max_examples=400, deadline=None)
@given(households())
def test_engine_decisions_agree_with_the_hand_written_oracle_of_spec(pack: Pack, h: Household) -> None:
    decision = decide(h, pack)
    expected = oracle(h)

    assert decision.outcome == expected["outcome"]
    assert decision.group == expected["group"]
    for result in decision.causes:
        assert result.owed == expected["owed"][result.cause]
        assert result.increment == expected["paid"][result.cause]
    assert decision.payout == expected["payout"]
    assert decision.fee == expected["fee"]


@settings(max_examples=200, deadline=None)
@given(households())
def test_no_cause_is_ever_owed_more_than_its_cap(pack: Pack, h: Household) -> None:
    decision = decide(h, pack)

    for result in decision.causes:
        assert result.owed <= CAPS[result.cause]
        assert result.increment <= result.owed


@settings(max_examples=200, deadline=None)
@given(households())
def test_fee_is_always_fifteen_percent_of_the_payout_rounded_half_up(pack: Pack, h: Household) -> None:
    decision = decide(h, pack)

    assert decision.fee == (decision.payout * Decimal("0.15")).quantize(Decimal("0.01"), ROUND_HALF_UP)
    assert decision.payout == sum(result.increment for result in decision.causes)


@settings(max_examples=200, deadline=None)
@given(
    status=st.sampled_from(["exited", "never_registered"]),
    cause=st.sampled_from(["illness", "schooling", "disaster"]),
    a=fen_amounts(400_000),
    b=fen_amounts(400_000),
)
def test_payout_is_monotone_in_each_burden(pack: Pack, status: str, cause: str, a: str, b: str) -> None:
    low, high = sorted((Decimal(a), Decimal(b)))

    def owed(amount: Decimal) -> Decimal:
        doc = {
            "illness": {"illness": [{"id": "S", "date": "2019-05-01", "burden": f"{amount}"}]},
            "schooling": {"schooling": [{"id": "E", "date": "2019-09-01", "stage": "本科", "full_time": True,
                                         "tuition": f"{amount}"}]},
            "disaster": {"disaster": [{"id": "D", "date": "2019-06-01", "kind": "natural", "loss": f"{amount}"}]},
        }[cause]
        return decide(household(status=status, **doc), pack).payout

    assert owed(low) <= owed(high)


@settings(max_examples=150, deadline=None)
@given(
    status=st.sampled_from(["exited", "never_registered"]),
    burdens=st.lists(fen_amounts(120_000), min_size=1, max_size=6),
)
def test_paying_in_instalments_sums_to_the_one_shot_payout(pack: Pack, status: str, burdens: list[str]) -> None:
    paid = Decimal("0.00")
    for k in range(1, len(burdens) + 1):
        decision = decide(
            household(status=status, illness=illness(*burdens[:k]), paid_this_year={"illness": f"{paid}"}), pack
        )
        paid += decision.payout
    one_shot = decide(household(status=status, illness=illness(*burdens)), pack)

    assert paid == one_shot.payout
