"""The auditor's replays and the fund in the console, on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import inspect

from fangpin.db.session import get_engine
from tests.web.conftest import Console, text_of


def test_the_auditor_replays_a_run_under_its_own_pack_and_under_another(console: Console) -> None:
    run_id = console.screen_demo(console.login("office"))["run_id"]
    auditor = console.login("auditor")
    assert run_id in auditor.get("/console/audit").text

    same = auditor.get("/console/audit/replay", params={"run": run_id})
    assert same.status_code == 200
    text = text_of(same.text)
    assert "一致" in text and "不一致" not in text and "结果改变" not in text and f"运行 {run_id}" in text

    other = auditor.get("/console/audit/replay", params={"run": run_id, "pack": "handan-2020"})
    assert other.status_code == 200
    text = text_of(other.text)
    assert "结果改变" in text and "贫困线 3,200.00 4,000.00" in text and "poverty_line" not in text
    assert 'id="replay-diff"' in other.text and "赔付合计" in text
    page_two = auditor.get("/console/audit/replay", params={"run": run_id, "pack": "handan-2020", "page": 2})
    assert page_two.status_code == 200


def test_the_auditor_replays_one_decision_and_nobody_else_replays(console: Console) -> None:
    console.open_claim()
    auditor = console.login("auditor")
    assert "一致" in text_of(auditor.get("/console/audit/replay", params={"decision": 1}).text)
    assert auditor.get("/console/audit/replay", params={"decision": 999}).status_code == 404
    assert auditor.get("/console/audit/replay", params={"pack": "nope", "decision": 1}).status_code == 422
    for who in ("office", "surveyor", "village", "department"):
        assert console.login(who).get("/console/audit/replay", params={"decision": 1}).status_code == 403
    assert console.login("other_auditor").get("/console/audit/replay", params={"decision": 1}).status_code == 403


def test_the_office_records_a_fiscal_input_and_the_fund_shows_it_by_month(console: Console) -> None:
    office = console.login("office")
    typed = {"csrf": console.csrf(office), "year": "2019", "amount": "36,105,000.00", "paid_on": "2019-10-08",
             "purpose": "县级财政配套资金"}
    review = office.post("/console/fund/inputs", data=typed)
    assert review.status_code == 200 and 'id="confirm-input"' in review.text  # shown back, nothing stored yet
    response = office.post("/console/fund/inputs", data={**typed, "confirm": "yes", "seen": "0"})
    assert response.status_code == 303
    page = office.get("/console/fund", params={"year": 2019})
    assert "36,105,000.00" in text_of(page.text)
    chart = office.get("/console/api/fund/2019/chart").json()
    assert chart["months"][0] == "2019-01" and len(chart["months"]) == 12
    assert chart["input"][9] == 36105000.0 and chart["balance"][-1] == 36105000.0
    assert chart["line"]["fiscal_input"] == "36105000.00"

    auditor = console.login("auditor")
    assert auditor.get("/console/fund", params={"year": 2019}).status_code == 200
    refused = auditor.post("/console/fund/inputs", data={"csrf": console.csrf(auditor), "year": "2019",
                                                        "amount": "1.00", "paid_on": "2019-10-08", "purpose": "x",
                                                        "confirm": "yes"})
    assert refused.status_code == 403
    bad = office.post("/console/fund/inputs", data={"csrf": console.csrf(office), "year": "2019", "amount": "-5",
                                                   "paid_on": "2019-10-08", "purpose": "x"})
    assert bad.status_code == 422
    assert console.login("surveyor").get("/console/fund").status_code == 403


def test_the_console_sessions_table_comes_with_the_migrations(console: Console) -> None:
    engine = get_engine(console.database_url)
    columns = {column["name"] for column in inspect(engine).get_columns("console_sessions")}
    assert columns == {"id_hash", "user_name", "created_at", "expires_at"}
