"""SPEC 3.4, nothing is ever paid twice, across the two paths that pay: a claim paid through the API is
written to the county's payments ledger (what bulk screening counts as paid before), and what the ledger
counts is paid before for an application and at filing. On SQLite and PostgreSQL, through HTTP."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pytest
import sqlalchemy as sa

from fangpin.db import queries
from fangpin.db.models import Payment
from fangpin.db.session import session_scope
from fangpin.services.audit import verify_chains
from fangpin.services.screening import ScreenRequest, ScreenResult, screen
from tests.api.conftest import Api
from tests.integration.drops import base_drop, settlement
from tests.support import document

# H1 of tests.integration.drops.base_drop: never registered, 4 members, 16,000 a year (4,000 per capita)
H1: dict[str, Any] = {"household_id": "H1", "members": 4, "income": "16000.00"}
MARCH = {"id": "S1", "date": "2019-03-15", "burden": "30000.00"}  # excess 10,000 → 5,000.00
AUGUST = {"id": "S2", "date": "2019-08-20", "burden": "25000.00"}  # 55,000 in all → 19,000.00
SCHOOL = {"id": "E1", "date": "2019-09-01", "stage": "普通高中", "full_time": True, "tuition": "6000",
          "accommodation": "1500", "textbooks": "800"}  # base 8,300 → 150.00


def _screen(api: Api, tmp_path: Path, name: str, rows: list[str]) -> ScreenResult:
    drop = base_drop(tmp_path / name, rows)
    return screen(ScreenRequest(drop=drop, year=2019, county="130434", database_url=api.database_url,
                                runs_dir=tmp_path / "runs"))


def _march_run(api: Api, tmp_path: Path) -> ScreenResult:
    """A screening run that pays H1 5,000.00 for its March stay."""
    return _screen(api, tmp_path, "march", [settlement("S1", 1, "2019-03-15", "30000.00")])


def _row(result: ScreenResult, household_id: str = "H1") -> dict[str, Any]:
    return result.decisions().filter(pl.col("household_id") == household_id).row(0, named=True)


def _ledger(api: Api) -> list[tuple[str, int, int, int, str | None]]:
    """(cause, paid_before, amount, decision_id, run_id) of every payment of H1, in chain order."""
    with session_scope(api.database_url) as session:
        rows = session.execute(sa.select(Payment.cause, Payment.paid_before, Payment.amount, Payment.decision_id,
                                         Payment.run_id).where(Payment.household_id == "H1")
                               .order_by(Payment.seq)).all()
    return [tuple(row) for row in rows]  # type: ignore[misc]


def _chains_intact(api: Api) -> None:
    with session_scope(api.database_url) as session:
        assert verify_chains(session, ("decisions", "payments", "claim_events")) == []


def _filed(api: Api, claim: dict[str, Any], illness: str, schooling: str = "0.00") -> dict[str, Any]:
    claim = api.advance(claim, "surveyed", verified={"illness": illness, "schooling": schooling, "disaster": "0"})
    for step in ("publicised", "cross_checked", "filed"):
        claim = api.advance(claim, step)
    return claim


def _apply(api: Api, **overrides: Any) -> Any:
    return api.post("/v1/claims", document(**{**H1, **overrides}), who="village")


def test_an_application_claim_paid_is_written_to_the_ledger_per_cause_and_the_chains_stay_intact(api: Api) -> None:
    claim = _apply(api, illness=[MARCH], schooling=[SCHOOL]).json()
    claim = _filed(api, claim, "30000.00", "8300.00")
    assert claim["amount_decided"] == "5150.00"

    paid = api.advance(claim, "paid", amount="5100.00")  # illness first, then schooling up to what is left

    assert paid["state"] == "paid"
    assert _ledger(api) == [("illness", 0, 500000, claim["filing_decision_id"], None),
                            ("schooling", 0, 10000, claim["filing_decision_id"], None)]
    _chains_intact(api)


def test_a_screening_run_after_an_application_claim_was_paid_pays_only_the_increment(
    api: Api, tmp_path: Path
) -> None:
    claim = _filed(api, _apply(api, illness=[MARCH]).json(), "30000.00")
    api.advance(claim, "paid", amount="5000.00")

    same = _march_run(api, tmp_path)  # the same stay in the department's data
    later = _screen(api, tmp_path, "august", [settlement("S1", 1, "2019-03-15", "30000.00"),
                                             settlement("S2", 11, "2019-08-20", "25000.00")])

    assert (_row(same)["illness_paid_before"], _row(same)["illness"], _row(same)["outcome"]) == (
        500000, 0, "already_paid")
    assert (_row(later)["illness_paid_before"], _row(later)["illness"]) == (500000, 1400000)  # 19,000 − 5,000
    decision_id = claim["filing_decision_id"]
    assert [(c, before, amount, run is None) for c, before, amount, _, run in _ledger(api)] == [
        ("illness", 0, 500000, True), ("illness", 500000, 1400000, False)]
    assert _ledger(api)[0][3] == decision_id
    _chains_intact(api)


def test_an_application_counts_what_a_screening_run_paid_the_household(api: Api, tmp_path: Path) -> None:
    run_id = _march_run(api, tmp_path).run["run_id"]

    nothing_more = _apply(api, illness=[MARCH], paid_this_year={"illness": "0.00"})
    more = _apply(api, illness=[MARCH, AUGUST], paid_this_year={"illness": "0.00"})

    assert nothing_more.status_code == 409, nothing_more.text
    detail = nothing_more.json()["detail"]
    assert "不应赔付" in detail and f"因病 5,000.00 元(筛查运行 {run_id})" in detail
    assert more.status_code == 201, more.text
    decision = api.get(f"/v1/decisions/{more.json()['decision_id']}", who="office").json()
    assert decision["paid_before"]["illness"] == "5000.00"
    assert (decision["amounts"]["illness"], decision["amounts"]["payout"]) == ("14000.00", "14000.00")
    assert decision["document"]["paid_this_year"]["illness"] == "0.00"  # the applicant's document, as given
    replayed = api.post(f"/v1/decisions/{more.json()['decision_id']}/replay", who="auditor").json()
    assert replayed["identical"] is True


def test_an_applicants_larger_own_paid_figure_still_counts(api: Api, tmp_path: Path) -> None:
    _march_run(api, tmp_path)  # the ledger: 5,000.00

    response = _apply(api, illness=[MARCH, AUGUST], paid_this_year={"illness": "6000.00"})

    decision = api.get(f"/v1/decisions/{response.json()['decision_id']}").json()
    assert (decision["paid_before"]["illness"], decision["amounts"]["payout"]) == ("6000.00", "13000.00")


def test_filing_counts_what_a_screening_run_paid_after_the_application_opened(api: Api, tmp_path: Path) -> None:
    claim = _apply(api, illness=[MARCH, AUGUST]).json()
    assert api.get(f"/v1/decisions/{claim['decision_id']}").json()["amounts"]["payout"] == "19000.00"
    run_id = _march_run(api, tmp_path).run["run_id"]  # the fund pays the March stay meanwhile

    claim = _filed(api, claim, "55000.00")
    paid = api.advance(claim, "paid", amount="14000.00")

    assert claim["amount_decided"] == "14000.00"  # 19,000 owed for the year, 5,000 counted by the run
    filing = api.get(f"/v1/decisions/{claim['filing_decision_id']}").json()
    assert filing["paid_before"]["illness"] == "5000.00"
    assert api.post(f"/v1/decisions/{claim['filing_decision_id']}/replay", who="auditor").json()["identical"]
    assert paid["amount_paid"] == "14000.00"
    assert [(c, before, amount, run) for c, before, amount, _, run in _ledger(api)] == [
        ("illness", 0, 500000, run_id), ("illness", 500000, 1400000, None)]
    _chains_intact(api)


def _screening_claim(api: Api, tmp_path: Path) -> tuple[str, dict[str, Any]]:
    run_id = str(_march_run(api, tmp_path).run["run_id"])
    opened = api.post("/v1/claims/from-screening", {"run_id": run_id}, who="office").json()["opened"]
    assert [claim["household_id"] for claim in opened] == ["H1"]
    return run_id, opened[0]


@pytest.mark.parametrize(("verified", "decided", "amount", "written"), [
    ("40000.00", "10000.00", "10000.00", [("illness", 500000, 500000)]),  # only the excess over the run's 5,000
    ("40000.00", "10000.00", "7000.00", [("illness", 500000, 200000)]),
    ("30000.00", "5000.00", "5000.00", []),  # what the run wrote already
    ("26000.00", "3000.00", "3000.00", []),  # less than the run wrote: the ledger stays at 5,000, never less
])
def test_a_screening_claim_paid_writes_only_what_exceeds_its_runs_amount(
    api: Api, tmp_path: Path, verified: str, decided: str, amount: str, written: list[tuple[str, int, int]]
) -> None:
    run_id, claim = _screening_claim(api, tmp_path)
    claim = _filed(api, claim, verified)
    assert claim["amount_decided"] == decided

    paid = api.advance(claim, "paid", amount=amount)

    ledger = _ledger(api)
    assert ledger[0] == ("illness", 0, 500000, claim["decision_id"], run_id)
    assert [(c, before, value) for c, before, value, _, _ in ledger[1:]] == written
    assert all(decision == claim["filing_decision_id"] and run is None for _, _, _, decision, run in ledger[1:])
    assert all(value > 0 for _, _, value, _, _ in ledger)
    assert paid["state"] == "paid"
    _chains_intact(api)


def test_a_screening_run_after_a_screening_claim_paid_more_pays_nothing_twice(api: Api, tmp_path: Path) -> None:
    _, claim = _screening_claim(api, tmp_path)
    api.advance(_filed(api, claim, "40000.00"), "paid", amount="10000.00")  # the ledger: 5,000 + 5,000

    later = _screen(api, tmp_path, "august", [settlement("S1", 1, "2019-03-15", "30000.00"),
                                             settlement("S2", 11, "2019-08-20", "25000.00")])

    assert (_row(later)["illness_paid_before"], _row(later)["illness"]) == (1000000, 900000)  # 19,000 − 10,000


def _unchanged(api: Api, claim: dict[str, Any], ledger: list[Any]) -> None:
    after = api.get(f"/v1/claims/{claim['id']}").json()
    assert (after["state"], after["version"], len(after["history"]), after["amount_paid"]) == (
        "filed", claim["version"], 5, None)
    assert _ledger(api) == ledger
    _chains_intact(api)


def test_a_payment_after_a_screening_run_paid_the_household_since_filing_is_409(api: Api, tmp_path: Path) -> None:
    claim = _filed(api, _apply(api, illness=[MARCH]).json(), "30000.00")
    run_id = _march_run(api, tmp_path).run["run_id"]  # the ledger was empty: the run pays 5,000.00 too
    ledger = _ledger(api)

    response = api.move(claim, "paid", amount="5000.00")

    assert response.status_code == 409, response.text
    assert "重复赔付" in response.json()["detail"] and run_id in response.json()["detail"]
    _unchanged(api, claim, ledger)


def test_a_payment_racing_a_screening_run_from_the_same_prior_total_is_409_and_changes_nothing(
    api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    claim = _filed(api, _apply(api, illness=[MARCH]).json(), "30000.00")
    _march_run(api, tmp_path)
    ledger = _ledger(api)
    # the ledger as read just before the run committed: the claim's entry collides with the run's
    monkeypatch.setattr(queries, "household_payments", lambda *_args, **_kwargs: [])

    response = api.move(claim, "paid", amount="5000.00")

    assert response.status_code == 409, response.text
    assert "刷新页面" in response.json()["detail"]
    monkeypatch.undo()
    _unchanged(api, claim, ledger)


def test_a_screening_claim_still_pays_its_own_run_when_a_later_run_counted_an_increment_meanwhile(
    api: Api, tmp_path: Path
) -> None:
    _, march = _screening_claim(api, tmp_path)  # the March run counts 5,000.00 and opens a claim
    august = _screen(api, tmp_path, "august", [settlement("S1", 1, "2019-03-15", "30000.00"),
                                              settlement("S2", 11, "2019-08-20", "25000.00")])
    assert (_row(august)["illness_paid_before"], _row(august)["illness"]) == (500000, 1400000)

    march = _filed(api, march, "30000.00")  # the August increment was counted on top of March: not paid here
    api.advance(march, "paid", amount="5000.00")
    later = api.post("/v1/claims/from-screening", {"run_id": august.run["run_id"]}, who="office").json()["opened"]
    second = _filed(api, later[0], "55000.00")
    api.advance(second, "paid", amount=second["amount_decided"])

    assert (march["amount_decided"], second["amount_decided"]) == ("5000.00", "14000.00")  # 19,000 owed in all
    assert sum(amount for _, _, amount, _, _ in _ledger(api)) == 1900000
    _chains_intact(api)
