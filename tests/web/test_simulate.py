"""Policy simulation in the console (政策模拟): a run simulated under another pack with its charts, draft packs
uploaded as a zip or made in a form, on SQLite and PostgreSQL."""

from __future__ import annotations

from tests.api.test_simulations import draft_zip, zipped
from tests.web.conftest import Console, text_of


def test_the_office_simulates_its_run_under_the_2020_line_and_reads_the_charts(console: Console) -> None:
    office = console.login("office")
    run_id = console.screen_demo(office)["run_id"]
    assert run_id in office.get("/console/simulate").text

    page = office.get("/console/simulate", params={"run": run_id, "pack": "handan-2020"})

    assert page.status_code == 200, page.text
    text = text_of(page.text)
    assert "赔付合计变化(元) 34,516.40" in text
    assert "贫困线 3,200.00 4,000.00 二(一)" in text and "poverty_line" not in text
    assert 'data-chart="simTownships"' in page.text and 'data-chart="simFlows"' in page.text
    chart = office.get("/console/api/simulate/chart", params={"run": run_id, "pack": "handan-2020"}).json()
    assert len(chart["townships"]["names"]) == 4
    assert round(sum(chart["townships"]["difference"]) * 100) == 3451640
    assert sum(link["value"] for link in chart["flows"]["links"]) == 34
    assert sum(chart["bands"]["households"]) == 34

    assert console.login("auditor").get("/console/simulate", params={"run": run_id, "pack": "handan-2020"}
                                        ).status_code == 200
    assert console.login("surveyor").get("/console/simulate").status_code == 403
    assert console.login("other_office").get("/console/simulate", params={"run": run_id, "pack": "handan-2020"}
                                             ).status_code == 403
    assert office.get("/console/simulate", params={"run": run_id, "pack": "nope"}).status_code == 422


def test_a_draft_uploaded_in_the_console_is_validated_stored_and_simulated(console: Console) -> None:
    office = console.login("office")
    run_id = console.screen_demo(office)["run_id"]

    stored = office.post("/console/simulate/drafts", data={"csrf": console.csrf(office)},
                         files={"pack": ("draft.zip", draft_zip(), "application/zip")})

    assert stored.status_code == 303, stored.text
    draft_hash = stored.headers["location"].split("uploaded=")[1]
    assert "已校验并保存" in text_of(office.get(stored.headers["location"]).text)
    page = office.get("/console/simulate", params={"run": run_id, "pack": draft_hash})
    assert page.status_code == 200
    text = text_of(page.text)
    assert "draft-edge" in text and "(草案)" in text and "因病起付线(非贫低收入户) 20,000.00 15,000.00" in text

    broken = office.post("/console/simulate/drafts", data={"csrf": console.csrf(office)},
                         files={"pack": ("draft.zip", draft_zip("12.345"), "application/zip")})
    assert broken.status_code == 422 and "parameters.yaml" in text_of(broken.text)
    outside = office.post("/console/simulate/drafts", data={"csrf": console.csrf(office)},
                          files={"pack": ("x.zip", zipped({"../pack.yaml": "x"}, folder=""), "application/zip")})
    assert outside.status_code == 422
    auditor = console.login("auditor")
    refused = auditor.post("/console/simulate/drafts", data={"csrf": console.csrf(auditor)},
                           files={"pack": ("draft.zip", draft_zip(), "application/zip")})
    assert refused.status_code == 403


def test_a_draft_made_in_the_form_changes_only_the_parameters_filled_in(console: Console) -> None:
    office = console.login("office")
    run_id = console.screen_demo(office)["run_id"]

    made = office.post("/console/simulate/drafts/form", data={
        "csrf": console.csrf(office), "base": "handan-2019", "title": "2020年线",
        "param:handan-2019:poverty_line": "4,000.00", "param:handan-2019:illness_cap": "",
        "param:handan-2020:poverty_line": "9999.00"})

    assert made.status_code == 303, made.text
    draft_hash = made.headers["location"].split("uploaded=")[1]
    page = office.get("/console/simulate", params={"run": run_id, "pack": draft_hash}).text
    assert "赔付合计变化(元) 34,516.40" in text_of(page)  # the same figures as the shipped handan-2020
    attribution = text_of(page.split('id="simulate-attribution"')[1].split("</table>")[0])
    assert "贫困线 3,200.00 4,000.00" in attribution and "人均可支配收入上限" in attribution
    assert "因病年度封顶" not in attribution
    nothing = office.post("/console/simulate/drafts/form", data={"csrf": console.csrf(office), "base": "handan-2019",
                                                                 "param:handan-2019:poverty_line": "3200.00"})
    assert nothing.status_code == 422
    bad = office.post("/console/simulate/drafts/form", data={"csrf": console.csrf(office), "base": "handan-2019",
                                                             "param:handan-2019:poverty_line": "lots"})
    assert bad.status_code == 422 and "poverty_line" in text_of(bad.text)


def test_the_fund_page_shows_what_the_run_decided_as_owed_until_claims_are_paid(console: Console) -> None:
    office = console.login("office")
    console.screen_demo(office)

    text = text_of(office.get("/console/fund", params={"year": 2019}).text)

    assert "筛查运行决定赔付 149,100.08 5,950.00 21,500.00 176,550.08 16" in text
    assert "尚未开立理赔 149,100.08 5,950.00 21,500.00 176,550.08 16" in text
    assert "已支付 0.00 0.00 0.00 0.00 0" in text
