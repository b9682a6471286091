"""Least privilege, scopes and the access log in the console, on SQLite and PostgreSQL: what each role sees
on every page and download that shows personal data (fangpin.privacy), and a row in the access log for every
page read."""

from __future__ import annotations

import io
import re
from typing import Any

import polars as pl
import pytest

from fangpin.claims import ROLES
from fangpin.db.session import session_scope
from fangpin.services import access_log
from fangpin.services.users import add_user
from fangpin.web.routes import audit, claims, fund, home, households, runs, screening
from tests.support import COUNTY
from tests.web.conftest import Console, text_of

HEAD_ID, HEAD_ID_MASKED, NAME, NAME_MASKED = "13043419800101001X", "130434********001X", "赵大山", "赵**"
# role × the household pages (search page, search data, household page): how the head's ID number and name show.
HOUSEHOLD_PAGES: dict[str, tuple[str, str] | None] = {
    "office": (HEAD_ID, NAME), "surveyor": (HEAD_ID, NAME), "village": (HEAD_ID_MASKED, NAME),
    "department": (HEAD_ID_MASKED, NAME_MASKED), "auditor": (HEAD_ID_MASKED, NAME_MASKED),
    **{f"other_{role}": None for role in ROLES},  # another county's users find nothing
}


@pytest.mark.parametrize("who", list(HOUSEHOLD_PAGES))
def test_each_role_sees_the_heads_id_number_and_name_on_the_household_pages_as_the_policy_says(
        console: Console, who: str) -> None:
    console.open_claim()
    client = console.login(who)

    search = text_of(client.get("/console/households", params={"q": HEAD_ID}).text)
    data = client.get("/console/api/households", params={"q": NAME}).json()["items"]
    page = client.get("/console/households/130434-0001")

    expected = HOUSEHOLD_PAGES[who]
    if expected is None:
        assert "130434-0001" not in search and data == [] and page.status_code == 404
        return
    head_id, name = expected
    assert f"130434-0001 {name} {head_id}" in search
    assert [(item["head_id"], item["head_name"]) for item in data] == [(head_id, name)]
    assert page.status_code == 200 and f"{name} · {head_id}" in text_of(page.text)
    for hidden in {HEAD_ID, NAME} - {head_id, name}:
        assert hidden not in search and hidden not in page.text and hidden not in str(data)


def _screened(console: Console) -> str:
    return str(console.screen_demo(console.login("office"))["run_id"])


BAD_ID, BAD_ID_MASKED = "132122196306052930", "132122********2930"  # an unknown_person row of the demo drop
VISITED, VISITED_MASKED = "高兰婷", "高**"


def test_the_runs_rejected_rows_visits_and_downloads_are_full_for_the_office_masked_for_auditors_403_else(
        console: Console) -> None:
    run_id = _screened(console)
    pages = {"rejections": f"/console/runs/{run_id}/rejections?reason=unknown_person",
             "rejections_data": f"/console/api/runs/{run_id}/rejections?reason=unknown_person",
             "rejections_csv": f"/console/runs/{run_id}/rejections.csv",
             "file_rejections": f"/console/runs/{run_id}/files/rejections.csv",
             "visits": f"/console/runs/{run_id}/visits", "file_visits": f"/console/runs/{run_id}/files/visits.csv"}

    for who in ROLES:
        client = console.login(who)
        answers = {name: client.get(path) for name, path in pages.items()}
        workbook = client.get(f"/console/runs/{run_id}/files/report.xlsx")
        if who not in ("office", "auditor"):
            assert {name: answer.status_code for name, answer in answers.items()} == dict.fromkeys(pages, 403), who
            assert workbook.status_code == 403
            continue
        shown, hidden = (BAD_ID, BAD_ID_MASKED) if who == "office" else (BAD_ID_MASKED, BAD_ID)
        name_shown, name_hidden = (VISITED, VISITED_MASKED) if who == "office" else (VISITED_MASKED, VISITED)
        for name in ("rejections", "rejections_data", "rejections_csv", "file_rejections"):
            assert answers[name].status_code == 200 and shown in answers[name].text, (who, name)
            assert hidden not in answers[name].text, (who, name)
        for name in ("visits", "file_visits"):
            assert name_shown in answers[name].text and name_hidden not in answers[name].text, (who, name)
        sheets = pl.read_excel(io.BytesIO(workbook.content), sheet_id=0)
        cells = " ".join(str(value) for frame in sheets.values() for column in frame.columns
                         for value in frame[column].to_list())
        assert shown in cells and hidden not in cells and name_shown in cells and name_hidden not in cells, who


