"""The claim's path of SPEC section 6 through HTTP, on SQLite and PostgreSQL: every step by its role only,
in its county only, in order, after the publicity, at the version last read."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from fangpin.claims import ROLES
from tests.api.conftest import ACTING, PATH, Api
from tests.support import document


def test_a_claim_goes_the_whole_path_from_application_to_payment_with_its_history(api: Api) -> None:
    claim = api.open_claim(who="village")
    assert (claim["state"], claim["version"], claim["opened_by"]) == ("opened", 1, "application")
    opened_decision = api.get(f"/v1/decisions/{claim['decision_id']}").json()
    assert opened_decision["amounts"]["payout"] == "13000.00"

    claim = api.advance(claim, "surveyed", verified={"illness": "50000.00", "schooling": "0.00", "disaster": "0.00"})
    claim = api.advance(claim, "publicised")
    claim = api.advance(claim, "cross_checked")
    claim = api.advance(claim, "filed")
    # re-decided on the verified 50,000: excess 30,000 → 20,000 × 50 % + 10,000 × 60 % = 16,000.00
    assert claim["amount_decided"] == "16000.00"
    filing = api.get(f"/v1/decisions/{claim['filing_decision_id']}").json()
    assert filing["facts"]["illness_base"] == "50000.00" and filing["amounts"]["payout"] == "16000.00"
    claim = api.advance(claim, "paid", amount="16000.00")

    assert (claim["state"], claim["version"], claim["amount_paid"], claim["fee"]) == ("paid", 6, "16000.00",
                                                                                      "2400.00")
    assert claim["next"] == []
    history = api.get(f"/v1/claims/{claim['id']}").json()["history"]
    assert [event["step"] for event in history] == PATH
    assert [event["who"] for event in history] == [
        {"name": "village", "role": "village"}, {"name": "surveyor", "role": "surveyor"},
        {"name": "village", "role": "village"}, {"name": "department", "role": "department"},
        {"name": "office", "role": "office"}, {"name": "payer", "role": "surveyor"}]
    assert history[1]["record"]["verified"]["illness"] == "50000.00"
    assert history[2]["record"]["publicity_start"] == "2019-10-08"
    assert history[2]["record"]["objections"][0]["upheld"] is False
    assert [c["department"] for c in history[3]["record"]["confirmations"]] == ["health", "civil_affairs"]
    assert history[4]["record"]["filing_number"] == "FP-2019-0001"
    assert history[5]["record"]["payment_reference"] == "PICC-88"
    assert history[5]["record"]["causes"] == {"illness": "16000.00", "schooling": "0.00", "disaster": "0.00"}
    assert [event["seq"] for event in history] == sorted(event["seq"] for event in history)
    assert all(event["at"] and event["record_hash"] for event in history)
    fund = api.get("/v1/fund/130434/2019").json()
    assert (fund["payouts"], fund["households_paid"], fund["fees"]) == ("16000.00", 1, "2400.00")


@pytest.mark.parametrize("step", PATH[1:])
def test_each_step_by_any_other_role_is_403_and_changes_nothing(api: Api, step: str) -> None:
    claim = api.claim_at(PATH[PATH.index(step) - 1])
    if step == "cross_checked":
        api.clock.advance(days=7)

    for role in ROLES:
        if role != ACTING[step]:
            response = api.move(claim, step, who=role)
            assert response.status_code == 403, (role, response.text)
            assert response.headers["content-type"] == "application/problem+json"

    assert api.get(f"/v1/claims/{claim['id']}").json()["version"] == claim["version"]
    assert api.move(claim, step).status_code == 200


@pytest.mark.parametrize("step", PATH[1:])
def test_each_step_by_the_right_role_of_another_county_is_403(api: Api, step: str) -> None:
    claim = api.claim_at(PATH[PATH.index(step) - 1])
    if step == "cross_checked":
        api.clock.advance(days=7)

    response = api.move(claim, step, who=f"other_{ACTING[step]}")

    assert response.status_code == 403
    assert api.get(f"/v1/claims/{claim['id']}", who="other_auditor").status_code == 403
    assert api.get(f"/v1/claims/{claim['id']}").json()["state"] == claim["state"]


@pytest.mark.parametrize(("at", "to"), [
    ("opened", "publicised"), ("opened", "paid"), ("surveyed", "cross_checked"), ("publicised", "filed"),
    ("cross_checked", "paid"), ("surveyed", "surveyed"),
])
def test_a_skipped_or_repeated_step_is_409_and_changes_nothing(api: Api, at: str, to: str) -> None:
    claim = api.claim_at(at)
    api.clock.advance(days=8)

    response = api.move(claim, to)

    assert response.status_code == 409, response.text
    assert response.headers["content-type"] == "application/problem+json"
    after = api.get(f"/v1/claims/{claim['id']}").json()
    assert (after["state"], after["version"], len(after["history"])) == (at, claim["version"],
                                                                         PATH.index(at) + 1)


def test_cross_check_before_the_publicity_days_are_over_is_409(api: Api) -> None:
    claim = api.claim_at("publicised")  # publicity from 8 October 2019, for 7 days (the pack's publicity_days)

    api.clock.advance(days=6, hours=14)  # 14 October, 23:00 in the county
    early = api.move(claim, "cross_checked")
    api.clock.advance(hours=1)  # 15 October, 00:00
    on_time = api.move(claim, "cross_checked")

    assert early.status_code == 409
    assert "2019-10-15" in early.json()["detail"]
    assert on_time.status_code == 200, on_time.text


def test_a_transition_with_a_stale_version_is_409_and_changes_nothing(api: Api) -> None:
    claim = api.open_claim()  # two surveyors read version 1
    first = api.move(claim, "surveyed")
    second = api.move(claim, "rejected", who="surveyor")

    assert first.status_code == 200
    assert second.status_code == 409
    assert "版本" in second.json()["detail"] and "刷新" in second.json()["detail"]
    after = api.get(f"/v1/claims/{claim['id']}").json()
    assert (after["state"], after["version"], len(after["history"])) == ("surveyed", 2, 2)


def test_two_clerks_moving_one_claim_at_once_one_wins_the_other_gets_409(api: Api) -> None:
    claim = api.open_claim()

    with ThreadPoolExecutor(8) as pool:
        statuses = sorted(pool.map(lambda _: api.move(claim, "surveyed").status_code, range(8)))

    assert statuses == [200] + [409] * 7
    after = api.get(f"/v1/claims/{claim['id']}").json()
    assert (after["version"], [e["step"] for e in after["history"]]) == (2, ["opened", "surveyed"])


@pytest.mark.parametrize("at", PATH[:-1])
def test_a_claim_is_rejected_at_any_step_with_its_reason_and_then_goes_nowhere(api: Api, at: str) -> None:
    claim = api.claim_at(at)
    rejecter = ACTING[PATH[PATH.index(at) + 1]]

    response = api.move(claim, "rejected", who=rejecter)

    assert response.status_code == 200, response.text
    rejected = response.json()
    assert rejected["state"] == "rejected" and rejected["next"] == []
    assert rejected["history"][-1]["record"] == {"reason": "the household's income is higher than declared",
                                                 "step": at}
    assert rejected["history"][-1]["who"]["name"] == rejecter
    assert api.move(rejected, "rejected", who=rejecter).status_code == 409


def test_the_village_rejects_a_publicised_claim_on_an_upheld_objection(api: Api) -> None:
    claim = api.claim_at("publicised")

    response = api.move(claim, "rejected", who="village", reason="objection upheld: the household owns a shop")

    assert response.status_code == 200
    assert response.json()["history"][-1]["record"]["step"] == "publicised"


def test_a_rejection_by_a_role_that_does_not_act_at_that_step_is_403(api: Api) -> None:
    claim = api.claim_at("surveyed")  # the village acts next

    assert api.move(claim, "rejected", who="department").status_code == 403
    assert api.move(claim, "rejected", who="auditor").status_code == 403


def test_a_rejection_without_a_reason_is_422_naming_the_field(api: Api) -> None:
    claim = api.open_claim()

    response = api.move(claim, "rejected", who="surveyor", reason="  ")

    assert (response.status_code, response.json()["field"]) == (422, "reason")


@pytest.mark.parametrize(("to", "overrides", "field"), [
    ("surveyed", {"visit_date": "2019-10-09"}, "visit_date"),  # in the future
    ("surveyed", {"verified": {"illness": "1.001", "schooling": "0", "disaster": "0"}}, "verified.illness"),
    ("surveyed", {"verified": {"illness": "1"}}, "verified.schooling"),
    ("surveyed", {"findings": ""}, "findings"),
    ("surveyed", {"version": 0}, "version"),
    ("surveyed", {"surprise": 1}, "surprise"),
])
def test_a_step_missing_what_it_must_record_is_422_naming_the_field(
    api: Api, to: str, overrides: dict[str, Any], field: str
) -> None:
    claim = api.open_claim()

    response = api.move(claim, to, **overrides)

    assert response.status_code == 422, response.text
    assert response.json()["field"] == field


def test_a_step_that_is_no_step_of_the_path_is_422_naming_to(api: Api) -> None:
    claim = api.open_claim()

    unknown = api.post(f"/v1/claims/{claim['id']}/transitions", {"to": "flying", "version": 1}, who="surveyor")
    missing = api.post(f"/v1/claims/{claim['id']}/transitions", {"version": 1}, who="surveyor")

    assert (unknown.status_code, unknown.json()["field"]) == (422, "to")
    assert (missing.status_code, missing.json()["field"]) == (422, "to")


def test_publicity_not_approved_or_with_an_upheld_objection_is_422(api: Api) -> None:
    claim = api.claim_at("surveyed")

    refused = api.move(claim, "publicised", deliberation={"result": "not_approved"})
    upheld = api.move(claim, "publicised", objections=[{"text": "owns a shop", "upheld": True}])

    assert (refused.status_code, refused.json()["field"]) == (422, "deliberation.result")
    assert (upheld.status_code, upheld.json()["field"]) == (422, "objections[0].upheld")


def test_a_department_that_does_not_confirm_is_422(api: Api) -> None:
    claim = api.claim_at("publicised")
    api.clock.advance(days=7)

    response = api.move(claim, "cross_checked", confirmations=[{"department": "health", "confirmed": False}])

    assert (response.status_code, response.json()["field"]) == (422, "confirmations[0].confirmed")


def test_a_payment_never_exceeds_the_amount_re_decided_at_filing(api: Api) -> None:
    claim = api.claim_at("filed")
    assert claim["amount_decided"] == "13000.00"

    over = api.move(claim, "paid", amount="13000.01")
    part = api.move(claim, "paid", amount=12000)

    assert (over.status_code, over.json()["field"]) == (422, "amount")
    assert part.status_code == 200
    assert (part.json()["amount_paid"], part.json()["fee"]) == ("12000.00", "1800.00")


def test_filing_when_the_verified_figures_owe_nothing_is_409(api: Api) -> None:
    claim = api.open_claim()
    claim = api.advance(claim, "surveyed", verified={"illness": "19000.00", "schooling": "0", "disaster": "0"})
    claim = api.advance(claim, "publicised")
    claim = api.advance(claim, "cross_checked")

    response = api.move(claim, "filed")

    assert response.status_code == 409
    assert "未超起付线" in response.json()["detail"]
    assert api.get(f"/v1/claims/{claim['id']}").json()["state"] == "cross_checked"


def test_a_second_claim_of_the_year_pays_only_what_the_first_did_not(api: Api) -> None:
    first = api.claim_at("paid")  # 13,000.00 for 45,000 of illness
    later = api.open_claim(illness=[{"id": "S1", "date": "2019-03-02", "burden": "45000.00"},
                                    {"id": "S2", "date": "2019-08-20", "burden": "10000.00"}])
    for step in ("surveyed", "publicised", "cross_checked"):
        later = api.advance(later, step, **({"verified": {"illness": "55000.00", "schooling": "0",
                                                          "disaster": "0"}} if step == "surveyed" else {}))
    later = api.advance(later, "filed")

    assert first["amount_paid"] == "13000.00"
    assert later["amount_decided"] == "6000.00"  # 55,000 → 19,000 owed for the year, 13,000 paid already


def test_one_household_has_one_open_claim_per_year(api: Api) -> None:
    api.open_claim()

    duplicate = api.post("/v1/claims", document(), who="village")
    other_household = api.post("/v1/claims", document("130434-0002"), who="village")

    assert duplicate.status_code == 409
    assert other_household.status_code == 201


def test_a_household_owed_nothing_opens_no_claim(api: Api) -> None:
    response = api.post("/v1/claims", document(income="19200.00"), who="office")  # 4,800 per capita

    assert response.status_code == 409
    assert "不在救助范围" in response.json()["detail"]
    assert api.get("/v1/claims").json()["total"] == 0


@pytest.mark.parametrize("who", ["surveyor", "department", "auditor", "other_office"])
def test_an_application_is_opened_only_by_the_office_or_village_of_the_county(api: Api, who: str) -> None:
    assert api.post("/v1/claims", document(), who=who).status_code == 403


def test_an_unknown_claim_is_404(api: Api) -> None:
    assert api.get("/v1/claims/424242").status_code == 404
    assert api.move({"id": 424242, "version": 1}, "surveyed").status_code == 404


def test_the_user_who_surveyed_a_claim_may_not_mark_it_paid_and_another_surveyor_may(api: Api) -> None:
    claim = api.claim_at("filed")

    refused = api.move(claim, "paid", who="surveyor")

    assert refused.status_code == 403
    assert "surveyor 办理了理赔" in refused.json()["detail"] and "另一位用户" in refused.json()["detail"]
    assert api.get(f"/v1/claims/{claim['id']}").json()["state"] == "filed"
    assert api.move(claim, "paid", who="payer").status_code == 200
