"""Helpers shared by every test suite: the county and the clock the tests use, household documents (as the API
takes them, and as facts), a plain-Python oracle of the policy (docs/policy.md), generators."""

from __future__ import annotations

import datetime as dt
import random
import time
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from fangpin.claims import LOCAL
from fangpin.documents import household_from
from fangpin.facts import Household
from fangpin.money import to_decimal

REPO = Path(__file__).resolve().parents[1]
PACK_2019 = REPO / "rules" / "handan-2019"
DEMO = REPO / "fixtures" / "demo"  # the shipped 40-household drop (魏县 130434, 2019): pays 176,550.08
COUNTY = "130434"
OTHER_COUNTY = "130435"
START = dt.datetime(2019, 10, 8, 1, 0, tzinfo=dt.UTC)  # 09:00 in the county, inside the demo's policy year


class Clock:
    """The server's clock in API and console tests: it stands still until the test moves it (the 7 days of
    publicity, a session's expiry)."""

    def __init__(self, now: dt.datetime = START) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)

    def today(self) -> str:
        return self.now.astimezone(LOCAL).date().isoformat()


class RunningClock(Clock):
    """A clock that runs from ``start`` at the pace of real time, for a live server driven by a browser (its
    pages poll and time out); a test can still move it on."""

    def __init__(self, start: dt.datetime = START) -> None:
        super().__init__(start)
        self._origin = time.monotonic()

    def __call__(self) -> dt.datetime:
        return self.now + dt.timedelta(seconds=time.monotonic() - self._origin)

    def today(self) -> str:
        return self().astimezone(LOCAL).date().isoformat()


def document(household_id: str = "130434-0001", **overrides: Any) -> dict[str, Any]:
    """A household document as the API takes it (docs/policy.md section 9), by default example 5.1: never
    registered, 4 members, 4,400 per capita, illness 45,000 → 13,000.00."""
    data: dict[str, Any] = {
        "household_id": household_id, "year": 2019, "county": COUNTY, "township": "东代固镇", "village": "东村",
        "head_name": "赵大山", "head_id": "13043419800101001X", "status": "never_registered", "members": 4,
        "income": "17600.00", "labour_capacity": True, "housing_secure": True,
        "illness": [{"id": "S1", "date": "2019-03-02", "burden": "45000.00"}],
    }
    data.update(overrides)
    return data


def household(**overrides: Any) -> Household:
    data: dict[str, Any] = {
        "household_id": "130434-T001",
        "year": 2019,
        "county": "130434",
        "status": "never_registered",
        "members": 4,
        "income_per_capita": "4000.00",
        "labour_capacity": True,
        "housing_secure": True,
    }
    data.update(overrides)
    return household_from(data)


def illness(*burdens: str) -> list[dict[str, Any]]:
    return [{"id": f"S{i}", "date": dt.date(2019, 1 + i % 12, 1), "burden": b} for i, b in enumerate(burdens)]


def schooling(total: str, stage: str = "本科", full_time: bool = True) -> list[dict[str, Any]]:
    return [{"id": "E1", "date": dt.date(2019, 9, 1), "stage": stage, "full_time": full_time, "tuition": total}]


def disaster(loss: str, compensation: str = "0", kind: str = "fire") -> list[dict[str, Any]]:
    return [{"id": "D1", "date": dt.date(2019, 6, 1), "kind": kind, "loss": loss, "compensation": compensation}]


# --- an independent oracle: docs/policy.md sections 1-4 written out by hand, for comparison with the engine ---

