"""Forms that forgive, on SQLite and PostgreSQL: a refused form comes back with what was typed and the error
beside its field; a step not yet open is disabled and says the day it opens; a fiscal input is confirmed
before it is recorded, warned about when its amount was recorded already, and corrected by a new entry;
the screening year is a choice of the packs' years; heads' names appear where people act, masked for the
roles that may not see them; counties have their names."""

from __future__ import annotations

import csv
import html
import re
from typing import Any

from sqlalchemy import select, text

from fangpin.db.claims_models import ClaimEvent, FundInput
from fangpin.db.session import session_scope
from fangpin.packs.loader import available_packs
from fangpin.services import fund as fund_service
from fangpin.services.audit import verify_chains
from tests.web.conftest import Console, text_of
from tests.web.test_claims import state_of, step


def _value(page: str, name: str) -> str | None:
    """The value an input (or the text a textarea) of the page holds."""
    found = re.search(rf'<input[^>]*name="{re.escape(name)}"[^>]*value="([^"]*)"', page)
    if found:
        return html.unescape(found.group(1))
    area = re.search(rf'<textarea[^>]*name="{re.escape(name)}"[^>]*>(.*?)</textarea>', page, flags=re.S)
    return html.unescape(area.group(1)) if area else None


# --- claim steps ----------------------------------------------------------------------------------------

def test_a_refused_survey_keeps_what_was_typed_and_shows_the_error_beside_the_amount(console: Console) -> None:
    claim_id = console.open_claim()
    findings = "住院票据已核实;另有门诊票据 3 张待补"

    refused = step(console, "surveyor", claim_id, "surveyed", findings=findings, verified_illness="一万二",
                   verified_schooling="1,200.00")

    assert refused.status_code == 422
    assert _value(refused.text, "findings") == findings
    assert _value(refused.text, "verified_illness") == "一万二"
    assert _value(refused.text, "verified_schooling") == "1,200.00"
    error = re.search(r'<small class="field-error" id="error-verified_illness"[^>]*>(.*?)</small>', refused.text)
    assert error and "一万二" in html.unescape(error.group(1))
    assert re.search(r'name="verified_illness"[^>]*aria-invalid="true"', refused.text)
    assert 'id="error-findings"' not in refused.text  # only the field at fault
    assert state_of(console, claim_id) == ("opened", 1)


def test_amounts_on_the_claim_forms_are_read_as_accountants_write_them(console: Console) -> None:
    claim_id = console.open_claim()

    moved = step(console, "surveyor", claim_id, "surveyed", verified_illness="45,000.00", verified_schooling="0.12万")

    assert moved.status_code == 303
    with session_scope(console.database_url) as session:
        event = session.scalars(select(ClaimEvent).where(ClaimEvent.step == "surveyed")).one()
    assert event.payload["verified"]["illness"] == "45000.00"
    assert event.payload["verified"]["schooling"] == "1200.00"


def test_a_refused_cross_check_keeps_the_departments_and_reference_numbers(console: Console) -> None:
    claim_id = console.open_claim()
    assert step(console, "surveyor", claim_id, "surveyed").status_code == 303
    assert step(console, "village", claim_id, "publicised").status_code == 303
    console.clock.advance(days=7)

    refused = step(console, "department", claim_id, "cross_checked", department_1="县卫健局",
                   reference_1="卫比〔2019〕12号", department_2="县卫健局", reference_2="卫比〔2019〕13号")

    assert refused.status_code == 422
    assert [_value(refused.text, f"department_{i}") for i in (1, 2, 3)] == ["县卫健局", "县卫健局", ""]
    assert [_value(refused.text, f"reference_{i}") for i in (1, 2)] == ["卫比〔2019〕12号", "卫比〔2019〕13号"]
    assert 'id="error-department_2"' in refused.text and 'id="error-department_1"' not in refused.text
    assert state_of(console, claim_id) == ("publicised", 3)


def test_a_refused_payment_keeps_its_reference_and_amount(console: Console) -> None:
    claim_id = console.open_claim()
    for who, to in (("surveyor", "surveyed"), ("village", "publicised")):
        assert step(console, who, claim_id, to).status_code == 303
    console.clock.advance(days=7)
    for who, to in (("department", "cross_checked"), ("office", "filed")):
        assert step(console, who, claim_id, to).status_code == 303

    refused = step(console, "payer", claim_id, "paid", payment_reference="PICC-2019-88", amount="99,000.00")

    assert refused.status_code in (409, 422)
    assert _value(refused.text, "payment_reference") == "PICC-2019-88"
    assert _value(refused.text, "amount") == "99,000.00"
    assert state_of(console, claim_id) == ("filed", 5)


