"""The SQLite files a long-lived process leaves: a screening run's write-ahead log is cut back once
checkpointed, instead of staying on disk at the size of the largest run for as long as a server or worker
keeps the database open."""

from __future__ import annotations

from pathlib import Path

import pytest

from fangpin.db import session as db_session
from fangpin.db.session import dispose_all, session_scope
from fangpin.services.screening import ScreenRequest, screen

DEMO = Path(__file__).resolve().parents[2] / "fixtures" / "demo"


def _wal_after_a_run_and_one_more_write(tmp_path: Path, keep: int, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(db_session, "SQLITE_WAL_KEEP", keep)
    database = tmp_path / "fangpin.db"
    url = f"sqlite:///{database}"
    try:
        screen(ScreenRequest(drop=DEMO, year=2019, county="130434", database_url=url, out_dir=tmp_path / "run"))
        # What a large run's commit does by itself (its log is past wal_autocheckpoint's 1,000 pages; the
        # demo's is not): the log is copied into the database. The next write then starts the log afresh.
        with session_scope(url) as session:
            session.connection().exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
        with session_scope(url) as session:
            session.connection().exec_driver_sql("CREATE TABLE probe (x INTEGER)")
            limit = session.connection().exec_driver_sql("PRAGMA journal_size_limit").scalar_one()
        assert limit == keep
        return database.with_name(database.name + "-wal").stat().st_size
    finally:
        dispose_all()  # the engine (and its log) stays open meanwhile, as in a server


def test_a_run_s_write_ahead_log_is_cut_back_to_the_limit_once_checkpointed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kept = _wal_after_a_run_and_one_more_write(tmp_path / "limited", 256 * 1024, monkeypatch)
    unlimited = _wal_after_a_run_and_one_more_write(tmp_path / "unlimited", -1, monkeypatch)

    assert unlimited > 256 * 1024  # the demo's run grows the log past the limit (else this proves nothing)
    assert kept <= 256 * 1024
