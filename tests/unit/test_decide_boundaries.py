"""Edges of SPEC sections 1-3: the ceiling, every deductible, every tier edge, the caps."""

from __future__ import annotations

import pytest

from fangpin.deciding import decide
from fangpin.packs import Pack
from tests.support import disaster, household, illness, schooling


def test_household_at_exactly_4800_per_capita_is_not_covered(pack: Pack) -> None:
    decision = decide(household(income_per_capita="4800.00", illness=illness("90000")), pack)

    assert decision.outcome == "not_covered"
    assert decision.group is None
    assert decision.payout == 0


def test_household_at_4799_99_per_capita_is_covered(pack: Pack) -> None:
    decision = decide(household(income_per_capita="4799.99", illness=illness("20000.01")), pack)

    assert decision.group == "edge"
    assert decision.outcome == "pay"


def test_per_capita_income_is_rounded_half_up_before_the_ceiling_test(pack: Pack) -> None:
    # 14399.99 / 3 = 4799.99666… → 4800.00, not covered; 14399.98 / 3 = 4799.9933… → 4799.99, covered
    above = decide(household(income="14399.99", members=3, income_per_capita=None), pack)
    below = decide(household(income="14399.98", members=3, income_per_capita=None), pack)

    assert (above.per_capita_income, above.outcome) == (4800, "not_covered")
    assert str(below.per_capita_income) == "4799.99"
    assert below.group == "edge"


def test_household_income_wins_over_the_per_capita_figure_when_both_are_given(pack: Pack) -> None:
    decision = decide(household(income="20000.00", members=4, income_per_capita="1.00"), pack)

    assert str(decision.per_capita_income) == "5000.00"


@pytest.mark.parametrize(
    ("status", "deductible"), [("exited", "5000.00"), ("never_registered", "20000.00")]
)
def test_illness_burden_exactly_at_the_deductible_pays_nothing_and_one_fen_above_pays(
    pack: Pack, status: str, deductible: str
) -> None:
    at = decide(household(status=status, illness=illness(deductible)), pack)
    above = decide(household(status=status, illness=illness(f"{float(deductible) + 0.01:.2f}")), pack)

    assert at.outcome == "below_deductible"
    assert at.cause("illness").deductible is not None and str(at.cause("illness").deductible) == deductible
    assert above.outcome == "pay"
    assert str(above.payout) == "0.01"  # 0.01 × 50 % = 0.005 → half-up 0.01


@pytest.mark.parametrize(
    ("cause_field", "value", "cause"),
    [("schooling", schooling("8000.00"), "schooling"), ("disaster", disaster("10000.00"), "disaster")],
)
def test_schooling_and_disaster_exactly_at_the_deductible_pay_nothing(
    pack: Pack, cause_field: str, value: object, cause: str
) -> None:
    decision = decide(household(**{cause_field: value}), pack)

    assert decision.outcome == "below_deductible"
    assert decision.cause(cause).increment == 0  # type: ignore[arg-type]


def test_schooling_and_disaster_one_fen_above_the_deductible_pay(pack: Pack) -> None:
    school = decide(household(schooling=schooling("8000.01")), pack)
    loss = decide(household(disaster=disaster("10000.02")), pack)

    assert str(school.payout) == "0.01"
    assert str(loss.payout) == "0.01"


@pytest.mark.parametrize(
    ("burden", "owed"),
    [
        ("40000.00", "10000.00"),   # excess exactly at the first tier edge: 20000 × 50 %
        ("40000.01", "10000.01"),   # one fen into the second tier: 0.006 → 10000.006 → 10000.01
        ("70000.00", "28000.00"),   # excess at the second edge: 10000 + 30000 × 60 %
        ("70000.01", "28000.01"),   # one fen into the third tier: 28000.007 → 28000.01
    ],
)
def test_illness_tier_edges(pack: Pack, burden: str, owed: str) -> None:
    decision = decide(household(illness=illness(burden)), pack)

    assert str(decision.cause("illness").owed) == owed


def test_illness_cap_is_reached_exactly_and_never_exceeded(pack: Pack) -> None:
    # 28000 + 0.7 × (excess − 50000) reaches 100000 at a burden of 172857.142857…
    below = decide(household(illness=illness("172857.13")), pack)  # 99999.991 → 99999.99
    beyond = decide(household(illness=illness("172857.15")), pack)

    assert str(below.cause("illness").owed) == "99999.99" and not below.cause("illness").capped
    assert str(beyond.cause("illness").owed) == "100000.00" and beyond.cause("illness").capped


def test_schooling_and_disaster_caps(pack: Pack) -> None:
    school = decide(household(schooling=schooling("100000.00")), pack)
    loss = decide(household(disaster=disaster("500000.00")), pack)

    assert str(school.cause("schooling").owed) == "30000.00"
    assert str(loss.cause("disaster").owed) == "50000.00"


def test_non_full_time_study_and_compulsory_stages_do_not_count(pack: Pack) -> None:
    part_time = decide(household(schooling=schooling("50000", stage="本科", full_time=False)), pack)
    compulsory = decide(household(schooling=schooling("50000", stage="初中")), pack)

    assert part_time.cause("schooling").base == 0
    assert compulsory.cause("schooling").base == 0


def test_disaster_counts_only_the_loss_after_compensation(pack: Pack) -> None:
    decision = decide(household(disaster=disaster("30000", compensation="25000")), pack)

    assert str(decision.cause("disaster").base) == "5000.00"
    assert decision.outcome == "below_deductible"


def test_no_labour_with_insecure_housing_stays_in_the_mechanism_with_a_note(pack: Pack) -> None:
    decision = decide(household(labour_capacity=False, housing_secure=False, illness=illness("30000")), pack)

    assert decision.outcome == "pay"
    assert any("住房" in note for note in decision.notes)
    assert "housing_needs_attention" in [rule.id for rule in decision.rules]


def test_dibao_referral_comes_before_every_cause(pack: Pack) -> None:
    decision = decide(
        household(labour_capacity=False, illness=illness("90000"), disaster=disaster("90000")), pack
    )

    assert decision.outcome == "refer_dibao"
    assert decision.payout == 0 and all(result.owed == 0 for result in decision.causes)
    assert [rule.id for rule in decision.rules] == ["edge", "refer_to_dibao"]


def test_already_paid_when_the_year_owed_was_paid_before(pack: Pack) -> None:
    decision = decide(household(illness=illness("30000"), paid_this_year={"illness": "5000.00"}), pack)

    assert decision.outcome == "already_paid"
    assert decision.payout == 0


def test_nothing_is_reclaimed_when_more_was_paid_than_is_now_owed(pack: Pack) -> None:
    decision = decide(household(illness=illness("30000"), paid_this_year={"illness": "6000.00"}), pack)

    assert decision.cause("illness").increment == 0
    assert decision.outcome == "already_paid"
    assert any("nothing is reclaimed" in note for note in decision.notes)
