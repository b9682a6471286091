"""Screening the demo drop from the console and reading its report, on SQLite and PostgreSQL: the upload,
the progress, the report's counts, downloads and charts, and who may do and see what."""

from __future__ import annotations

import csv
import io
import json

from fangpin.db.models import Run
from fangpin.db.session import session_scope
from fangpin.web.jobs import STAGE_ORDER
from tests.support import COUNTY
from tests.web.conftest import Console, text_of


def test_the_office_screens_the_demo_drop_and_reads_its_report(console: Console) -> None:
    office = console.login("office")
    job = console.screen_demo(office)

    assert set(job["stages"]) == set(STAGE_ORDER)
    assert all(stage["done"] == stage["total"] for stage in job["stages"].values())
    run_id = job["run_id"]
    folder = console.runs_dir / run_id
    summary = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    for name in ("decisions.csv", "rejections.csv", "visits.csv", "report.xlsx", "households.csv"):
        assert (folder / name).is_file(), name
    with session_scope(console.database_url) as session:
        run = session.get(Run, run_id)
        assert run is not None and run.county == COUNTY and run.year == 2019

    report = office.get(f"/console/runs/{run_id}")
    assert report.status_code == 200
    text = text_of(report.text)
    for item in summary["inputs"]:
        assert item["rows_read"] == item["used"] + item["rejected"] + item["skipped"]
        assert (f"{item['file']} ") in text
    rows = summary["rows"]
    assert f"{rows['read']} = {rows['used']} + {rows['rejected']} + {rows['skipped']}" in text
    assert "✗ 不符" not in text and text.count("✓ 相符") == len(summary["inputs"])
    assert summary["totals"]["payout"] in text.replace(",", "")

    workbook = office.get(f"/console/runs/{run_id}/files/report.xlsx")
    assert workbook.status_code == 200 and workbook.content[:2] == b"PK"
    assert "attachment" in workbook.headers["content-disposition"]
    assert office.get(f"/console/runs/{run_id}/files/../../etc/passwd").status_code == 404
    assert office.get(f"/console/runs/{run_id}/files/households.csv").status_code == 404


def test_progress_streams_as_server_sent_events_until_the_run_is_done(console: Console) -> None:
    office = console.login("office")
    job = console.screen_demo(office)

    with office.stream("GET", f"/console/api/jobs/{job['id']}/events") as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        body = "".join(response.iter_text())
    events = [json.loads(line.removeprefix("data: ")) for line in body.splitlines() if line.startswith("data: ")]
    assert events and events[-1]["state"] == "done" and events[-1]["run_id"] == job["run_id"]
    page = office.get(f"/console/screening/jobs/{job['id']}")
    assert page.status_code == 200 and "查看报告" in page.text


def test_the_reports_tables_charts_and_filtered_downloads(console: Console) -> None:
    office = console.login("office")
    run_id = console.screen_demo(office)["run_id"]
    rejections = list(csv.DictReader(io.StringIO((console.runs_dir / run_id / "rejections.csv").read_text("utf-8"))))

    page = office.get(f"/console/api/runs/{run_id}/rejections", params={"reason": "bad_date", "size": 2}).json()
    expected = [row for row in rejections if row["reason"] == "bad_date"]
    assert page["total"] == len(expected) and page["size"] == 2 and len(page["items"]) == min(2, len(expected))
    assert [(item["file"], item["row"], item["field"], item["value"]) for item in page["items"]] == [
        (row["file"], int(row["row"]), row["field"], row["value"]) for row in expected[:2]]
    assert page["items"][0]["reason_label"] == "日期无效"

    download = office.get(f"/console/runs/{run_id}/rejections.csv", params={"reason": "bad_date"})
    assert download.status_code == 200 and download.content.startswith(b"\xef\xbb\xbf")
    downloaded = list(csv.DictReader(io.StringIO(download.content.decode("utf-8-sig"))))
    assert [row["row"] for row in downloaded] == [row["row"] for row in expected]

    html = office.get(f"/console/runs/{run_id}/rejections", params={"file": rejections[0]["file"]})
    assert html.status_code == 200 and "拒绝明细" in html.text
    visits = office.get(f"/console/runs/{run_id}/visits")
    assert visits.status_code == 200 and "入户核查名单" in visits.text
    decisions = office.get(f"/console/runs/{run_id}/decisions", params={"outcome": "pay"})
    assert decisions.status_code == 200

    payouts = office.get(f"/console/api/runs/{run_id}/charts/payouts").json()
    assert [s["cause"] for s in payouts["series"]] == ["illness", "schooling", "disaster"]
    assert all(len(s["data"]) == len(payouts["townships"]) for s in payouts["series"])
    income = office.get(f"/console/api/runs/{run_id}/charts/income").json()
    assert income["ceiling"] == 4800.0 and income["pack"].startswith("handan-2019")
    assert sum(b["count"] for b in income["bins"]) == income["below"] + income["at_or_above"]
    assert any(b["lower"] == 4800.0 for b in income["bins"])  # the bins meet at the ceiling
    outcomes = office.get(f"/console/api/runs/{run_id}/charts/outcomes").json()
    with session_scope(console.database_url) as session:
        run = session.get(Run, run_id)
        assert run is not None
        assert {i["outcome"]: i["value"] for i in outcomes["items"]} == run.counts["totals"]["outcomes"]
    assert office.get(f"/console/api/runs/{run_id}/charts/nothing").status_code == 404


