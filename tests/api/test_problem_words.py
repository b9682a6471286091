"""The API's problem details in the people's words: ``type``, ``title``, ``status`` and ``field`` are the
machine codes they always were; ``detail`` is Chinese, names the field by its label and says what to do."""

from __future__ import annotations

import re

from tests.api.conftest import Api

ENGLISH = re.compile(r"\b(?:a|the|is|not|may|never|role|claim|exceeds|began|amount)\b")
PROBLEMS = "https://fangpin.example/problems/"


def _plain(detail: str) -> None:
    assert re.search(r"[\u4e00-\u9fff]", detail), detail
    assert not ENGLISH.search(detail), detail


def test_a_role_that_never_makes_a_step_is_told_who_does(api: Api) -> None:
    claim = api.open_claim()

    refused = api.move(claim, "surveyed", who="village")

    problem = refused.json()
    assert refused.status_code == 403
    assert (problem["type"], problem["title"]) == (f"{PROBLEMS}not-allowed", "Not allowed")
    assert problem["detail"] == "村(评议公示)不办理“入户查勘”这一步:由保险公司查勘员办理"


def test_a_verified_figure_that_is_no_amount_is_named_by_its_cause_s_label(api: Api) -> None:
    claim = api.open_claim()

    refused = api.move(claim, "surveyed", verified={"illness": "一万二", "schooling": "0", "disaster": "0"})

    problem = refused.json()
    assert (refused.status_code, problem["field"], problem["title"]) == (422, "verified.illness", "Invalid request")
    assert problem["detail"].startswith("核实金额·因病:“一万二”不是金额")
    _plain(problem["detail"])


def test_a_pydantic_refusal_names_the_field_s_label_in_chinese(api: Api) -> None:
    claim = api.open_claim()

    refused = api.move(claim, "surveyed", visit_date="yesterday")
    missing = api.move(claim, "surveyed", findings=None)

    assert (refused.status_code, refused.json()["field"]) == (422, "visit_date")
    assert refused.json()["detail"].startswith("入户日期:不是有效日期")
    assert (missing.status_code, missing.json()["field"]) == (422, "findings")
    _plain(refused.json()["detail"])


def test_cross_checking_during_publicity_says_the_day_it_may_start(api: Api) -> None:
    claim = api.claim_at("publicised")  # publicity from 8 October 2019, for 7 days

    early = api.move(claim, "cross_checked")

    assert (early.status_code, early.json()["title"]) == (409, "Conflict")
    assert early.json()["detail"].startswith("公示自 2019-10-08 开始,为期 7 天:2019-10-15 起才能进行部门信息比对")
    _plain(early.json()["detail"])


def test_a_payment_above_the_filed_amount_names_both_amounts_grouped(api: Api) -> None:
    claim = api.claim_at("filed")

    over = api.move(claim, "paid", amount="13000.01")

    assert (over.status_code, over.json()["field"]) == (422, "amount")
    assert over.json()["detail"] == "金额:13,000.01 元超过备案金额 13,000.00 元,请按备案金额以内支付"


def test_a_year_no_pack_covers_names_the_years_without_a_path_or_a_flag(api: Api) -> None:
    from tests.support import document

    refused = api.post("/v1/checks", document(year=2025, illness=[{"id": "S1", "date": "2025-03-02",
                                                                    "burden": "45000.00"}]), who="office")

    problem = refused.json()
    assert (refused.status_code, problem["field"]) == (422, "year")
    assert "2025" in problem["detail"] and "2019、2020、2023" in problem["detail"]
    assert "--pack" not in problem["detail"] and "/" not in problem["detail"]


def test_an_unknown_api_path_stays_json(api: Api) -> None:
    response = api.get("/v1/no-such-thing")

    assert response.status_code == 404 and response.headers["content-type"] == "application/problem+json"
    assert response.json()["title"] == "Not found" and "没有这个页面或资源" in response.json()["detail"]