def test_a_scoped_village_clerk_sees_only_its_villages_households_and_claims(console: Console) -> None:
    east = console.open_claim(household_id="130434-0001")
    west = console.open_claim(household_id="130434-0002", village="西村")
    with session_scope(console.database_url) as session:
        console.tokens["clerk"] = add_user(session, "clerk", "village", COUNTY, scope="东代固镇/东村")
    clerk = console.login("clerk")

    board = text_of(clerk.get("/console/claims", params={"state": "opened"}).text)
    found = clerk.get("/console/api/households", params={"q": "赵"}).json()["items"]

    assert "130434-0001" in board and "130434-0002" not in board
    assert [item["household_id"] for item in found] == ["130434-0001"]
    assert clerk.get("/console/households/130434-0002").status_code == 404
    assert clerk.get(f"/console/claims/{west}").status_code == 403
    assert clerk.get(f"/console/claims/{east}").status_code == 200


def _console_reads() -> list[str]:
    return ["/console" + route.path for module in (home, screening, runs, households, claims, fund, audit)
            for route in module.router.routes if "GET" in getattr(route, "methods", ()) and route.path != "/login"]


def test_every_console_page_read_leaves_a_row_in_the_access_log(console: Console) -> None:
    office = console.login("office")
    job = console.screen_demo(office)
    claim_id = console.open_claim()
    values: dict[str, Any] = {"run_id": job["run_id"], "job_id": job["id"], "household_id": "130434-0001",
                              "claim_id": claim_id, "name": "visits.csv", "chart": "payouts", "year": 2019}
    clients = {"office": office, "auditor": console.login("auditor")}
    pages = _console_reads()
    assert len(pages) >= 20

    for template in pages:
        who = "auditor" if template.startswith("/console/audit") and template != "/console/audit/reads" else "office"
        path = re.sub(r"\{(\w+)\}", lambda match: str(values[match.group(1)]), template)
        query = {"/console/households": {"q": "高兰婷"}, "/console/api/households": {"q": "高兰婷"},
                 "/console/audit/replay": {"run": job["run_id"]},
                 "/console/audit/reads": {"household": "130434-0001"}}.get(template, {})
        with session_scope(console.database_url) as session:
            before = len(access_log.reads(session, user=who, limit=100_000))
        answer = clients[who].get(path, params=query)
        assert answer.status_code == 200, (template, answer.text[:300])
        with session_scope(console.database_url) as session:
            rows = access_log.reads(session, user=who, limit=100_000)
        assert len(rows) > before, template
        assert rows[0].route == f"GET {template}" and rows[0].status == 200, (template, rows[0])


def test_a_search_by_id_number_is_logged_masked_never_in_clear(console: Console) -> None:
    console.open_claim()
    auditor = console.login("auditor")

    auditor.get("/console/households", params={"q": HEAD_ID})
    auditor.get("/console/households", params={"q": "13043419990101999X"})  # finds nothing: logged too

    with session_scope(console.database_url) as session:
        rows = access_log.reads(session, user="auditor")
    searches = [(row.kind, row.object_id, row.household_id) for row in rows if row.kind == "search"]
    assert searches == [("search", "id:130434********999X", None), ("search", f"id:{HEAD_ID_MASKED}", "130434-0001")]
    assert not any(HEAD_ID in str(value) or "13043419990101999X" in str(value)
                   for row in rows for value in vars(row).values())


def test_the_reads_page_shows_who_read_a_household_to_the_office_and_auditors_only(console: Console) -> None:
    console.open_claim()
    console.login("village").get("/console/households/130434-0001")
    console.login("department").get("/console/households", params={"q": "赵大山"})

    page = console.login("auditor").get("/console/audit/reads", params={"household": "130434-0001"})

    assert page.status_code == 200
    text = text_of(page.text)
    assert "农户 130434-0001 130434-0001 GET /console/households/{household_id}" in text
    assert "查询 按姓名 赵** 130434-0001 GET /console/households" in text  # masked, by what it searched
    for role in ("village", "department", "surveyor"):
        assert console.login(role).get("/console/audit/reads").status_code == 403
