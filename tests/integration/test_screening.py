"""Screening data drops end to end, on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import sqlalchemy as sa

import fangpin_synth as synth
from fangpin.db.session import get_engine
from fangpin.deciding import decide
from fangpin.documents import household_from
from fangpin.errors import FangpinError
from fangpin.intake.errors import MissingColumnError
from fangpin.money import to_fen
from fangpin.packs import pack_for_year
from fangpin.screening.documents import household_documents
from fangpin.services.screening import ScreenRequest, ScreenResult, screen
from tests.integration.drops import MEDICAL_HEADER, base_drop, settlement, write


def _screen(drop: Path, database_url: str, tmp_path: Path, **kwargs: Any) -> ScreenResult:
    request = ScreenRequest(drop=drop, year=2019, county="130434", database_url=database_url,
                            runs_dir=tmp_path / "runs", **kwargs)
    return screen(request)


def _count(database_url: str, table: str) -> int:
    with get_engine(database_url).connect() as connection:
        return int(connection.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())


def _decision(result: ScreenResult, household_id: str) -> dict[str, Any]:
    rows = pl.read_csv(result.out_dir / "decisions.csv", infer_schema=False)  # type: ignore[operator]
    return rows.filter(pl.col("household_id") == household_id).row(0, named=True)


@pytest.fixture(scope="module")
def synthetic_drop(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    folder = tmp_path_factory.mktemp("synthetic") / "drop"
    manifest = synth.generate_drop(folder, 150, seed=5)
    return folder, dataclasses.asdict(manifest)


def test_every_row_of_a_generated_drop_is_accounted_for_as_its_generator_expects(
    synthetic_drop: tuple[Path, dict[str, Any]], database_url: str, tmp_path: Path
) -> None:
    drop, manifest = synthetic_drop

    result = _screen(drop, database_url, tmp_path)

    inputs = {item["file"]: item for item in result.run["inputs"]}
    rejections = pl.read_csv(result.out_dir / "rejections.csv", infer_schema=False)  # type: ignore[operator]
    for expected in manifest["files"]:
        got = inputs[expected["name"]]
        assert got["rows_read"] == got["used"] + got["rejected"] + got["skipped"]
        assert (got["rows_read"], got["used"], got["rejected"], got["skipped"]) == (
            expected["rows_read"], expected["rows_used"], expected["rows_rejected"], expected["rows_skipped"]
        ), expected["name"]
        mine = rejections.filter(pl.col("file") == expected["name"])
        for reason, rows in expected["rejected"].items():
            assert sorted(mine.filter(pl.col("reason") == reason)["row"].cast(pl.Int64).to_list()) == sorted(rows)
    decisions = pl.read_csv(result.out_dir / "decisions.csv", infer_schema=False)  # type: ignore[operator]
    mine_by_id = {row["household_id"]: row for row in decisions.iter_rows(named=True)}
    for want in manifest["expected"]["decisions"]:
        got = mine_by_id[want["household_id"]]
        for key in ("group", "outcome", "per_capita_income", "illness", "schooling", "disaster", "payout", "fee"):
            assert (got[key] or "") == (want[key] or ""), (want["household_id"], key)
    assert _count(database_url, "decisions") == decisions.height


def test_bulk_screening_and_single_checks_agree_on_every_household(
    synthetic_drop: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    result = _screen(synthetic_drop[0], f"sqlite:///{tmp_path / 'db.sqlite'}", tmp_path, keep_linked=True)
    pack = pack_for_year(2019)
    bulk = {row["household_id"]: row for row in result.decisions().iter_rows(named=True)}
    assert result.linked is not None

    documents = list(household_documents(result.linked, pack))

    assert len(documents) == len(bulk) > 100
    for document in documents:
        single = decide(household_from(document), pack)
        row = bulk[single.household_id]
        assert (row["group"], row["outcome"]) == (single.group, single.outcome)
        assert [row[c] for c in ("illness", "schooling", "disaster", "payout", "fee", "per_capita_income")] == [
            to_fen(v) for v in (*(single.cause(c).increment for c in ("illness", "schooling", "disaster")),
                                single.payout, single.fee, single.per_capita_income)
        ]
        assert row["rules"] == ",".join(rule.id for rule in single.rules)


def test_screening_the_same_drop_again_changes_nothing_and_says_so(database_url: str, tmp_path: Path) -> None:
    drop = base_drop(tmp_path / "drop", [settlement("S1", 1, "2019-03-15", "30000.00")])
    first = _screen(drop, database_url, tmp_path)
    counts = {table: _count(database_url, table) for table in ("runs", "decisions", "run_events", "payments")}

    again = _screen(drop, database_url, tmp_path)

    assert not first.already and again.already
    assert again.run["run_id"] == first.run["run_id"]
    assert {table: _count(database_url, table) for table in counts} == counts


def test_a_later_drop_of_the_year_pays_only_the_increment_and_counts_nothing_twice(
    database_url: str, tmp_path: Path
) -> None:
    march = base_drop(tmp_path / "march", [settlement("S1", 1, "2019-03-15", "30000.00")])
    august = base_drop(tmp_path / "august", [
        settlement("S1", 1, "2019-03-15", "30000.00"),   # already counted in March: a duplicate
        settlement("S2", 11, "2019-08-20", "25000.00"),  # the spouse's stay in August
    ])

    first = _screen(march, database_url, tmp_path)
    second = _screen(august, database_url, tmp_path)

    assert _decision(first, "H1")["payout"] == "5000.00"
    later = _decision(second, "H1")
    assert (later["outcome"], later["illness"], later["payout"], later["fee"]) == ("pay", "14000.00", "14000.00",
                                                                                 "2100.00")
    medical = next(item for item in second.run["inputs"] if item["file"] == "medical.csv")
    assert medical["by_reason"] == {"duplicate_event": 1}
    assert _count(database_url, "payments") == 2


def test_a_corrected_settlement_replaces_the_one_counted_before(database_url: str, tmp_path: Path) -> None:
    first = base_drop(tmp_path / "first", [settlement("S1", 1, "2019-03-15", "30000.00")])
    corrected = base_drop(tmp_path / "corrected", [settlement("S1", 1, "2019-03-15", "40000.00")])

    _screen(first, database_url, tmp_path)
    result = _screen(corrected, database_url, tmp_path)

    assert _decision(result, "H1")["payout"] == "5000.00"  # 40000 → owed 10000, 5000 paid before
    assert result.run["corrections"] == {"of_earlier_runs": 1, "within_this_drop": 0}


def test_a_settlement_corrected_later_in_the_same_drop_counts_once_in_its_corrected_form(
    database_url: str, tmp_path: Path
) -> None:
    drop = base_drop(tmp_path / "drop", [settlement("S1", 1, "2019-03-15", "30000.00"),
                                         settlement("S1", 1, "2019-03-15", "40000.00")])

    result = _screen(drop, database_url, tmp_path)

    assert _decision(result, "H1")["payout"] == "10000.00"  # 40000 − 20000 → 20000 × 50 %, counted once
    assert result.run["corrections"] == {"of_earlier_runs": 0, "within_this_drop": 1}
    assert result.rejections.is_empty()


def test_the_second_of_two_identical_settlements_in_one_drop_is_a_duplicate(database_url: str, tmp_path: Path) -> None:
    drop = base_drop(tmp_path / "drop", [settlement("S1", 1, "2019-03-15", "30000.00"),
                                         settlement("S1", 1, "2019-03-15", "30000.00")])

    result = _screen(drop, database_url, tmp_path)

    assert _decision(result, "H1")["payout"] == "5000.00"
    rejections = pl.read_csv(result.out_dir / "rejections.csv", infer_schema=False)  # type: ignore[operator]
    assert rejections.rows() == [("medical.csv", "3", "settlement_id", "S1", "duplicate_event")]


def test_a_file_missing_a_required_column_fails_before_anything_is_stored(database_url: str, tmp_path: Path) -> None:
    drop = base_drop(tmp_path / "drop", [settlement("S1", 1, "2019-03-15", "30000.00")])
    write(drop, "medical.csv", [MEDICAL_HEADER.replace(",结算日期", ""), "S1,130434198001010015,31000,1000,0,0,"])

    with pytest.raises(MissingColumnError) as caught:
        _screen(drop, database_url, tmp_path)

    assert "medical.csv" in str(caught.value) and "date" in str(caught.value)
    with get_engine(database_url).connect() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM runs")).scalar_one() == 0


def test_a_file_that_looks_like_no_department_is_reported_and_ignored(database_url: str, tmp_path: Path) -> None:
    drop = base_drop(tmp_path / "drop", [settlement("S1", 1, "2019-03-15", "30000.00")])
    write(drop, "notes.csv", ["备注,日期", "下周入户,2019-05-01"])

    result = _screen(drop, database_url, tmp_path)

    assert result.run["unrecognised"] == ["notes.csv"]
    assert _decision(result, "H1")["payout"] == "5000.00"


def test_a_run_that_fails_while_storing_leaves_nothing_and_runs_again(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fangpin.db import chained

    drop = base_drop(tmp_path / "drop", [settlement("S1", 1, "2019-03-15", "30000.00")])
    real_insert = chained.bulk_insert_parts
    calls = {"n": 0}

    def failing_insert(*args: Any, **kwargs: Any) -> int:
        calls["n"] += 1
        if calls["n"] == 2:  # decisions are in, the payments are not
            raise RuntimeError("the machine lost power")
        return real_insert(*args, **kwargs)

    monkeypatch.setattr(chained, "bulk_insert_parts", failing_insert)
    with pytest.raises(RuntimeError):
        _screen(drop, database_url, tmp_path)
    monkeypatch.setattr(chained, "bulk_insert_parts", real_insert)

    assert calls["n"] == 2
    assert [_count(database_url, t) for t in ("runs", "decisions", "run_events", "payments")] == [0, 0, 0, 0]
    assert not any((tmp_path / "runs").iterdir())
    result = _screen(drop, database_url, tmp_path)
    assert _decision(result, "H1")["payout"] == "5000.00"


def test_an_empty_or_missing_drop_folder_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()

    with pytest.raises(FangpinError, match=r"没有 \.csv 或 \.xlsx 文件"):
        _screen(tmp_path / "empty", f"sqlite:///{tmp_path / 'db.sqlite'}", tmp_path)
    with pytest.raises(FangpinError, match="没有这个文件夹"):
        _screen(tmp_path / "nowhere", f"sqlite:///{tmp_path / 'db.sqlite'}", tmp_path)
