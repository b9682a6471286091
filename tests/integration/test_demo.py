"""The shipped demo drop: every row and decision as its manifest says; single checks agree with bulk."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
import yaml

from fangpin.money import to_fen
from fangpin.packs import pack_for_year
from fangpin.screening.documents import household_documents
from fangpin.services import check_document
from fangpin.services.screening import ScreenRequest, ScreenResult, screen
from tests.support import REPO

DEMO = REPO / "fixtures" / "demo"
MANIFEST = json.loads((REPO / "fixtures" / "demo.manifest.json").read_text("utf-8"))


@pytest.fixture
def demo_run(database_url: str, tmp_path: Path) -> ScreenResult:
    return screen(ScreenRequest(drop=DEMO, year=2019, county="130434", database_url=database_url,
                                out_dir=tmp_path / "out", keep_linked=True))


def test_the_demo_run_accounts_for_every_row_as_the_manifest_says(demo_run: ScreenResult) -> None:
    inputs = {item["file"]: item for item in demo_run.run["inputs"]}
    rejections = demo_run.rejections

    for expected in MANIFEST["files"]:
        got = inputs[expected["name"]]
        assert (got["rows_read"], got["used"], got["rejected"], got["skipped"]) == (
            expected["rows_read"], expected["rows_used"], expected["rows_rejected"], expected["rows_skipped"])
        for reason, rows in expected["rejected"].items():
            mine = rejections.filter((pl.col("file") == expected["name"]) & (pl.col("reason") == reason))
            assert sorted(mine["row"].to_list()) == sorted(rows), (expected["name"], reason)
    assert demo_run.run["rows"]["read"] == MANIFEST["totals"]["rows_read"] == 333


def test_the_demo_decisions_are_the_manifests_to_the_fen(demo_run: ScreenResult) -> None:
    assert demo_run.out_dir is not None
    decisions = pl.read_csv(demo_run.out_dir / "decisions.csv", infer_schema=False)
    mine = {row["household_id"]: row for row in decisions.iter_rows(named=True)}

    assert len(mine) == len(MANIFEST["expected"]["decisions"])
    for want in MANIFEST["expected"]["decisions"]:
        got = mine[want["household_id"]]
        for key in ("group", "outcome", "per_capita_income", "illness", "schooling", "disaster", "payout", "fee"):
            assert (got[key] or "") == (want[key] or ""), (want["household_id"], key)
    assert demo_run.run["totals"]["payout"] == MANIFEST["expected"]["summary"]["payout_total"]


def test_fangpin_check_on_each_demo_household_gives_the_bulk_decision(demo_run: ScreenResult,
                                                                     tmp_path: Path) -> None:
    assert demo_run.linked is not None
    bulk = {row["household_id"]: row for row in demo_run.decisions().iter_rows(named=True)}

    for document in household_documents(demo_run.linked, pack_for_year(2019)):
        path = tmp_path / f"{document['household_id']}.yaml"
        path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
        single = check_document(path)
        row = bulk[single.household_id]
        assert (row["group"], row["outcome"]) == (single.group, single.outcome)
        assert row["payout"] == to_fen(single.payout) and row["fee"] == to_fen(single.fee)
        for cause in ("illness", "schooling", "disaster"):
            assert row[cause] == to_fen(single.cause(cause).increment)  # type: ignore[arg-type]
