"""The 2023 demo drop (fixtures/demo-2023) under the Hebei monitoring pack: an accident export read through a
source profile and the pack's cause alone; every household as expected (computed without fangpin); bulk
equals single; and under a Handan pack the accident file's rows are skipped as not_in_pack, not dropped."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import polars as pl
import pytest

from fangpin.deciding import decide
from fangpin.documents import household_from
from fangpin.money import to_fen
from fangpin.packs import load_pack
from fangpin.screening.bulk import with_derived_columns
from fangpin.screening.documents import household_documents
from fangpin.services.screening import ScreenRequest, ScreenResult, screen

REPO = Path(__file__).resolve().parents[2]
DROP = REPO / "fixtures" / "demo-2023"
PACK = REPO / "rules" / "hebei-monitoring-2023"
EXPECTED = REPO / "fixtures" / "demo-2023.expected.csv"


@pytest.fixture
def run_2023(database_url: str, tmp_path: Path) -> ScreenResult:
    return screen(ScreenRequest(drop=DROP, year=2023, county="130434", database_url=database_url, pack_dir=PACK,
                                out_dir=tmp_path / "out", runs_dir=tmp_path, keep_linked=True))


def test_every_household_of_the_2023_drop_is_decided_as_expected(run_2023: ScreenResult) -> None:
    expected = {row["household_id"]: row for row in csv.DictReader(EXPECTED.read_text(encoding="utf-8").splitlines())}
    assert run_2023.out_dir is not None
    written = (run_2023.out_dir / "decisions.csv").read_text(encoding="utf-8").splitlines()
    got = {row["household_id"]: row for row in csv.DictReader(written)}

    assert set(got) == set(expected)
    for household_id, want in expected.items():
        for key in ("group", "outcome", "illness", "schooling", "disaster", "accident", "payout", "fee"):
            assert (got[household_id][key] or "") == (want[key] or ""), (household_id, key)
    header = (run_2023.out_dir / "decisions.csv").read_text().splitlines()[0]
    assert header == ("household_id,group,outcome,per_capita_income,illness,schooling,disaster,accident,"
                      "payout,fee,pack")


def test_bulk_equals_single_for_every_household_of_the_2023_drop(run_2023: ScreenResult) -> None:
    pack = load_pack(PACK)
    assert run_2023.linked is not None
    decisions = with_derived_columns(run_2023.decisions(), pack)  # derived facts are not stored
    bulk = {row["household_id"]: row for row in decisions.iter_rows(named=True)}

    documents = list(household_documents(run_2023.linked, pack))

    assert len(documents) == len(bulk) > 15
    for document in documents:
        single = decide(household_from(document), pack)
        row = bulk[single.household_id]
        assert (row["group"], row["outcome"], row["rules"]) == (
            single.group, single.outcome, ",".join(rule.id for rule in single.rules))
        assert [row[c] for c in (*pack.cause_ids, "payout", "fee")] == [
            to_fen(v) for v in (*(single.cause(c).increment for c in pack.cause_ids), single.payout, single.fee)]
        for derived in single.derived:
            assert row[derived.id] == to_fen(derived.value)


def test_the_run_counts_every_accident_row(run_2023: ScreenResult) -> None:
    accident = next(item for item in run_2023.run["inputs"] if item["department"] == "accident")

    assert accident["rows_read"] == accident["used"] + accident["rejected"] + accident["skipped"]
    assert accident["used"] > 0
    assert run_2023.run["totals"]["accident"] != "0.00"


def test_the_visit_list_and_workbook_name_the_monitoring_groups_and_causes(run_2023: ScreenResult) -> None:
    """Labels are the pack's: the monitoring groups' names, never the Handan ones, nor a blank."""
    assert run_2023.out_dir is not None
    expected = {row["household_id"]: row for row in csv.DictReader(EXPECTED.read_text(encoding="utf-8").splitlines())}
    labels = load_pack(PACK).people_labels.groups
    visits = list(csv.DictReader((run_2023.out_dir / "visits.csv").read_text(encoding="utf-8-sig").splitlines()))

    assert visits and {row["类别"] for row in visits} <= set(labels.values())
    assert all(row["类别"] == labels[expected[row["户编号"]]["group"]] for row in visits)
    assert "因意外赔付" in visits[0]
    assert {"突发严重困难户", "脱贫不稳定户"} <= {row["类别"] for row in visits}
    sheets = pl.read_excel(run_2023.out_dir / "report.xlsx", sheet_id=0, infer_schema_length=0)
    cells = {str(cell) for sheet in sheets.values() for column in sheet.iter_columns() for cell in column
             if cell is not None}
    assert "突发严重困难户" in cells and "非高标准脱贫户" not in cells
    assert json.loads((run_2023.out_dir / "run.json").read_text())["pack"]["groups"] == [
        {"id": group, "label": label} for group, label in labels.items()]


def test_under_a_pack_without_accidents_the_accident_rows_are_skipped_as_not_in_pack(
    database_url: str, tmp_path: Path
) -> None:
    handan = REPO / "rules" / "handan-2019"
    pack_dir = tmp_path / "handan-2023"
    pack_dir.mkdir()
    for name in ("parameters.yaml", "rules.yaml"):
        (pack_dir / name).write_text((handan / name).read_text(encoding="utf-8"), encoding="utf-8")
    (pack_dir / "pack.yaml").write_text((handan / "pack.yaml").read_text(encoding="utf-8")
                                        .replace("years: [2019]", "years: [2023]"), encoding="utf-8")

    result = screen(ScreenRequest(drop=DROP, year=2023, county="130434", database_url=database_url,
                                  pack_dir=pack_dir, out_dir=tmp_path / "out", runs_dir=tmp_path))

    accident = next(item for item in result.run["inputs"] if item["department"] == "accident")
    assert accident["used"] == 0
    assert accident["by_reason"].get("not_in_pack", 0) == accident["skipped"] > 0
    assert accident["rows_read"] == accident["rejected"] + accident["skipped"]
    run = json.loads((result.out_dir / "run.json").read_text()) if result.out_dir else {}
    assert "accident" not in run["totals"]
    assert "not_in_pack" not in set(result.rejections["reason"].to_list())
