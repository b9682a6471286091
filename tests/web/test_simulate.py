"""Policy simulation in the console (政策模拟): a run simulated under another pack with its charts, draft packs
uploaded as a zip or made in a form, on SQLite and PostgreSQL. A simulation is a job run by the worker
(``services.jobs``, a thread here): submitted, queued, then its page shows the report; a failure, why."""

from __future__ import annotations

import time
from typing import Any

from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import update

from fangpin.db.models import JobRecord
from fangpin.db.session import session_scope
from fangpin.services import jobs
from tests.api.test_simulations import draft_zip, zipped
from tests.support import COUNTY, wait_for_job
from tests.web.conftest import Console, text_of


def _submit(console: Console, client: TestClient, run_id: str, pack: str, fiscal: str = "") -> str:
    """Submit the form: the simulation is queued and the browser sent to its job's page. The job's id."""
    started = client.post("/console/simulate", data={"csrf": console.csrf(client, "/console/simulate"),
                                                     "run": run_id, "pack": pack, "input": fiscal})
    assert started.status_code == 303, started.text
    location = started.headers["location"]
    assert location.startswith("/console/simulate/jobs/")
    return location.rsplit("/", 1)[1]


def _wait(client: TestClient, job_id: str) -> dict[str, Any]:
    return wait_for_job(client, f"/console/api/simulate/jobs/{job_id}")


def _simulated(console: Console, client: TestClient, run_id: str, pack: str, fiscal: str = "") -> Response:
    """Submit, wait for the worker, and read the job's page: the impact report."""
    job_id = _submit(console, client, run_id, pack, fiscal)
    job = _wait(client, job_id)
    assert job["state"] == "done", job
    page = client.get(f"/console/simulate/jobs/{job_id}")
    assert page.status_code == 200, page.text
    return page


def test_the_office_simulates_its_run_under_the_2020_line_and_reads_the_charts(console: Console) -> None:
    office = console.login("office")
    run_id = console.screen_demo(office)["run_id"]
    assert run_id in office.get("/console/simulate").text

    job_id = _submit(console, office, run_id, "handan-2020")
    job = _wait(office, job_id)
    page = office.get(f"/console/simulate/jobs/{job_id}")

    assert job["kind"] == "simulate" and job["runs"] == [run_id] and job["pack"] == "handan-2020"
    assert job["stages"]["replay"] == {"done": 1, "total": 1}
    assert page.status_code == 200, page.text
    text = text_of(page.text)
    assert "赔付合计变化(元) 34,516.40" in text
    assert "贫困线 3,200.00 4,000.00 二(一)" in text and "poverty_line" not in text
    assert 'data-chart="simTownships"' in page.text and 'data-chart="simFlows"' in page.text
    assert 'http-equiv="refresh"' not in page.text  # done: the page no longer reloads itself
    chart = office.get(f"/console/api/simulate/jobs/{job_id}/chart").json()
    assert len(chart["townships"]["names"]) == 4
    assert round(sum(chart["townships"]["difference"]) * 100) == 3451640
    assert sum(link["value"] for link in chart["flows"]["links"]) == 34
    assert sum(chart["bands"]["households"]) == 34

    auditor = console.login("auditor")
    assert "赔付合计变化(元) 34,516.40" in text_of(auditor.get(f"/console/simulate/jobs/{job_id}").text)
    assert "赔付合计变化(元) 34,516.40" in text_of(_simulated(console, auditor, run_id, "handan-2020").text)
    assert console.login("surveyor").get("/console/simulate").status_code == 403
    other = console.login("other_office")
    assert other.get(f"/console/simulate/jobs/{job_id}").status_code == 403
    assert other.get(f"/console/api/simulate/jobs/{job_id}/chart").status_code == 403
    refused = other.post("/console/simulate", data={"csrf": console.csrf(other, "/console/simulate"),
                                                    "run": run_id, "pack": "handan-2020"})
    assert refused.status_code == 403 and "无权模拟" in text_of(refused.text)
    unknown = office.post("/console/simulate", data={"csrf": console.csrf(office, "/console/simulate"),
                                                     "run": run_id, "pack": "nope"})
    assert unknown.status_code == 422 and "填写有误" in text_of(unknown.text) and "nope" in text_of(unknown.text)
    missing = office.post("/console/simulate", data={"csrf": console.csrf(office, "/console/simulate"),
                                                     "run": "no-such-run", "pack": "handan-2020"})
    assert missing.status_code == 404 and "未找到" in text_of(missing.text)
    assert office.post("/console/simulate", data={"run": run_id, "pack": "handan-2020"}).status_code == 403
    assert office.get("/console/simulate/jobs/nosuchjob").status_code == 404


