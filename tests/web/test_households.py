"""One household in the console, on SQLite and PostgreSQL: found by id, head's name or ID number; every
decision explained from its stored facts under its stored pack; its claims and their history."""

from __future__ import annotations

from tests.web.conftest import Console, text_of


def test_a_single_checks_household_is_found_by_name_id_number_and_household_id(console: Console) -> None:
    console.open_claim()
    surveyor = console.login("surveyor")
    for query in ("赵大山", "大山", "13043419800101001x", "130434-00"):
        page = surveyor.get("/console/households", params={"q": query})
        assert page.status_code == 200
        assert 'href="/console/households/130434-0001"' in page.text, query
    assert "13043419800101001X" in text_of(surveyor.get("/console/households", params={"q": "赵大山"}).text)
    village = console.login("village")  # sees the name, not the ID number (fangpin.privacy)
    assert "赵大山 130434********001X" in text_of(village.get("/console/households", params={"q": "赵大山"}).text)
    assert "没有找到" in text_of(surveyor.get("/console/households", params={"q": "王小二"}).text)
    data = surveyor.get("/console/api/households", params={"q": "赵"}).json()
    assert [item["household_id"] for item in data["items"]] == ["130434-0001"]


def test_the_household_page_explains_the_decision_base_excess_tiers_cap_increment(console: Console) -> None:
    claim_id = console.open_claim()
    page = console.login("village").get("/console/households/130434-0001")
    assert page.status_code == 200
    text = text_of(page.text)
    assert "赵大山" in text and "✓ 与存档一致" in text
    # SPEC example 1: 45,000 − 20,000 = 25,000 → 20,000 × 50 % + 5,000 × 60 % = 13,000.00, fee 1,950.00
    for shown in ("45,000.00 20,000.00 25,000.00", "20,000.00 × 50% = 10,000.00", "5,000.00 × 60% = 3,000.00",
                  "13,000.00 100,000.00 13,000.00 0.00 13,000.00", "服务费 1,950.00"):
        assert shown in text, shown
    assert "二(二) 阶梯化救助" in text and "非贫低收入户以自付费用2万元为起付线" in text
    assert f'href="/console/claims/{claim_id}"' in page.text and "立案" in text


def test_the_screened_households_are_found_by_the_head_from_the_console_runs_register(console: Console) -> None:
    office = console.login("office")
    console.screen_demo(office)
    page = office.get("/console/households", params={"q": "高兰婷"})
    assert 'href="/console/households/130434-000001"' in page.text
    household = office.get("/console/households/130434-000001")
    text = text_of(household.text)
    assert "高兰婷" in text and "来自筛查运行" in text and "✓ 与存档一致" in text


def test_another_countys_household_is_not_found(console: Console) -> None:
    console.open_claim()
    other = console.login("other_office")
    assert other.get("/console/households/130434-0001").status_code == 404
    assert "130434-0001" not in other.get("/console/households", params={"q": "赵大山"}).text


def test_the_household_page_names_the_rules_that_fired_by_the_pack_s_labels(console: Console) -> None:
    console.open_claim()

    text = text_of(console.login("office").get("/console/households/130434-0001").text)

    assert "因病·非贫低收入户(边缘户)" in text and "非贫低收入户(边缘户)" in text
    assert "Illness burden" not in text and "illness_edge" not in text and "(edge)" not in text
