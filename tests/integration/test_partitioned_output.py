"""A screening writes and stores its decisions from disk, partition by partition and slice by slice (the
decisions of each partition sorted, merged back in household order): the result files, run.json, the stored
decisions and their chain, the payments and the event ledger are those of an unpartitioned run, on SQLite and
PostgreSQL, also when every slice is tiny (many slices: the chains stay continuous, one head per append)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import sqlalchemy as sa

import fangpin_synth as synth
from fangpin.db.session import session_scope
from fangpin.reports.workbook import visit_list
from fangpin.screening import bulk, partitions, spill
from fangpin.screening.spill import Spill, spill_root
from fangpin.services.audit import verify_chains
from fangpin.services.screening import VISIT_KEY, ScreenRequest, ScreenResult, _visit_run, screen

FILES = ("decisions.csv", "rejections.csv", "visits.csv", "households.csv")
DECISION_COLUMNS = ("seq", "household_id", "township", "village", "status", "members", "per_capita_income",
                    "labour_capacity", "housing_secure", "bases", "paid_before", "rules", "group", "outcome",
                    "amounts", "payout", "fee")


@pytest.fixture(scope="module")
def drop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("partitioned") / "drop"
    synth.generate_drop(folder, 1200, seed=5, bad_share=0.05, correction_share=0.05, formats="utf8")
    return folder


def _screen(drop: Path, url: str, out: Path, parts: int, slice_rows: int | None,
            monkeypatch: pytest.MonkeyPatch) -> ScreenResult:
    monkeypatch.setenv("FANGPIN_SCREEN_PARTITIONS", str(parts))
    if slice_rows:
        monkeypatch.setattr(bulk, "SLICE_ROWS", slice_rows)
    assert partitions.plan(1) == parts
    try:
        return screen(ScreenRequest(drop=drop, year=2019, county="130434", database_url=url, out_dir=out))
    finally:
        monkeypatch.undo()


def _stored(url: str) -> dict[str, Any]:
    with session_scope(url) as session:
        names = ", ".join(f'"{name}"' for name in DECISION_COLUMNS)
        decisions = session.execute(sa.text(f"SELECT {names} FROM decisions ORDER BY seq")).all()
        payments = session.execute(sa.text(
            "SELECT p.seq, p.household_id, p.cause, p.paid_before, p.amount, d.household_id FROM payments p "
            "JOIN decisions d ON d.id = p.decision_id ORDER BY p.seq")).all()
        heads = session.execute(sa.text("SELECT chain, seq FROM chain_heads ORDER BY chain, seq")).all()
        parts = session.execute(sa.text("SELECT part, data FROM run_event_parts ORDER BY part")).all()
        legacy = session.scalar(sa.text("SELECT COUNT(*) FROM run_events WHERE LENGTH(data) > 0"))
        problems = verify_chains(session, ("decisions", "payments", "runs"))
    ledger = pl.read_parquet(io.BytesIO(b"".join(bytes(data) for _, data in parts)))
    return {"decisions": [tuple(row) for row in decisions], "payments": [tuple(row) for row in payments],
            "heads": [tuple(row) for row in heads], "ledger": ledger, "parts": [part for part, _ in parts],
            "legacy": legacy, "problems": problems}


@pytest.mark.parametrize(("parts", "slice_rows"), [(2, None), (3, 97), (7, None)])
def test_a_partitioned_run_writes_and_stores_what_an_unpartitioned_one_does(
    drop: Path, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parts: int,
    slice_rows: int | None,
) -> None:
    whole_url = f"sqlite:///{tmp_path / 'whole.db'}"
    whole = _screen(drop, whole_url, tmp_path / "whole", 1, None, monkeypatch)
    split = _screen(drop, database_url, tmp_path / "split", parts, slice_rows, monkeypatch)

    assert whole.out_dir is not None and split.out_dir is not None
    for name in FILES:
        assert (whole.out_dir / name).read_bytes() == (split.out_dir / name).read_bytes(), name
    assert (split.out_dir / "report.xlsx").stat().st_size > 0
    for key in ("rows", "totals", "corrections", "inputs"):
        assert whole.run[key] == split.run[key], key
    assert whole.run["events"]["counted_now"] == split.run["events"]["counted_now"] > 0
    if slice_rows is None:  # row groups of the same size: the same bytes, the same sha256
        assert whole.run["events"]["sha256"] == split.run["events"]["sha256"]

    mine, theirs = _stored(whole_url), _stored(database_url)
    assert mine["problems"] == theirs["problems"] == []
    assert mine["decisions"] == theirs["decisions"]
    assert len(mine["decisions"]) == whole.run["totals"]["households"] > 1000
    assert mine["payments"] == theirs["payments"] and len(mine["payments"]) > 100
    assert mine["heads"] == theirs["heads"]  # one chain head a chain a run, however many slices
    assert mine["ledger"].equals(theirs["ledger"])
    assert mine["legacy"] == theirs["legacy"] == 0 and mine["parts"] == theirs["parts"] == [0]
    assert whole.decisions().equals(split.decisions())


def test_a_run_without_partitions_writes_the_files_the_whole_frame_writers_write(
    drop: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Written a slice at a time (many slices), decisions.csv is what ``fangpin report --run`` writes from the
    stored decisions at once."""
    from fangpin.services.rebuild import rebuild_run

    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    result = _screen(drop, url, tmp_path / "run", 1, 50, monkeypatch)
    rebuilt = rebuild_run(url, result.run["run_id"], tmp_path / "rebuilt")
    assert result.out_dir is not None
    for name in FILES:
        assert (result.out_dir / name).read_bytes() == (rebuilt.out_dir / name).read_bytes(), name