def half_up(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def tiered(excess: Decimal, tiers: list[tuple[Decimal | None, Decimal]]) -> Decimal:
    total, lower = Decimal(0), Decimal(0)
    for upper, rate in tiers:
        if excess <= lower:
            break
        top = excess if upper is None else min(excess, upper)
        total += (top - lower) * rate
        if upper is None:
            break
        lower = upper
    return total


ILLNESS_TIERS = [(Decimal(20000), Decimal("0.5")), (Decimal(50000), Decimal("0.6")), (None, Decimal("0.7"))]
SCHOOLING_TIERS = [(Decimal(10000), Decimal("0.5")), (None, Decimal("0.6"))]
DISASTER_TIERS = [(None, Decimal("0.5"))]
COUNTED_STAGES = {"普通高中", "高中", "中职", "中等职业教育", "高职", "大专", "专科", "本科", "研究生", "硕士", "博士"}


def oracle(h: Household) -> dict[str, Any]:
    """What docs/policy.md says for a household: outcome, group, owed and paid now per cause, payout, fee."""
    pc = half_up(h.income / h.members) if h.income is not None else h.income_per_capita
    assert pc is not None
    zero = {"illness": Decimal(0), "schooling": Decimal(0), "disaster": Decimal(0)}
    if h.status == "registered_poor" or pc >= Decimal(4800):
        return {"outcome": "not_covered", "group": None, "owed": zero, "paid": zero, "payout": Decimal(0),
                "fee": Decimal(0)}
    group = "unstable_exit" if h.status == "exited" else "edge"
    if not h.labour_capacity and h.housing_secure:
        return {"outcome": "refer_dibao", "group": group, "owed": zero, "paid": zero, "payout": Decimal(0),
                "fee": Decimal(0)}
    def amount(event: Any, name: str) -> Decimal:
        return to_decimal(event.fields.get(name, "0"))

    bases = {
        "illness": sum((amount(e, "burden") for e in h.events_of("illness")), Decimal(0)),
        "schooling": sum((amount(e, "tuition") + amount(e, "accommodation") + amount(e, "textbooks")
                          for e in h.events_of("schooling")
                          if e.fields["full_time"] and e.fields["stage"] in COUNTED_STAGES), Decimal(0)),
        "disaster": sum((max(Decimal(0), amount(e, "loss") - amount(e, "compensation"))
                         for e in h.events_of("disaster")), Decimal(0)),
    }
    terms = {
        "illness": (Decimal(5000) if group == "unstable_exit" else Decimal(20000), ILLNESS_TIERS, Decimal(100000)),
        "schooling": (Decimal(8000), SCHOOLING_TIERS, Decimal(30000)),
        "disaster": (Decimal(10000), DISASTER_TIERS, Decimal(50000)),
    }
    owed, paid, any_over = dict(zero), dict(zero), False
    for cause, (deductible, tiers, cap) in terms.items():
        if bases[cause] > deductible:
            any_over = True
            owed[cause] = half_up(min(tiered(bases[cause] - deductible, tiers), cap))
            paid[cause] = max(Decimal(0), owed[cause] - h.paid_of(cause))
    payout = sum(paid.values(), Decimal(0))
    outcome = "below_deductible" if not any_over else "pay" if payout > 0 else "already_paid"
    return {"outcome": outcome, "group": group, "owed": owed, "paid": paid, "payout": payout,
            "fee": half_up(payout * Decimal("0.15"))}


# --- hypothesis strategies ---

def fen_amounts(max_yuan: int) -> st.SearchStrategy[str]:
    return st.integers(min_value=0, max_value=max_yuan * 100).map(lambda fen: f"{Decimal(fen) / 100:.2f}")


@st.composite
def households(draw: st.DrawFn, paid: bool = True) -> Household:
    dates = st.dates(min_value=dt.date(2019, 1, 1), max_value=dt.date(2019, 12, 31))
    n_ill = draw(st.integers(0, 3))
    n_school = draw(st.integers(0, 2))
    n_dis = draw(st.integers(0, 2))
    income_field = draw(st.sampled_from(["income", "income_per_capita"]))
    members = draw(st.integers(1, 7))
    income = draw(st.one_of(st.integers(470_000, 490_000), st.integers(0, 1_000_000)))  # fen per capita
    data: dict[str, Any] = {
        "household_id": "H",
        "year": 2019,
        "county": "130434",
        "status": draw(st.sampled_from(["exited", "never_registered", "registered_poor"])),
        "members": members,
        income_field: f"{Decimal(income * (members if income_field == 'income' else 1)) / 100:.2f}",
        "labour_capacity": draw(st.booleans()),
        "housing_secure": draw(st.booleans()),
        "illness": [{"id": f"S{i}", "date": draw(dates), "burden": draw(fen_amounts(200_000))}
                    for i in range(n_ill)],
        "schooling": [{"id": f"E{i}", "date": draw(dates),
                       "stage": draw(st.sampled_from(["普通高中", "本科", "初中", "小学", "博士"])),
                       "full_time": draw(st.booleans()), "tuition": draw(fen_amounts(20_000)),
                       "accommodation": draw(fen_amounts(5_000)), "textbooks": draw(fen_amounts(2_000))}
                      for i in range(n_school)],
        "disaster": [{"id": f"D{i}", "date": draw(dates), "kind": draw(st.sampled_from(["fire", "traffic", "natural"])),
                      "loss": draw(fen_amounts(150_000)), "compensation": draw(fen_amounts(50_000))}
                     for i in range(n_dis)],
    }
    if paid:
        data["paid_this_year"] = {c: draw(fen_amounts(30_000)) for c in ("illness", "schooling", "disaster")}
    return household_from(data)


def random_household(rng: random.Random, household_id: str) -> Household:
    """A plain seeded generator, for tests that need many households without hypothesis."""
    members = rng.randint(1, 6)
    fen = lambda top: f"{Decimal(rng.randint(0, top * 100)) / 100:.2f}"  # noqa: E731
    return household_from({
        "household_id": household_id,
        "year": 2019,
        "county": "130434",
        "status": rng.choice(["exited", "never_registered", "registered_poor"]),
        "members": members,
        "income_per_capita": f"{Decimal(rng.choice([rng.randint(470_000, 490_000), rng.randint(0, 900_000)])) / 100}",
        "labour_capacity": rng.random() < 0.85,
        "housing_secure": rng.random() < 0.7,
        "illness": [{"id": f"S{i}", "date": dt.date(2019, rng.randint(1, 12), 1), "burden": fen(90_000)}
                    for i in range(rng.randint(0, 3))],
        "schooling": [{"id": f"E{i}", "date": dt.date(2019, 9, 1), "stage": rng.choice(["本科", "初中", "高中"]),
                       "full_time": rng.random() < 0.9, "tuition": fen(15_000)} for i in range(rng.randint(0, 2))],
        "disaster": [{"id": f"D{i}", "date": dt.date(2019, 7, 1), "kind": "fire", "loss": fen(60_000)}
                     for i in range(rng.randint(0, 1))],
        "paid_this_year": {"illness": fen(3_000)},
    })


def wait_for_job(client: Any, state_url: str) -> dict[str, Any]:
    """A console job's last state (``state_url`` answers its JSON), once it is neither queued nor running."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job: dict[str, Any] = client.get(state_url).json()
        if job["state"] not in ("queued", "running"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"the job at {state_url} did not finish in two minutes")
