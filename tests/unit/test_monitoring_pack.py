"""The 2023 monitoring pack (SPEC-monitoring.md): its boundaries, its vocabulary, a hand-written oracle of
the policy, and the engine's properties (monotone, capped, instalments sum to one shot) for every cause of
both the monitoring pack and the Handan pack."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from functools import cache
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fangpin.deciding import decide
from fangpin.decisions import Decision
from fangpin.documents import household_from
from fangpin.errors import DocumentError
from fangpin.packs import Pack, load_pack
from tests.support import COUNTED_STAGES, ILLNESS_TIERS, REPO, SCHOOLING_TIERS, half_up, tiered

MONITORING = "hebei-monitoring-2023"
HANDAN = "handan-2019"
YEARS = {MONITORING: 2023, HANDAN: 2019}
LINE = Decimal("8300.00")


@cache
def pack_named(name: str) -> Pack:
    return load_pack(REPO / "rules" / name)


def decide_doc(pack_name: str, **overrides: Any) -> Decision:
    data: dict[str, Any] = {
        "household_id": "130434-T001",
        "year": YEARS[pack_name],
        "county": "130434",
        "status": "never_registered",
        "members": 1,
        "income_per_capita": "7000.00",
        "labour_capacity": True,
        "housing_secure": True,
    }
    data.update(overrides)
    return decide(household_from(data), pack_named(pack_name))


def derived(decision: Decision) -> dict[str, Decimal]:
    return {item.id: item.value for item in decision.derived}


def event(cause: str, amount: str, index: int = 0, year: int = 2023, compensation: str = "0.00") -> dict[str, Any]:
    """One event of ``cause`` whose contribution to the cause's base is ``amount`` (less ``compensation``
    where the cause has one)."""
    date = dt.date(year, 1 + index % 12, 1 + index % 28)
    fields: dict[str, Any] = {
        "illness": {"burden": amount},
        "schooling": {"stage": "本科", "full_time": True, "tuition": amount},
        "disaster": {"kind": "flood", "loss": amount, "compensation": compensation},
        "accident": {"loss": amount, "compensation": compensation},
    }[cause]
    return {"id": f"{cause[0].upper()}{index}", "date": date, **fields}


# --- who is covered: the line, and the net per-capita income -----------------------------------------------


@pytest.mark.parametrize(("status", "group"), [("exited", "unstable_exit"), ("never_registered", "edge")])
def test_per_capita_income_one_fen_below_the_line_is_monitored_and_at_the_line_is_not(status: str,
                                                                                      group: str) -> None:
    below = decide_doc(MONITORING, status=status, income_per_capita="8299.99")
    at = decide_doc(MONITORING, status=status, income_per_capita="8300.00")

    assert (below.group, below.outcome) == (group, "below_deductible")
    assert (at.group, at.outcome) == (None, "not_covered")
    assert [rule.id for rule in at.rules] == ["not_in_any_group"]


def test_household_income_is_divided_then_rounded_before_the_line_is_applied() -> None:
    # 24,899.99 / 3 = 8,299.9966… → 8,300.00 half-up: at the line, not covered
    at = decide_doc(MONITORING, members=3, income_per_capita=None, income="24899.99")
    # 24,899.98 / 3 = 8,299.9933… → 8,299.99: below the line
    below = decide_doc(MONITORING, members=3, income_per_capita=None, income="24899.98")

    assert (at.per_capita_income, at.outcome) == (Decimal("8300.00"), "not_covered")
    assert (below.per_capita_income, below.group) == (Decimal("8299.99"), "edge")


@pytest.mark.parametrize("status", ["exited", "never_registered"])
def test_net_per_capita_income_exactly_at_the_line_is_not_covered_one_fen_below_is_sudden_hardship(
        status: str) -> None:
    # 9,000.00 per capita, 2 members: rigid spending 1,400.00 → 700.00 each → net 8,300.00
    at = decide_doc(MONITORING, status=status, members=2, income_per_capita="9000.00",
                    accident=[event("accident", "1400.00")])
    # 1,400.02 → 700.01 each → net 8,299.99
    below = decide_doc(MONITORING, status=status, members=2, income_per_capita="9000.00",
                       accident=[event("accident", "1400.02")])

    assert derived(at)["net_per_capita_income"] == Decimal("8300.00")
    assert (at.group, at.outcome) == (None, "not_covered")
    assert derived(below)["net_per_capita_income"] == Decimal("8299.99")
    assert (below.group, below.outcome) == ("sudden_hardship", "below_deductible")


def test_rigid_spending_per_member_rounds_half_up_to_the_fen() -> None:
    # 1,400.01 / 2 = 700.005 → 700.01 half-up (700.00 half-even): net 8,299.99, monitored
    decision = decide_doc(MONITORING, members=2, income_per_capita="9000.00",
                          illness=[event("illness", "1400.01")])

    assert derived(decision) == {"rigid_spending": Decimal("1400.01"), "net_per_capita_income": Decimal("8299.99")}
    assert decision.group == "sudden_hardship"


def test_rigid_spending_sums_every_cause_and_net_income_can_be_negative() -> None:
    decision = decide_doc(MONITORING, members=2, income_per_capita="8500.00",
                          illness=[event("illness", "1000.00")],
                          schooling=[event("schooling", "2000.00", 1), {**event("schooling", "5000.00", 2),
                                                                       "stage": "初中"}],
                          disaster=[event("disaster", "3000.00", 3, compensation="500.00")],
                          accident=[event("accident", "4000.00", 4, compensation="9000.00")])

    # compulsory schooling does not count; the accident's compensation exceeds its loss: 0, never negative
    assert derived(decision)["rigid_spending"] == Decimal("5500.00")
    assert derived(decision)["net_per_capita_income"] == Decimal("5750.00")
    big = decide_doc(MONITORING, members=1, income_per_capita="9000.00", illness=[event("illness", "50000.00")])
    assert derived(big)["net_per_capita_income"] == Decimal("-41000.00")


def test_a_registered_poor_household_is_not_covered_however_low_its_net_income() -> None:
    decision = decide_doc(MONITORING, status="贫困户", income_per_capita="9000.00",
                          illness=[event("illness", "90000.00")])

    assert (decision.group, decision.outcome, decision.payout) == (None, "not_covered", Decimal("0.00"))
    assert [rule.id for rule in decision.rules] == ["registered_poor_not_covered", "not_in_any_group"]


def test_the_register_aliases_of_status_mean_the_same_group() -> None:
    assert decide_doc(MONITORING, status="脱贫户", income_per_capita="8000.00").group == "unstable_exit"
    assert decide_doc(MONITORING, status="边缘户", income_per_capita="8000.00").group == "edge"
    assert decide_doc(MONITORING, status="一般农户", income_per_capita="9000.00",
                      illness=[event("illness", "9000.00")]).group == "sudden_hardship"


# --- each new deductible, exactly and one fen above --------------------------------------------------------

DEDUCTIBLES = [
    # (what, document overrides, cause, deductible)
    ("edge illness", {"status": "never_registered", "income_per_capita": "7000.00"}, "illness", "10000.00"),
    ("sudden_hardship illness", {"status": "never_registered", "income_per_capita": "8300.00"}, "illness",
     "20000.00"),
    ("edge accident", {"status": "never_registered", "income_per_capita": "7000.00"}, "accident", "5000.00"),
    ("unstable_exit accident", {"status": "exited", "income_per_capita": "7000.00"}, "accident", "5000.00"),
    ("sudden_hardship accident", {"status": "exited", "income_per_capita": "9000.00"}, "accident", "5000.00"),
]


@pytest.mark.parametrize(("what", "doc", "cause", "deductible"), DEDUCTIBLES, ids=[row[0] for row in DEDUCTIBLES])
def test_a_base_equal_to_the_deductible_pays_nothing_and_one_fen_above_pays_a_fen(
        what: str, doc: dict[str, Any], cause: str, deductible: str) -> None:
    exactly = decide_doc(MONITORING, **doc, **{cause: [event(cause, deductible)]})
    above = decide_doc(MONITORING, **doc, **{cause: [event(cause, f"{Decimal(deductible) + Decimal('0.01')}")]})
    group = what.split()[0]

    assert (exactly.group, exactly.outcome, exactly.payout) == (group, "below_deductible", Decimal("0.00"))
    assert exactly.cause(cause).deductible == Decimal(deductible)
    # 0.01 × 50 % = 0.005, rounded half-up once: one fen
    assert (above.group, above.outcome, above.payout, above.fee) == (group, "pay", Decimal("0.01"), Decimal("0.00"))
    assert above.cause(cause).excess == Decimal("0.01")


def test_accident_base_is_loss_less_compensation_per_event_never_negative() -> None:
    decision = decide_doc(MONITORING, accident=[event("accident", "3000.00", 0, compensation="5000.00"),
                                                event("accident", "9000.00", 1, compensation="1000.00")])

    # max(0, −2,000) + 8,000 = 8,000 → excess 3,000 × 50 %
    assert decision.cause("accident").base == Decimal("8000.00")
    assert decision.payout == Decimal("1500.00")


def test_accident_is_capped_at_30000() -> None:
    decision = decide_doc(MONITORING, accident=[event("accident", "100000.00")])

    assert decision.cause("accident").uncapped == Decimal("47500.00")
    assert (decision.cause("accident").owed, decision.cause("accident").capped) == (Decimal("30000.00"), True)


def test_the_decision_lists_the_causes_in_the_pack_order() -> None:
    assert [r.cause for r in decide_doc(MONITORING).causes] == ["illness", "schooling", "disaster", "accident"]
    assert [r.cause for r in decide_doc(HANDAN, income_per_capita="4000.00").causes] == [
        "illness", "schooling", "disaster"]


# --- documents the pack cannot read are refused naming the field -------------------------------------------


def test_an_event_list_of_a_cause_the_pack_lacks_is_refused_naming_the_field() -> None:
    with pytest.raises(DocumentError) as refused:
        decide_doc(HANDAN, income_per_capita="4000.00", accident=[event("accident", "9000.00", year=2019)])

    assert refused.value.field == "accident"
    assert "handan-2019" in str(refused.value)


def test_paid_this_year_of_a_cause_the_pack_lacks_is_refused_naming_the_field() -> None:
    with pytest.raises(DocumentError) as refused:
        decide_doc(HANDAN, income_per_capita="4000.00", paid_this_year={"accident": "100.00"})

    assert refused.value.field == "paid_this_year.accident"


def test_an_accident_event_with_a_field_it_does_not_have_is_refused_naming_it() -> None:
    with pytest.raises(DocumentError) as refused:
        decide_doc(MONITORING, accident=[{**event("accident", "9000.00"), "kind": "fire"}])

    assert refused.value.field == "accident[0].kind"


def test_an_accident_event_without_its_loss_is_refused_naming_it() -> None:
    with pytest.raises(DocumentError) as refused:
        decide_doc(MONITORING, accident=[{"id": "A", "date": "2023-05-01", "compensation": "10.00"}])

    assert refused.value.field == "accident[0].loss"


# --- the disaster kinds: aliases are data of both packs ----------------------------------------------------


@pytest.mark.parametrize("pack_name", [MONITORING, HANDAN])
@pytest.mark.parametrize("kind", ["洪涝", "flood", "natural", "自然灾害", "drought", "冰雹", "风灾", "地震", "滑坡",
                                  "landslide", "火灾", "fire", "交通事故", "traffic"])
def test_every_spelling_of_a_counted_disaster_kind_counts(pack_name: str, kind: str) -> None:
    decision = decide_doc(pack_name, income_per_capita="4000.00",
                          disaster=[{**event("disaster", "30000.00", year=YEARS[pack_name]), "kind": kind}])

    assert decision.cause("disaster").base == Decimal("30000.00")
    assert decision.payout == Decimal("10000.00")


@pytest.mark.parametrize("pack_name", [MONITORING, HANDAN])
def test_a_disaster_kind_no_pack_vocabulary_knows_is_refused_naming_the_field(pack_name: str) -> None:
    with pytest.raises(DocumentError) as refused:
        decide_doc(pack_name, income_per_capita="4000.00",
                   disaster=[{**event("disaster", "30000.00", year=YEARS[pack_name]), "kind": "龙卷风"}])

    assert refused.value.field == "disaster[0].kind"


# --- a hand-written oracle of SPEC-monitoring, compared with the engine -----------------------------------
# (the tier arithmetic and the Handan tiers are the SPEC oracle's, tests/support.py)


HALF = [(None, Decimal("0.5"))]
CAPS = {"illness": Decimal(100000), "schooling": Decimal(30000), "disaster": Decimal(50000),
        "accident": Decimal(30000)}
CAUSES = {MONITORING: ("illness", "schooling", "disaster", "accident"), HANDAN: ("illness", "schooling", "disaster")}


def monitoring_oracle(doc: dict[str, Any]) -> dict[str, Any]:
    """SPEC-monitoring sections 1-4 written out by hand: group, outcome, owed per cause, payout, fee."""
    members = doc["members"]
    pc = half_up(Decimal(doc["income"]) / members) if "income" in doc else Decimal(doc["income_per_capita"])

    def own(e: dict[str, Any]) -> Decimal:
        return max(Decimal(0), Decimal(e["loss"]) - Decimal(e.get("compensation", "0")))

    bases = {
        "illness": sum((Decimal(e["burden"]) for e in doc.get("illness", [])), Decimal(0)),
        "schooling": sum((Decimal(e["tuition"]) for e in doc.get("schooling", [])
                          if e["full_time"] and e["stage"] in COUNTED_STAGES), Decimal(0)),
        "disaster": sum((own(e) for e in doc.get("disaster", [])), Decimal(0)),
        "accident": sum((own(e) for e in doc.get("accident", [])), Decimal(0)),
    }
    rigid = sum(bases.values(), Decimal(0))
    net = pc - half_up(rigid / members)
    status = doc["status"]
    group = None
    if status in ("exited", "never_registered"):
        if pc < LINE:
            group = "unstable_exit" if status == "exited" else "edge"
        elif net < LINE:
            group = "sudden_hardship"
    zero = dict.fromkeys(bases, Decimal(0))
    result = {"group": group, "rigid": rigid, "net": net, "owed": zero, "payout": Decimal(0), "fee": Decimal(0)}
    if group is None:
        return {**result, "outcome": "not_covered"}
    if not doc["labour_capacity"] and doc["housing_secure"]:
        return {**result, "outcome": "refer_dibao"}
    illness_deductible = {"unstable_exit": Decimal(5000), "edge": Decimal(10000), "sudden_hardship": Decimal(20000)}
    terms = {"illness": (illness_deductible[group], ILLNESS_TIERS), "schooling": (Decimal(8000), SCHOOLING_TIERS),
             "disaster": (Decimal(10000), HALF), "accident": (Decimal(5000), HALF)}
    owed, paid, over = dict(zero), dict(zero), False
    for cause, (deductible, tiers) in terms.items():
        if bases[cause] > deductible:
            over = True
            owed[cause] = half_up(min(tiered(bases[cause] - deductible, tiers), CAPS[cause]))
            paid[cause] = max(Decimal(0), owed[cause] - Decimal(doc.get("paid_this_year", {}).get(cause, "0")))
    payout = sum(paid.values(), Decimal(0))
    outcome = "below_deductible" if not over else "pay" if payout > 0 else "already_paid"
    return {**result, "outcome": outcome, "owed": owed, "payout": payout, "fee": half_up(payout * Decimal("0.15"))}


def fen(top_yuan: int) -> st.SearchStrategy[str]:
    return st.integers(0, top_yuan * 100).map(lambda f: f"{Decimal(f) / 100:.2f}")


@st.composite
def monitoring_documents(draw: st.DrawFn) -> dict[str, Any]:
    members = draw(st.integers(1, 6))
    per_capita = draw(st.one_of(st.integers(820_000, 840_000), st.integers(0, 2_000_000)))  # fen
    by_household = draw(st.booleans())
    doc: dict[str, Any] = {
        "household_id": "130434-P", "year": 2023, "county": "130434",
        "status": draw(st.sampled_from(["exited", "never_registered", "registered_poor"])),
        "members": members,
        "labour_capacity": draw(st.booleans()),
        "housing_secure": draw(st.booleans()),
    }
    if by_household:
        doc["income"] = f"{Decimal(per_capita * members) / 100:.2f}"
    else:
        doc["income_per_capita"] = f"{Decimal(per_capita) / 100:.2f}"
    doc["illness"] = [event("illness", draw(fen(60_000)), i) for i in range(draw(st.integers(0, 2)))]
    doc["schooling"] = [{**event("schooling", draw(fen(20_000)), i), "full_time": draw(st.booleans()),
                         "stage": draw(st.sampled_from(["本科", "高中", "初中", "小学"]))}
                        for i in range(draw(st.integers(0, 2)))]
    doc["disaster"] = [{**event("disaster", draw(fen(40_000)), i, compensation=draw(fen(10_000))),
                        "kind": draw(st.sampled_from(["洪涝", "flood", "fire", "交通事故"]))}
                       for i in range(draw(st.integers(0, 2)))]
    doc["accident"] = [event("accident", draw(fen(30_000)), i, compensation=draw(fen(10_000)))
                       for i in range(draw(st.integers(0, 2)))]
    if draw(st.booleans()):
        doc["paid_this_year"] = {cause: draw(fen(5_000)) for cause in CAUSES[MONITORING]}
    return doc


@settings(max_examples=300, deadline=None)
@given(monitoring_documents())
def test_the_monitoring_pack_agrees_with_a_hand_written_oracle_of_spec_monitoring(doc: dict[str, Any]) -> None:
    decision = decide(household_from(doc), pack_named(MONITORING))
    expected = monitoring_oracle(doc)

    assert (decision.group, decision.outcome) == (expected["group"], expected["outcome"])
    assert derived(decision) == {"rigid_spending": expected["rigid"], "net_per_capita_income": expected["net"]}
    assert {r.cause: r.owed for r in decision.causes} == expected["owed"]
    assert (decision.payout, decision.fee) == (expected["payout"], expected["fee"])


# --- properties for every cause of both packs --------------------------------------------------------------

EVERY_CAUSE = [(name, cause) for name, causes in CAUSES.items() for cause in causes]


@st.composite
def situations(draw: st.DrawFn, pack_name: str) -> dict[str, Any]:
    """A household's own facts, drawn around each pack's thresholds (Handan 4,800; the line 8,300)."""
    per_capita = draw(st.one_of(st.integers(470_000, 490_000), st.integers(820_000, 840_000),
                                st.integers(0, 1_500_000)))
    return {
        "status": draw(st.sampled_from(["exited", "never_registered", "registered_poor"])),
        "members": draw(st.integers(1, 5)),
        "income_per_capita": f"{Decimal(per_capita) / 100:.2f}",
        "labour_capacity": draw(st.booleans() if pack_name == MONITORING else st.just(True)),
        "housing_secure": True,
    }


@settings(max_examples=120, deadline=None)
@given(data=st.data())
@pytest.mark.parametrize(("pack_name", "cause"), EVERY_CAUSE)
def test_payout_is_monotone_in_each_cause_base(pack_name: str, cause: str, data: st.DataObject) -> None:
    facts = data.draw(situations(pack_name))
    compensation = data.draw(fen(5_000)) if cause in ("disaster", "accident") else "0.00"
    low, high = sorted(Decimal(data.draw(fen(400_000))) for _ in range(2))
    year = YEARS[pack_name]

    def payout(amount: Decimal) -> Decimal:
        return decide_doc(pack_name, **facts,
                          **{cause: [event(cause, f"{amount}", year=year, compensation=compensation)]}).payout

    assert payout(low) <= payout(high)


@settings(max_examples=80, deadline=None)
@given(data=st.data())
@pytest.mark.parametrize(("pack_name", "cause"), EVERY_CAUSE)
def test_no_cause_is_ever_owed_more_than_its_cap(pack_name: str, cause: str, data: st.DataObject) -> None:
    facts = data.draw(situations(pack_name))
    year = YEARS[pack_name]
    amounts = data.draw(st.lists(fen(600_000), min_size=1, max_size=4))
    decision = decide_doc(pack_name, **facts, **{cause: [event(cause, a, i, year) for i, a in enumerate(amounts)]})

    assert decision.cause(cause).owed <= CAPS[cause]
    assert decision.cause(cause).increment <= decision.cause(cause).owed


@settings(max_examples=60, deadline=None)
@given(data=st.data())
@pytest.mark.parametrize(("pack_name", "cause"), EVERY_CAUSE)
def test_paying_in_instalments_sums_to_the_one_shot_payout(pack_name: str, cause: str, data: st.DataObject) -> None:
    facts = data.draw(situations(pack_name))
    year = YEARS[pack_name]
    amounts = data.draw(st.lists(fen(150_000), min_size=1, max_size=6))
    events = [event(cause, amount, i, year) for i, amount in enumerate(amounts)]

    paid = Decimal("0.00")
    for k in range(1, len(events) + 1):
        paid += decide_doc(pack_name, **facts, **{cause: events[:k]}, paid_this_year={cause: f"{paid}"}).payout
    one_shot = decide_doc(pack_name, **facts, **{cause: events})

    assert paid == one_shot.payout