def test_sorted_runs_merge_into_the_visit_lists_order_nulls_last(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulk, "SLICE_ROWS", 2_000)  # runs of 1,000-row chunks: the merge reads several of each
    monkeypatch.setattr(spill, "FILE_BYTES", 0)  # each chunk a file of its own, not written with the next ones
    households = 12_000
    decided = pl.DataFrame({
        "household_id": [f"H{n:05d}" for n in range(households)],
        "township": [None if n % 5 == 0 else f"T{n % 3}" for n in range(households)],
        "village": [None if n % 7 == 0 else f"V{n % 4}" for n in range(households)],
        "head_name": ["某"] * households, "group": [None] * households,
        "outcome": ["pay" if n % 3 else "below_deductible" for n in range(households)],
        "per_capita_income": list(range(households)), "illness": [100] * households, "payout": [100] * households,
        "fee": [1] * households,
    }, schema_overrides={"group": pl.String})
    with spill_root(tmp_path) as root:
        visits = Spill(root, "visits", 4)
        for index, part in enumerate(partitions.split(decided, "household_id", 4)):
            bulk.add_sorted(visits, index, _visit_run(part, ("illness",)))
        assert all(len(visits.files(index)) > 1 for index in range(4))
        merged = pl.concat(list(bulk.slices(bulk.merged(visits, VISIT_KEY), 333)))
    causes = [("illness", "因病")]
    expected = visit_list(decided, causes, {})
    assert visit_list(merged, causes, {}).equals(expected)
    assert merged["household_id"].to_list() == expected["户编号"].to_list()
    assert expected["乡镇"].null_count() > 0 and expected["户编号"].len() > 7_000


@pytest.mark.parametrize("count", [1, 3, 8])
def test_the_merge_of_sorted_runs_read_a_chunk_at_a_time_is_the_whole_sorted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, count: int
) -> None:
    monkeypatch.setattr(bulk, "SLICE_ROWS", 1_000)
    rows = pl.DataFrame({"household_id": [f"H{(n * 7919) % 20_011:06d}" for n in range(20_000)],
                         "n": range(20_000)})
    with spill_root(tmp_path) as root:
        runs = Spill(root, "runs", count)
        for index, part in enumerate(partitions.split(rows, "household_id", count)):
            bulk.add_sorted(runs, index, part.sort("household_id"))
        pieces = list(bulk.slices(bulk.merged(runs, ["household_id"])))
        sunk = root / "merged.parquet"
        bulk.merged(runs, ["household_id"], ["household_id"]).sink_parquet(sunk)
        assert pl.read_parquet(sunk)["household_id"].equals(rows.sort("household_id")["household_id"])
    assert max(piece.height for piece in pieces) <= 1_000
    assert pl.concat(pieces).equals(rows.sort("household_id"))


