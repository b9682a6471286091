"""Simulations, draft packs and what the fund owes, through HTTP and the CLI, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from fangpin.cli import app
from fangpin.db.models import Payment
from fangpin.db.session import session_scope
from fangpin.errors import PackError
from fangpin.services import jobs, resolve_pack
from fangpin.services.screening import ScreenRequest, screen
from fangpin.web import configure_console
from tests.api.conftest import Api
from tests.support import COUNTY, DEMO

DRAFT_META = """id: draft-edge
title: 草案:边缘户因病起付线
version: "2019.draft1"
years: [2019]
source: a draft for the finance bureau
extends: handan-2019
"""
DRAFT_PARAMETERS = """illness_deductible_edge:
  type: money
  description: Illness deductible of a low-income household never registered as poor (draft)
  unit: yuan per household per year
  value: "{value}"
  source: {{clause: "二(二) 阶梯化救助", basis: assumed, note: "a draft"}}
"""


def zipped(files: dict[str, str], folder: str = "draft-edge") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(f"{folder}/{name}" if folder else name, text)
    return buffer.getvalue()


def draft_zip(value: str = "15000.00") -> bytes:
    return zipped({"pack.yaml": DRAFT_META, "parameters.yaml": DRAFT_PARAMETERS.format(value=value)})


def _upload(api: Api, data: bytes, who: str = "office") -> Any:
    return api.client.post("/v1/drafts", content=data,
                           headers={**api.auth(who), "Content-Type": "application/zip"})


@pytest.fixture(autouse=True)
def runs_dir(api: Api, tmp_path: Path) -> Path:
    """Drafts are stored beside the runs: here, in the test's own folder."""
    configure_console(api.client.app, runs_dir=tmp_path / "runs")  # type: ignore[arg-type]
    return tmp_path / "runs"


@pytest.fixture
def run_id(api: Api, tmp_path: Path) -> str:
    result = screen(ScreenRequest(drop=DEMO, year=2019, county=COUNTY, database_url=api.database_url,
                                  runs_dir=tmp_path / "runs"))
    return str(result.run["run_id"])


def test_the_office_simulates_the_2020_line_over_its_run(api: Api, run_id: str) -> None:
    response = api.post("/v1/simulations", {"runs": [run_id], "pack": "handan-2020"}, who="office")

    assert response.status_code == 200, response.text
    impact = response.json()
    assert impact["totals"]["payout_difference"] == 3451640  # 34,516.40 yuan more
    assert impact["totals_yuan"]["payout_after"] == "211066.48"
    assert {row["parameter"] for row in impact["attribution"]["by_parameter"]} == {"poverty_line", "income_ceiling"}
    assert impact["pack_after"] == {"id": "handan-2020", "version": "2020.1", "hash": impact["pack_after"]["hash"],
                                    "draft": False}
    assert api.post("/v1/simulations", {"runs": [run_id], "pack": "handan-2020"}, who="auditor").status_code == 200