def test_cross_check_is_disabled_until_the_publicity_is_over_and_says_the_day_it_opens(console: Console) -> None:
    claim_id = console.open_claim()
    assert step(console, "surveyor", claim_id, "surveyed").status_code == 303
    assert step(console, "village", claim_id, "publicised").status_code == 303
    department = console.login("department")

    early = department.get(f"/console/claims/{claim_id}").text
    board = department.get("/console/claims", params={"state": "publicised"}).text

    button = re.search(r'<button type="submit" disabled id="submit-cross_checked">(.*?)</button>', early)
    assert button and "2019-10-15 起可办理" in button.group(1)  # 7 publicity days from 2019-10-08
    assert "2019-10-15" in text_of(re.search(r'id="opens-cross_checked".*?</p>', early, flags=re.S).group(0))
    assert f'href="/console/claims/{claim_id}#step-cross_checked"' not in board and "(2019-10-15 起)" in board
    assert 'id="submit-rejected"' in early and not re.search(r'disabled id="submit-rejected"', early)

    console.clock.advance(days=7)  # sessions last hours: sign in again
    later = console.login("department").get(f"/console/claims/{claim_id}").text
    assert 'id="submit-cross_checked"' in later and not re.search(r"disabled id=\"submit-cross_checked\"", later)


def test_the_payment_is_disabled_for_the_surveyor_who_surveyed_the_claim(console: Console) -> None:
    claim_id = console.open_claim()
    assert step(console, "surveyor", claim_id, "surveyed").status_code == 303
    assert step(console, "village", claim_id, "publicised").status_code == 303
    console.clock.advance(days=7)
    for who, to in (("department", "cross_checked"), ("office", "filed")):
        assert step(console, who, claim_id, to).status_code == 303

    assert re.search(r'disabled id="submit-paid"', console.login("surveyor").get(f"/console/claims/{claim_id}").text)
    assert not re.search(r'disabled id="submit-paid"', console.login("payer").get(f"/console/claims/{claim_id}").text)


# --- the fund -------------------------------------------------------------------------------------------

def _input(console: Console, client: Any, **fields: str) -> Any:
    data = {"csrf": console.csrf(client, "/console/fund?year=2019"), "year": "2019", "amount": "36,105,000.00",
            "paid_on": "2019-03-01", "purpose": "县级财政配套资金"}
    data.update(fields)
    return client.post("/console/fund/inputs", data=data)


def _inputs(console: Console) -> list[tuple[int, int, str | None, int | None]]:
    with session_scope(console.database_url) as session:
        return [(row.id, row.amount, row.purpose, row.corrects_id)
                for row in session.scalars(select(FundInput).order_by(FundInput.seq))]


def test_a_fiscal_input_is_shown_back_in_figures_and_words_and_recorded_only_when_confirmed(console: Console) -> None:
    office = console.login("office")

    review = _input(console, office, amount="3610.5万")

    assert review.status_code == 200 and _inputs(console) == []
    shown = text_of(re.search(r'id="input-review".*?</div>', review.text, flags=re.S).group(0))
    assert "36,105,000.00" in shown and "叁仟陆佰壹拾万零伍仟元整" in shown and "2019-03-01" in shown
    assert 'id="duplicate-warning"' not in review.text

    done = _input(console, office, amount="3610.5万", confirm="yes", seen="0")

    assert done.status_code == 303 and done.headers["location"] == "/console/fund?year=2019&done=input"
    [(_, amount, purpose, corrects)] = _inputs(console)
    assert (amount, purpose, corrects) == (3_610_500_000, "县级财政配套资金", None)
    with session_scope(console.database_url) as session:
        assert session.scalars(select(FundInput.paid_on)).one().isoformat() == "2019-03-01"
    page = office.get("/console/fund", params={"year": 2019}).text
    ledger = text_of(re.search(r'id="input-ledger".*?</table>', page, flags=re.S).group(0))
    assert "2019-03-01" in ledger and "县级财政配套资金" in ledger and "36,105,000.00" in ledger


