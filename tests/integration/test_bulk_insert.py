"""Bulk inserts store exactly what the ORM would, inside the session's transaction, on both databases."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa

from fangpin.db import bulk
from fangpin.db.models import ChainHead
from fangpin.db.session import get_engine, session_scope

AT = dt.datetime(2019, 3, 2, 8, 30, 15, 123456, tzinfo=dt.UTC)


def _frame(chain: str, rows: int) -> pl.DataFrame:
    return pl.DataFrame({
        "chain": [chain] * rows,
        "county": ["130434" if i % 3 else "130435" for i in range(rows)],
        "seq": list(range(1, rows + 1)),
        "record_hash": [f"{i:064x}" if i % 7 else "with|bar\\and 中文" for i in range(rows)],
        "recorded_at": [AT + dt.timedelta(seconds=i) for i in range(rows)],
    })


def _stored(database_url: str, chain: str) -> list[tuple[object, ...]]:
    with get_engine(database_url).connect() as connection:
        return [tuple(row) for row in connection.execute(
            sa.select(ChainHead.county, ChainHead.seq, ChainHead.record_hash, ChainHead.recorded_at)
            .where(ChainHead.chain == chain).order_by(ChainHead.seq))]


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "scratch"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def test_a_staged_insert_stores_what_the_orm_and_row_by_row_inserts_store(
    database_url: str, scratch: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = 300
    with session_scope(database_url) as session:
        session.execute(sa.insert(ChainHead), _frame("orm", rows).to_dicts())
        monkeypatch.setattr(bulk, "STAGE_MIN_ROWS", 10**9)
        bulk.bulk_insert(session, ChainHead, _frame("many", rows))
        monkeypatch.setattr(bulk, "STAGE_MIN_ROWS", 1)
        bulk.bulk_insert(session, ChainHead, _frame("staged", rows))

    orm = _stored(database_url, "orm")
    assert len(orm) == rows
    assert _stored(database_url, "many") == orm
    assert _stored(database_url, "staged") == orm
    assert list(scratch.iterdir()) == []  # the staging file went with the transaction


def test_a_staged_insert_rolls_back_with_its_transaction_and_leaves_no_file(
    database_url: str, scratch: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulk, "STAGE_MIN_ROWS", 1)
    with pytest.raises(RuntimeError), session_scope(database_url) as session:
        bulk.bulk_insert(session, ChainHead, _frame("lost", 50))
        if database_url.startswith("sqlite"):
            assert len(list(scratch.iterdir())) == 1  # staged through a file, attached until the end
        raise RuntimeError("the run failed after its rows were inserted")

    assert _stored(database_url, "lost") == []
    assert list(scratch.iterdir()) == []
    if database_url.startswith("sqlite"):
        with get_engine(database_url).connect() as connection:
            attached = [row[1] for row in connection.exec_driver_sql("PRAGMA database_list")]
        assert not [name for name in attached if name.startswith("stage_")]


def test_more_staged_inserts_than_sqlite_can_attach_at_once_all_succeed(
    database_url: str, scratch: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulk, "STAGE_MIN_ROWS", 1)
    for round_ in range(12):  # SQLite attaches at most 10 databases to one connection
        with session_scope(database_url) as session:
            bulk.bulk_insert(session, ChainHead, _frame(f"round{round_}", 5))

    assert sum(len(_stored(database_url, f"round{round_}")) for round_ in range(12)) == 60
    assert list(scratch.iterdir()) == []


def test_a_key_collision_in_a_staged_insert_is_an_integrity_error(
    database_url: str, scratch: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulk, "STAGE_MIN_ROWS", 1)
    with session_scope(database_url) as session:
        bulk.bulk_insert(session, ChainHead, _frame("twice", 5))
    with pytest.raises(sa.exc.IntegrityError), session_scope(database_url) as session:
        bulk.bulk_insert(session, ChainHead, _frame("twice", 5))  # unique (chain, county, seq)

    assert len(_stored(database_url, "twice")) == 5
    assert list(scratch.iterdir()) == []


@pytest.mark.parametrize("staged", [True, False])
def test_constant_columns_are_stored_as_the_orm_stores_them(
    database_url: str, scratch: Path, monkeypatch: pytest.MonkeyPatch, staged: bool
) -> None:
    monkeypatch.setattr(bulk, "STAGE_MIN_ROWS", 1 if staged else 10**9)
    at = AT  # the time of recording, as queries.now() gives it: UTC
    frame = _frame("constant", 200).drop("recorded_at", "chain")
    with session_scope(database_url) as session:
        session.execute(sa.insert(ChainHead), _frame("orm", 200).with_columns(pl.lit(at).alias("recorded_at"))
                        .to_dicts())
        bulk.bulk_insert(session, ChainHead, frame, constants={"chain": "constant", "recorded_at": at})

    assert _stored(database_url, "constant") == _stored(database_url, "orm")
    first = _stored(database_url, "constant")[0][3]
    assert isinstance(first, dt.datetime)
    assert (first.astimezone(dt.UTC).replace(tzinfo=None) if first.tzinfo else first) == AT.replace(tzinfo=None)