def test_a_large_simulation_is_queued_and_followed_to_its_report(api: Api, run_id: str,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs over ``simulate_sync_max_households`` (or ``"background": true``) are queued: 202 with the job's
    location, which answers its state and, once the worker ran it, the report the request would have given."""
    at_once = api.post("/v1/simulations", {"runs": [run_id], "pack": "handan-2020"}).json()
    monkeypatch.setenv("FANGPIN_SIMULATE_SYNC_MAX_HOUSEHOLDS", "1")  # the demo run has more

    queued = api.post("/v1/simulations", {"runs": [run_id], "pack": "handan-2020"})

    assert queued.status_code == 202, queued.text
    job = queued.json()
    assert job["state"] == "queued" and job["impact"] is None and job["runs"] == [run_id]
    assert queued.headers["location"] == job["location"] == f"/v1/simulations/jobs/{job['job_id']}"
    assert api.get(job["location"], who="office").json()["state"] == "queued"
    assert jobs.Worker(api.database_url).run_one()
    done = api.get(job["location"], who="auditor")
    assert done.status_code == 200, done.text
    assert done.json()["state"] == "done" and done.json()["impact"] == at_once
    assert api.get(job["location"], who="other_office").status_code == 404
    assert api.get(job["location"], who="surveyor").status_code == 403
    assert api.get("/v1/simulations/jobs/nosuchjob").status_code == 404

    monkeypatch.delenv("FANGPIN_SIMULATE_SYNC_MAX_HOUSEHOLDS")
    background = api.post("/v1/simulations", {"runs": [run_id], "pack": "a" * 64, "background": True})
    assert background.status_code == 422  # refused at once, never queued
    background = api.post("/v1/simulations", {"runs": [run_id], "pack": "handan-2020", "background": True})
    assert background.status_code == 202


@pytest.mark.parametrize(("who", "body", "status", "field"), [
    ("surveyor", {"pack": "handan-2020"}, 403, None),
    ("other_office", {"pack": "handan-2020"}, 403, None),
    ("office", {"pack": "no-such-pack"}, 422, "pack"),
    ("office", {"pack": "a" * 64}, 422, "pack"),
    ("office", {"pack": "handan-2020", "fiscal_input": "-1"}, 422, "fiscal_input"),
    ("office", {"pack": "handan-2020", "runs": []}, 422, "runs"),
    ("office", {"pack": "handan-2020", "runs": ["nope"]}, 404, None),
])
def test_a_simulation_refused(api: Api, run_id: str, who: str, body: dict[str, Any], status: int,
                              field: str | None) -> None:
    response = api.post("/v1/simulations", {"runs": [run_id], **body}, who=who)

    assert response.status_code == status, response.text
    if field:
        assert response.json()["field"] == field


def test_a_draft_uploaded_is_simulated_and_never_decides(api: Api, run_id: str, runs_dir: Path) -> None:
    uploaded = _upload(api, draft_zip())
    assert uploaded.status_code == 201, uploaded.text
    draft = uploaded.json()
    assert (draft["id"], draft["draft"], draft["uploaded_by"]) == ("draft-edge", True, "office")
    assert _upload(api, draft_zip()).json()["hash"] == draft["hash"]  # stored by its hash: the same again
    assert [item["hash"] for item in api.get("/v1/drafts").json()] == [draft["hash"]]

    impact = api.post("/v1/simulations", {"runs": [run_id], "pack": draft["hash"]}).json()

    assert impact["pack_after"]["draft"] is True and impact["pack_after"]["hash"] == draft["hash"]
    assert [row["parameter"] for row in impact["attribution"]["by_parameter"]] == ["illness_deductible_edge"]
    assert impact["totals"]["illness_difference"] == impact["totals"]["payout_difference"] > 0
    folder = runs_dir / "drafts" / draft["hash"]
    assert (folder / "DRAFT.json").is_file()
    with pytest.raises(PackError, match="draft pack"):
        resolve_pack(2019, folder)


@pytest.mark.parametrize(("data", "says"), [
    (draft_zip("12.345"), "parameters.yaml"),  # a value not in fen: the file and the key
    (zipped({"pack.yaml": DRAFT_META.replace("handan-2019", "../../etc")}), "extends"),
    (zipped({"pack.yaml": DRAFT_META, "../evil.yaml": "x: 1"}, folder=""), "规则包文件夹之外"),
    (zipped({"pack.yaml": DRAFT_META, "run.sh": "echo"}), "只能有"),
    (zipped({"parameters.yaml": "{}"}), "pack.yaml"),
    (zipped({"pack.yaml": DRAFT_META, "parameters.yaml": "a: &x [1, 2]\nb: [*x, *x]\n"}), "别名"),
    (zipped({"pack.yaml": DRAFT_META, "parameters.yaml": "a: [1, 2\n"}), "无法按 YAML 读取"),
    (b"not a zip", "不是 zip 压缩文件"),
    (b"PK" + b"\0" * 1_000_001, "超过规则包草案上限"),
])
def test_a_bad_draft_is_422_saying_what_is_wrong(api: Api, data: bytes, says: str) -> None:
    response = _upload(api, data)

    assert response.status_code == 422, response.text
    assert response.json()["field"] == "pack" and says in response.json()["detail"]


def test_only_the_office_uploads_drafts(api: Api) -> None:
    assert _upload(api, draft_zip(), who="auditor").status_code == 403


def _status(api: Api) -> dict[str, Any]:
    response = api.get("/v1/fund/130434/2019/status")
    assert response.status_code == 200, response.text
    return dict(response.json())


def _ledger(api: Api) -> dict[str, int]:
    """The payments ledger's sums per (cause, written by a run or by a claim)."""
    with session_scope(api.database_url) as session:
        rows = session.execute(sa.select(Payment.cause, Payment.run_id.is_(None), sa.func.sum(Payment.amount))
                               .group_by(Payment.cause, Payment.run_id.is_(None))).all()
    return {f"{cause}:{'claim' if by_claim else 'run'}": int(total) for cause, by_claim, total in rows}


def test_the_cli_opens_the_runs_claims(api: Api, run_id: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FANGPIN_DATABASE_URL", api.database_url)

    opened = CliRunner().invoke(app, ["claims", "open", "--run", run_id, "--by", "王主任"])

    assert opened.exit_code == 0, opened.output
    assert "16 claims opened, 0 skipped" in opened.stdout
    claims = api.get("/v1/claims", params={"limit": 100}).json()["items"]
    assert len(claims) == 16 and {claim["opened_by"] for claim in claims} == {"screening"}
    assert api.get(f"/v1/claims/{claims[0]['id']}").json()["history"][0]["who"] == {"name": "王主任", "role": "office"}
    again = CliRunner().invoke(app, ["claims", "open", "--run", run_id])
    assert again.exit_code == 0 and "0 claims opened, 16 skipped" in again.stdout
    missing = CliRunner().invoke(app, ["claims", "open", "--run", "nope"])
    assert missing.exit_code == 2 and "no screening run 'nope'" in missing.output


def _fen(text: str) -> int:
    whole, _, cents = text.partition(".")
    return int(whole) * 100 + int(cents)


def test_the_fund_shows_what_is_owed_in_progress_and_paid_as_the_ledger_counts_it(api: Api, run_id: str) -> None:
    before = _status(api)
    assert before["decided_by_runs"]["total"] == before["not_claimed"]["total"] == before["owed"]["total"] \
        == "176550.08"
    assert before["decided_by_runs"]["households"] == 16
    ledger = _ledger(api)
    for cause in before["causes"]:
        assert _fen(before["decided_by_runs"][cause]) == ledger.get(f"{cause}:run", 0)

    claims = api.post("/v1/claims/from-screening", {"run_id": run_id}).json()["opened"]
    opened = _status(api)
    assert opened["not_claimed"]["total"] == "0.00"
    assert opened["in_progress"]["total"] == opened["owed"]["total"] == "176550.08"
    assert opened["in_progress"]["households"] == 16

    runs_amounts = {claim["id"]: api.get(f"/v1/decisions/{claim['decision_id']}").json() for claim in claims[:2]}
    claim = claims[0]
    for step in ("surveyed", "publicised", "cross_checked", "filed"):
        claim = api.advance(claim, step)
    paid = api.advance(claim, "paid", amount=claim["amount_decided"])
    refused = api.move(claims[1], "rejected", who="surveyor")  # the surveyor rejects an opened claim
    assert refused.status_code == 200, refused.text

    after = _status(api)
    assert after["paid"]["total"] == paid["amount_paid"] and after["paid"]["households"] == 1
    assert paid["amount_paid"] != "0.00"
    run_first = _fen(runs_amounts[claims[0]["id"]]["amounts"]["payout"])
    run_second = _fen(runs_amounts[claims[1]["id"]]["amounts"]["payout"])
    assert _fen(after["rejected"]["total"]) == run_second and after["rejected"]["households"] == 1
    assert _fen(after["in_progress"]["total"]) == 17655008 - run_first - run_second
    assert _fen(after["owed"]["total"]) == _fen(after["in_progress"]["total"]) + _fen(after["not_claimed"]["total"])
    assert _fen(after["decided_by_runs"]["total"]) == 17655008  # what the run decided stays what it decided
    fund = api.get("/v1/fund/130434/2019").json()
    assert fund["payouts"] == after["paid"]["total"] and after["fees_paid"] == fund["fees"]
    ledger = _ledger(api)
    for cause in after["causes"]:  # the ledger: the run's amount, and what the claim paid above it
        run_amount = _fen(runs_amounts[claims[0]["id"]]["amounts"][cause])
        assert ledger.get(f"{cause}:claim", 0) == max(0, _fen(after["paid"][cause]) - run_amount)