def test_the_same_amount_again_is_warned_about_and_recorded_only_when_confirmed_again(console: Console) -> None:
    office = console.login("office")
    assert _input(console, office, confirm="yes").status_code == 303

    again = _input(console, office, purpose="第二批配套资金")
    blind = _input(console, office, purpose="第二批配套资金", confirm="yes", seen="0")  # confirmed before the warning

    assert again.status_code == 200 and 'id="duplicate-warning"' in again.text
    assert "#1" in text_of(re.search(r'id="duplicate-warning".*?</p>', again.text, flags=re.S).group(0))
    assert 'name="seen" value="1"' in again.text and "仍然确认记录" in again.text
    assert blind.status_code == 200 and 'id="duplicate-warning"' in blind.text
    assert len(_inputs(console)) == 1

    assert _input(console, office, purpose="第二批配套资金", confirm="yes", seen="1").status_code == 303
    assert [amount for _, amount, _, _ in _inputs(console)] == [3_610_500_000, 3_610_500_000]


def test_a_refused_fiscal_input_keeps_what_was_typed_with_the_error_beside_its_field(console: Console) -> None:
    office = console.login("office")

    bad_amount = _input(console, office, amount="1,00,000", purpose="县级财政配套资金(第一批)")
    no_purpose = _input(console, office, purpose="   ")
    future = _input(console, office, paid_on="2030-01-01")

    assert bad_amount.status_code == 422 and 'id="error-amount"' in bad_amount.text
    assert _value(bad_amount.text, "amount") == "1,00,000"
    assert _value(bad_amount.text, "purpose") == "县级财政配套资金(第一批)"
    assert no_purpose.status_code == 422 and 'id="error-purpose"' in no_purpose.text
    assert _value(no_purpose.text, "amount") == "36,105,000.00"
    assert future.status_code == 422 and 'id="error-paid_on"' in future.text
    assert _value(future.text, "paid_on") == "2030-01-01"
    assert _inputs(console) == []


def test_a_correction_is_a_new_input_holding_the_difference_and_the_ledger_adds_up(console: Console) -> None:
    office = console.login("office")
    assert _input(console, office, confirm="yes").status_code == 303
    assert _input(console, office, amount="500,000.00", purpose="省级补助", confirm="yes").status_code == 303
    [(first, _, _, _), _] = _inputs(console)

    form = office.get("/console/fund", params={"year": 2019, "corrects": first}).text
    review = _input(console, office, amount="30,000,000.00", purpose="预算调整:应为 3000 万", corrects=str(first))
    done = _input(console, office, amount="30,000,000.00", purpose="预算调整:应为 3000 万", corrects=str(first),
                  confirm="yes", seen="0")
    again = _input(console, office, amount="30,000,000.00", purpose="再次", corrects=str(first))
    of_a_correction = _input(console, office, amount="0", purpose="冲销", corrects=str(first + 2))

    assert "更正一笔财政投入" in form and f'<option value="{first}" selected>' in form
    shown = text_of(re.search(r'id="input-review".*?</div>', review.text, flags=re.S).group(0))
    assert "36,105,000.00" in shown and "30,000,000.00" in shown and "-6,105,000.00" in shown
    assert done.status_code == 303 and done.headers["location"].endswith("done=correction")
    assert again.status_code == 422 and 'id="error-amount"' in again.text  # stands at 30,000,000 already
    assert of_a_correction.status_code == 422 and 'id="error-corrects"' in of_a_correction.text
    inputs = _inputs(console)
    assert [(amount, corrects) for _, amount, _, corrects in inputs] == [
        (3_610_500_000, None), (50_000_000, None), (-610_500_000, first)]
    with session_scope(console.database_url) as session:
        line = fund_service.fund_line(session, "130434", 2019)
        assert line.fiscal_input == sum(amount for _, amount, _, _ in inputs) == 3_050_000_000
        assert [entry["stands_at"] for entry in fund_service.ledger(session, "130434", 2019)] == [
            3_000_000_000, None, None]
        assert verify_chains(session) == []
    page = office.get("/console/fund", params={"year": 2019}).text
    ledger = text_of(re.search(r'id="input-ledger".*?</table>', page, flags=re.S).group(0))
    assert f"更正 #{first}" in ledger and "已更正为 30,000,000.00" in ledger and "30,500,000.00" in ledger


def test_fund_inputs_recorded_before_their_day_and_purpose_still_verify_and_the_new_fields_are_chained(
    console: Console,
) -> None:
    with session_scope(console.database_url) as session:  # an input as fangpin 0.3 recorded it: no day, no purpose
        from fangpin.db.chained import append_one

        append_one(session, FundInput, "130434", {"county": "130434", "year": 2019, "amount": 100, "recorded_by": "old",
                                                  "at": console.clock()})
        fund_service.record_input(session, "130434", 2019, "2.00", "office", console.clock(), purpose="新")
    with session_scope(console.database_url) as session:
        assert verify_chains(session) == []
    with session_scope(console.database_url) as session:
        session.execute(text("UPDATE fund_inputs SET purpose = '改过' WHERE recorded_by = 'office'"))
    with session_scope(console.database_url) as session:
        broken = verify_chains(session)
        assert len(broken) == 1 and "fund_inputs" in str(broken[0])
        session.execute(text("UPDATE fund_inputs SET purpose = '新' WHERE recorded_by = 'office'"))
        session.execute(text("UPDATE fund_inputs SET purpose = '补写' WHERE recorded_by = 'old'"))
    with session_scope(console.database_url) as session:
        broken = verify_chains(session)
        assert len(broken) == 1 and "seq 1" in str(broken[0])


