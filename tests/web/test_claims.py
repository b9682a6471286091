"""The claims board on SQLite and PostgreSQL: each role is offered only its steps, and the console moves
claims through the API's own service, with its role, county, version and publicity checks."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from fangpin.db.claims_models import Claim, ClaimEvent, RequestLog
from fangpin.db.session import session_scope
from tests.web.conftest import Console, csrf_of, text_of


def state_of(console: Console, claim_id: int) -> tuple[str, int]:
    with session_scope(console.database_url) as session:
        claim = session.get(Claim, claim_id)
        assert claim is not None
        return claim.state, claim.version


def step(console: Console, who: str, claim_id: int, to: str, **fields: Any) -> Any:
    client = console.login(who)
    page = client.get(f"/console/claims/{claim_id}")
    data = {"csrf": csrf_of(page.text), "to": to, "version": str(state_of(console, claim_id)[1])}
    today = console.clock().date().isoformat()
    defaults = {
        "surveyed": {"visit_date": today, "findings": "住院票据已核实", "verified_illness": "45000.00",
                     "verified_schooling": "0.00", "verified_disaster": "0.00"},
        "publicised": {"publicity_start": today, "notes": "村民代表评议通过"},
        "cross_checked": {"department_1": "卫健局", "confirmed_1": "on", "reference_1": "WJ-7",
                          "department_2": "民政局", "confirmed_2": "on"},
        "filed": {"filing_number": "FP-2019-0001"},
        "paid": {"payment_reference": "PICC-88", "amount": "13000.00", "paid_on": today},
        "rejected": {"reason": "收入高于申报"},
    }
    data.update(defaults[to])
    data.update(fields)
    return client.post(f"/console/claims/{claim_id}/transitions", data=data)


def test_the_right_role_moves_a_claim_one_step_and_the_wrong_one_is_refused(console: Console) -> None:
    claim_id = console.open_claim()
    village = console.login("village")
    page = village.get(f"/console/claims/{claim_id}")
    assert page.status_code == 200
    assert 'id="step-surveyed"' not in page.text and "保险公司查勘员办理" in text_of(page.text)

    refused = step(console, "village", claim_id, "surveyed")
    refusal = text_of(refused.text)
    assert refused.status_code == 403 and "无权操作" in refusal and "村(评议公示)不办理“入户查勘”这一步" in refusal
    assert state_of(console, claim_id) == ("opened", 1)

    surveyor = console.login("surveyor")
    form = surveyor.get(f"/console/claims/{claim_id}")
    assert 'id="step-surveyed"' in form.text and 'id="step-rejected"' in form.text
    moved = step(console, "surveyor", claim_id, "surveyed")
    assert moved.status_code == 303 and moved.headers["location"] == f"/console/claims/{claim_id}?done=surveyed"
    assert state_of(console, claim_id) == ("surveyed", 2)
    with session_scope(console.database_url) as session:
        event = session.scalars(select(ClaimEvent).where(ClaimEvent.step == "surveyed")).one()
        assert (event.who, event.role) == ("surveyor", "surveyor")
        assert event.payload["verified"] == {"illness": "45000.00", "schooling": "0.00", "disaster": "0.00",
                                             "per_capita_income": None}
        logged = session.scalars(select(RequestLog).where(RequestLog.path.endswith("/transitions"))).all()
        assert sorted((entry.who, entry.status) for entry in logged) == [("surveyor", 303), ("village", 403)]
    done = surveyor.get(f"/console/claims/{claim_id}?done=surveyed")
    assert "已完成:入户查勘" in text_of(done.text)


@pytest.mark.parametrize("who", ["other_surveyor", "auditor", "office", "department"])
def test_a_user_of_another_county_or_role_cannot_survey(console: Console, who: str) -> None:
    claim_id = console.open_claim()
    if who.startswith("other_"):
        client = console.login(who)
        assert client.get(f"/console/claims/{claim_id}").status_code == 403
        response = client.post(f"/console/claims/{claim_id}/transitions", data={
            "csrf": console.csrf(client), "to": "surveyed", "version": "1", "visit_date": "2019-10-08",
            "findings": "看过", "verified_illness": "45000.00"})
    else:
        response = step(console, who, claim_id, "surveyed")
    assert response.status_code == 403
    assert state_of(console, claim_id) == ("opened", 1)


def test_a_stale_version_and_an_invalid_form_are_refused_and_change_nothing(console: Console) -> None:
    claim_id = console.open_claim()
    stale = step(console, "surveyor", claim_id, "surveyed", version="7")
    assert stale.status_code == 409 and "已被他人办理" in text_of(stale.text) and "请刷新页面" in text_of(stale.text)
    invalid = step(console, "surveyor", claim_id, "surveyed", verified_illness="a lot")
    assert invalid.status_code == 422 and "核实金额·因病:“a lot”不是金额" in text_of(invalid.text)
    future = step(console, "surveyor", claim_id, "surveyed", visit_date="2030-01-01")
    assert future.status_code == 422 and "入户日期:2030-01-01 晚于今天" in text_of(future.text)
    assert state_of(console, claim_id) == ("opened", 1)


def test_the_whole_path_through_the_console_with_the_publicity_shown_with_its_end(console: Console) -> None:
    claim_id = console.open_claim()
    assert step(console, "surveyor", claim_id, "surveyed").status_code == 303
    assert step(console, "village", claim_id, "publicised").status_code == 303

    board = console.login("department").get("/console/claims", params={"state": "publicised"})
    assert "2019-10-08 至 2019-10-14(7 天)" in text_of(board.text)
    early = step(console, "department", claim_id, "cross_checked")
    assert early.status_code == 409 and "2019-10-15" in early.text
    page = console.login("department").get(f"/console/claims/{claim_id}")
    assert "2019-10-08 至 2019-10-14" in text_of(page.text) and "2019-10-15 起可进行部门比对" in text_of(page.text)

    console.clock.advance(days=7)
    assert step(console, "department", claim_id, "cross_checked").status_code == 303
    assert step(console, "office", claim_id, "filed").status_code == 303
    assert step(console, "surveyor", claim_id, "paid").status_code == 403  # surveyed it: another user pays
    assert step(console, "payer", claim_id, "paid").status_code == 303
    assert state_of(console, claim_id) == ("paid", 6)
    with session_scope(console.database_url) as session:
        steps = session.scalars(select(ClaimEvent.step).where(ClaimEvent.claim_id == claim_id)
                                .order_by(ClaimEvent.seq)).all()
    assert steps == ["opened", "surveyed", "publicised", "cross_checked", "filed", "paid"]


def test_the_board_lists_claims_by_state_and_marks_the_roles_own_steps(console: Console) -> None:
    first, second = console.open_claim(), console.open_claim(household_id="130434-0002")
    assert step(console, "surveyor", first, "surveyed").status_code == 303

    surveyor = console.login("surveyor")
    board = surveyor.get("/console/claims")
    text = text_of(board.text)
    assert "已立案1" in text.replace(" ", "") and "已入户查勘1" in text.replace(" ", "")
    assert f'href="/console/claims/{second}#step-surveyed"' in board.text  # its own step, offered
    village = console.login("village").get("/console/claims", params={"state": "surveyed"})
    assert f'href="/console/claims/{first}#step-publicised"' in village.text
    other = console.login("other_village").get("/console/claims", params={"state": "surveyed"})
    assert other.status_code == 200 and f"/console/claims/{first}" not in other.text
    auditor = console.login("auditor").get("/console/claims", params={"state": "opened"})
    assert auditor.status_code == 200 and "#step-" not in auditor.text