def test_only_the_office_screens_and_only_its_own_county(console: Console) -> None:
    for role in ("surveyor", "village", "department", "auditor"):
        client = console.login(role)
        assert client.get("/console/screening").status_code == 403
        response = client.post("/console/screening", data={"csrf": console.csrf(client), "year": "2019"},
                               files=[("files", ("a.csv", b"x"))])
        assert response.status_code == 403, role
    office = console.login("office")
    assert console.upload(office, county="130435").status_code == 403
    response = office.post("/console/screening", data={"csrf": console.csrf(office), "year": "2019"},
                           files=[("files", ("notes.txt", b"x"))], headers={"Accept": "application/json"})
    assert response.status_code == 422 and ".csv" in response.json()["detail"]
    response = office.post("/console/screening", data={"csrf": console.csrf(office), "year": "1800"},
                           files=[("files", ("a.csv", b"x"))])
    assert response.status_code == 422


def test_another_countys_users_cannot_see_the_run_or_its_job(console: Console) -> None:
    office = console.login("office")
    job = console.screen_demo(office)
    run_id = job["run_id"]
    for who in ("other_office", "other_auditor"):
        other = console.login(who)
        for path in (f"/console/runs/{run_id}", f"/console/runs/{run_id}/rejections",
                     f"/console/api/runs/{run_id}/charts/payouts", f"/console/runs/{run_id}/files/report.xlsx",
                     f"/console/api/runs/{run_id}/rejections"):
            assert other.get(path).status_code == 403, (who, path)
        assert run_id not in other.get("/console/runs").text
    other_office = console.login("other_office")
    assert other_office.get(f"/console/screening/jobs/{job['id']}").status_code == 403
    assert other_office.get(f"/console/api/jobs/{job['id']}").status_code == 403
    auditor = console.login("auditor")
    assert auditor.get(f"/console/runs/{run_id}").status_code == 200


def test_the_same_drop_again_changes_nothing_and_says_so(console: Console) -> None:
    office = console.login("office")
    first = console.screen_demo(office)
    again = console.screen_demo(office)

    assert again["already"] is True and again["run_id"] == first["run_id"]
    page = office.get(f"/console/screening/jobs/{again['id']}")
    assert "已在相同规则包下筛查过" in text_of(page.text)


def test_a_job_waits_its_turn_and_the_stream_of_a_job_whose_worker_died_ends_failed(console: Console) -> None:
    """A job queued behind another of the county shows as queued; a job left running by a worker that died
    (a process that no longer exists) ends failed, and its progress stream ends with it."""
    import socket
    import subprocess
    import sys

    from fangpin.db.models import JobRecord
    from fangpin.services import jobs

    office = console.login("office")
    dead = int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True, check=True).stdout)
    with session_scope(console.database_url) as session:
        first = JobRecord(id="a" * 32, county=COUNTY, year=2019, state="running", user_name="office", files=["x.csv"],
                          drop_dir=str(console.runs_dir / "gone-upload"), runs_dir=str(console.runs_dir),
                          progress={"stages": {"upload": {"done": 1, "total": 1}}}, already=False,
                          owner=f"{socket.gethostname()}:{dead}", created_at=jobs.now(), started_at=jobs.now(),
                          heartbeat_at=jobs.now())
        session.add(first)
    response = console.upload(office)
    queued_id = response.json()["job_id"]
    # the worker does not start it while the dead worker's job holds the county (until that job is failed)
    assert office.get(f"/console/api/jobs/{queued_id}").json()["state"] == "queued"
    assert "排队中" in text_of(office.get(f"/console/screening/jobs/{queued_id}").text)

    with office.stream("GET", f"/console/api/jobs/{'a' * 32}/events") as stream:
        assert stream.status_code == 200
        body = "".join(stream.iter_text())
    events = [json.loads(line.removeprefix("data: ")) for line in body.splitlines() if line.startswith("data: ")]
    assert events[-1]["state"] == "failed" and "在完成前停止" in events[-1]["error"]
    page = office.get(f"/console/screening/jobs/{'a' * 32}")
    assert "筛查失败" in text_of(page.text)

    finished = console.wait(office, queued_id)
    assert finished["state"] == "done" and finished["run_id"]