# --- the screening year ---------------------------------------------------------------------------------

def test_the_screening_year_is_a_choice_of_the_years_the_packs_cover(console: Console) -> None:
    office = console.login("office")
    years = sorted({year for pack in available_packs() for year in pack.meta.years})

    page = office.get("/console/screening").text
    refused = office.post("/console/screening", data={"csrf": console.csrf(office), "year": "2020",
                                                      "county": "130434"}, files=[("files", ("notes.txt", b"x"))])

    select_ = re.search(r'<select name="year".*?</select>', page, flags=re.S).group(0)
    offered = [int(year) for year in re.findall(r'<option value="(\d+)"', select_)]
    assert sorted(offered) == years and len(years) >= 2
    chosen = re.findall(r'<option value="(\d+)" selected', select_)
    assert chosen == [str(max(year for year in years if year <= 2019))]  # the clock stands in 2019
    assert refused.status_code == 422
    kept = re.search(r'<select name="year".*?</select>', refused.text, flags=re.S).group(0)
    assert re.findall(r'<option value="(\d+)" selected', kept) == ["2020"]


# --- names where people act -----------------------------------------------------------------------------

def _row(page: str, table_id: str, household_id: str) -> str:
    table = re.search(rf'id="{table_id}".*?</table>', page, flags=re.S).group(0)
    row = next(row for row in re.findall(r"<tr>.*?</tr>", table, flags=re.S) if household_id in row)
    return text_of(row)


def test_the_claims_board_and_a_claim_name_the_head_as_each_role_may_see_it(console: Console) -> None:
    claim_id = console.open_claim()  # 赵大山, 13043419800101001X, 东代固镇 东村

    seen = {who: _row(console.login(who).get("/console/claims", params={"state": "opened"}).text, "claims-table",
                      "130434-0001") for who in ("office", "village", "department", "auditor")}
    claim = {who: text_of(re.search(r'id="claim-head">.*?</td>', console.login(who).get(
        f"/console/claims/{claim_id}").text, flags=re.S).group(0)) for who in ("surveyor", "village", "auditor")}

    assert "赵大山" in seen["office"] and "赵大山" in seen["village"] and "东村" in seen["office"]
    assert "赵**" in seen["department"] and "赵大山" not in seen["department"]
    assert "赵**" in seen["auditor"] and "赵大山" not in seen["auditor"]
    assert "赵大山" in claim["surveyor"] and "13043419800101001X" in claim["surveyor"]
    assert "赵大山" in claim["village"] and "130434********001X" in claim["village"]
    assert "赵**" in claim["auditor"] and "13043419800101001X" not in claim["auditor"]


def test_a_run_s_decisions_and_a_search_by_household_prefix_name_the_head(console: Console) -> None:
    run_id = console.screen_demo(console.login("office"))["run_id"]
    with (console.runs_dir / run_id / "households.csv").open(encoding="utf-8-sig") as handle:
        first = next(row for row in csv.DictReader(handle) if row["head_name"])
    household, name = first["household_id"], first["head_name"]
    masked = name[0] + "*" * (len(name) - 1)

    office = console.login("office").get(f"/console/runs/{run_id}/decisions",
                                         params={"household": household}).text
    auditor = console.login("auditor").get(f"/console/runs/{run_id}/decisions",
                                           params={"household": household}).text
    search = console.login("office").get("/console/households", params={"q": household[:9]}).text

    assert name in text_of(office) and first["village"] in text_of(office)
    assert masked in text_of(auditor) and name not in text_of(auditor)
    hit = _row(search, "household-hits", household)
    assert name in hit and first["head_id"] in hit


# --- county names ---------------------------------------------------------------------------------------

def test_the_console_names_the_county(console: Console) -> None:
    home = console.login("office").get("/console").text
    other = console.login("other_office").get("/console/fund", params={"year": 2019}).text

    assert "魏县 (130434)" in text_of(re.search(r'<header class="top">.*?</header>', home, flags=re.S).group(0))
    assert "曲周县 (130435)" in text_of(other)