def test_a_simulation_waits_behind_a_running_job_of_the_county(console: Console) -> None:
    """One job of a county at a time, screening or simulation: the page says the simulation is queued and
    reloads itself; once the county's running job ends, the worker runs it."""
    office = console.login("office")
    run_id = console.screen_demo(office)["run_id"]
    blocker = jobs.enqueue(console.database_url, county=COUNTY, year=2019, user="office", files=[],
                           drop_dir=console.runs_dir / "nothing", runs_dir=console.runs_dir, pack_dir=None,
                           sources_dir=None)
    with session_scope(console.database_url) as session:  # running on a worker elsewhere, alive
        session.execute(update(JobRecord).where(JobRecord.id == blocker["id"]).values(
            state="running", owner="elsewhere:worker", started_at=jobs.now(), heartbeat_at=jobs.now()))

    job_id = _submit(console, office, run_id, "handan-2020")
    time.sleep(0.3)  # the worker polls every 0.05 s: it would have taken the job by now
    waiting = office.get(f"/console/simulate/jobs/{job_id}")

    assert waiting.status_code == 200
    assert "排队中" in text_of(waiting.text) and 'http-equiv="refresh"' in waiting.text
    assert 'id="simulate-result"' not in waiting.text
    with session_scope(console.database_url) as session:
        session.execute(update(JobRecord).where(JobRecord.id == blocker["id"]).values(state="done"))
    assert _wait(office, job_id)["state"] == "done"
    assert "赔付合计变化(元) 34,516.40" in text_of(office.get(f"/console/simulate/jobs/{job_id}").text)


def test_a_draft_broken_on_disk_fails_its_simulation_with_a_chinese_error(console: Console) -> None:
    office = console.login("office")
    run_id = console.screen_demo(office)["run_id"]
    stored = office.post("/console/simulate/drafts", data={"csrf": console.csrf(office)},
                         files={"pack": ("draft.zip", draft_zip(), "application/zip")})
    draft_hash = stored.headers["location"].split("uploaded=")[1]
    parameters = console.runs_dir / "drafts" / draft_hash / "parameters.yaml"
    parameters.write_text(parameters.read_text("utf-8").replace('"15000.00"', '"lots"'), "utf-8")

    job_id = _submit(console, office, run_id, draft_hash)
    job = _wait(office, job_id)
    page = office.get(f"/console/simulate/jobs/{job_id}")

    assert job["state"] == "failed"
    text = text_of(page.text)
    assert page.status_code == 200 and "模拟失败,没有得到结果" in text
    assert f"规则包 {draft_hash[:12]} 无法载入" in text and "parameters.yaml" in text
    assert 'id="simulate-result"' not in page.text and 'http-equiv="refresh"' not in page.text
    assert office.get(f"/console/api/simulate/jobs/{job_id}/chart").status_code == 404


def test_a_draft_uploaded_in_the_console_is_validated_stored_and_simulated(console: Console) -> None:
    office = console.login("office")
    run_id = console.screen_demo(office)["run_id"]

    stored = office.post("/console/simulate/drafts", data={"csrf": console.csrf(office)},
                         files={"pack": ("draft.zip", draft_zip(), "application/zip")})

    assert stored.status_code == 303, stored.text
    draft_hash = stored.headers["location"].split("uploaded=")[1]
    assert "已校验并保存" in text_of(office.get(stored.headers["location"]).text)
    page = _simulated(console, office, run_id, draft_hash)
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
    page = _simulated(console, office, run_id, draft_hash).text
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