def test_the_run_event_parts_table_is_what_migration_0011_makes_it(database_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from fangpin.db.models import Base
    from fangpin.db.session import get_engine

    with get_engine(database_url).connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert "run_event_parts" in Base.metadata.tables
    assert [diff for diff in differences if "run_event_parts" in repr(diff)] == []


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_postgresql_stores_the_compressed_files_as_they_are_without_compressing_them_again(
    drop: Path, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Migration 0012: the ledger's parts and the result files (Parquet, compressed already) are stored out of
    line as they are (STORAGE EXTERNAL), not run through pglz first; down to 0011 they are EXTENDED again.
    A run stored under either reads back the same ledger."""
    from alembic import command

    from fangpin.db import queries
    from fangpin.db.session import alembic_config

    def storage() -> dict[str, str]:
        with session_scope(database_url) as session:
            return {f"{table}.{column}": kind for table, column, kind in session.execute(sa.text(
                "SELECT c.relname, a.attname, a.attstorage FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
                "WHERE c.relnamespace = current_schema()::regnamespace AND a.atttypid = 'bytea'::regtype"))}

    columns = {"run_event_parts.data", "run_events.data", "run_results.rejections", "run_results.households"}
    result = _screen(drop, database_url, tmp_path / "run", 1, None, monkeypatch)
    assert storage() == dict.fromkeys(columns, "e")
    command.downgrade(alembic_config(database_url), "0011")
    assert storage() == dict.fromkeys(columns, "x")
    command.upgrade(alembic_config(database_url), "head")
    assert storage() == dict.fromkeys(columns, "e")
    with session_scope(database_url) as session:
        ledger = pl.concat(queries.stored_ledgers(session, "130434", 2019))
        assert ledger.height == result.run["events"]["counted_now"] > 0
        assert verify_chains(session, ("runs",)) == []


def test_an_altered_part_of_a_stored_ledger_is_found_and_a_later_drop_reads_the_parts(
    drop: Path, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fangpin.db import queries

    result = _screen(drop, database_url, tmp_path / "run", 2, None, monkeypatch)
    with session_scope(database_url) as session:
        ledgers = list(queries.stored_ledgers(session, "130434", 2019))  # what the next drop of the year builds on
        assert len(ledgers) == 1
        assert ledgers[0].height == result.run["events"]["counted_now"] > 0
        assert verify_chains(session, ("runs",)) == []
        session.execute(sa.text("UPDATE run_event_parts SET data = :data WHERE part = 0"),
                        {"data": b"PAR1" + b"\0" * 64})
    with session_scope(database_url) as session:
        problems = verify_chains(session, ("runs",))
    assert [problem.chain for problem in problems] == ["run_events"]
    assert "was altered" in problems[0].problem


def test_the_ledger_is_the_same_file_merged_on_the_packed_key_or_on_the_three_order_columns(tmp_path: Path) -> None:
    from fangpin.screening.linking import AddedEvents, ledger_schema, order_key
    from fangpin.services import resolve_pack
    from fangpin.services.screening import _ledger

    pack = resolve_pack(2019, None)
    schema = ledger_schema(pack)
    rows = 5_000
    events = pl.DataFrame({
        **{name: pl.Series(name, [None] * rows, dtype=dtype) for name, dtype in schema.items()},
    }).with_columns(
        pl.format("E{}", pl.int_range(rows)).alias("event_id"), pl.lit("medical").alias("department"),
        (pl.int_range(rows) % 3).cast(pl.UInt32).alias("_source"), (pl.int_range(rows) % 5 == 0).alias("_again"),
        ((pl.int_range(rows) % 7) * (1 << 32) + pl.int_range(rows).reverse()).cast(pl.Int64).alias("_order"),
    )
    files = []
    for packed in (True, False):
        with spill_root(tmp_path) as root:
            added = AddedEvents(root, 3, order_key(3, 7) if packed else None)
            for index, part in enumerate(partitions.split(events, "event_id", 3)):
                added.add(index, part)
            assert added.spill.ranged == packed and added.spill.count == (12 if packed else 3)
            path = _ledger(added.spill, pack, root / "ledger.parquet")
            files.append(path.read_bytes())
            order = pl.read_parquet(path)["event_id"]
    assert files[0] == files[1]
    expected = events.sort("_source", "_again", "_order")["event_id"]
    assert order.equals(expected)
