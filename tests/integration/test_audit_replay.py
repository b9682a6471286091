"""Tamper evidence, replay, migrations and concurrent runs, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fangpin.db.session import alembic_config, get_engine, session_scope
from fangpin.services.audit import verify_chains
from fangpin.services.replay import replay_decision, replay_run
from fangpin.services.screening import ScreenRequest, ScreenResult, screen
from tests.integration.drops import base_drop, settlement
from tests.support import REPO

PACK_2020 = REPO / "rules" / "handan-2020"


def _screen(drop: Path, database_url: str, tmp_path: Path) -> ScreenResult:
    return screen(ScreenRequest(drop=drop, year=2019, county="130434", database_url=database_url,
                                runs_dir=tmp_path / "runs"))


@pytest.fixture
def screened(database_url: str, tmp_path: Path) -> tuple[str, ScreenResult]:
    drop = base_drop(tmp_path / "drop", [settlement("S1", 1, "2019-03-15", "30000.00"),
                                         settlement("S2", 2, "2019-04-15", "9000.00")])
    return database_url, _screen(drop, database_url, tmp_path)


def _execute(database_url: str, sql: str, **params: Any) -> None:
    with get_engine(database_url).begin() as connection:
        connection.execute(sa.text(sql), params)


def _breaks(database_url: str) -> list[str]:
    with session_scope(database_url) as session:
        return [str(problem) for problem in verify_chains(session)]


def test_an_untouched_database_verifies(screened: tuple[str, ScreenResult]) -> None:
    assert _breaks(screened[0]) == []


def test_a_decision_edited_behind_the_applications_back_is_reported(screened: tuple[str, ScreenResult]) -> None:
    database_url, _ = screened

    _execute(database_url, "UPDATE decisions SET payout = payout + 100 WHERE household_id = 'H1'")

    problems = _breaks(database_url)
    assert len(problems) == 1
    assert "decisions" in problems[0] and "altered" in problems[0]


def test_a_payment_removed_from_the_end_of_the_chain_is_reported(screened: tuple[str, ScreenResult]) -> None:
    database_url, _ = screened

    _execute(database_url, "DELETE FROM payments")

    assert any("payments" in problem and "removed" in problem for problem in _breaks(database_url))


def test_a_decision_removed_from_the_middle_is_reported(screened: tuple[str, ScreenResult]) -> None:
    database_url, _ = screened

    _execute(database_url, "DELETE FROM payments")  # they refer to the decision
    _execute(database_url, "DELETE FROM decisions WHERE seq = 1")

    problems = [problem for problem in _breaks(database_url) if problem.startswith("decisions")]
    assert problems and "seq 1 is missing" in problems[0]


def test_a_record_inserted_out_of_order_is_reported(screened: tuple[str, ScreenResult]) -> None:
    database_url, _ = screened

    _execute(database_url, "UPDATE decisions SET prev_hash = :h WHERE seq = 2", h="f" * 64)

    assert any("does not link" in problem for problem in _breaks(database_url))


def test_replaying_a_run_under_its_own_pack_is_byte_identical(screened: tuple[str, ScreenResult]) -> None:
    database_url, result = screened

    with session_scope(database_url) as session:
        replay = replay_run(session, result.run["run_id"])

    assert replay.identical
    assert replay.stored_digest == replay.replayed_digest
    assert replay.diff.is_empty()


def test_replaying_under_the_2020_pack_shows_what_changed_and_why(screened: tuple[str, ScreenResult]) -> None:
    database_url, result = screened

    with session_scope(database_url) as session:
        replay = replay_run(session, result.run["run_id"], PACK_2020)

    assert not replay.identical
    h2 = replay.diff.filter(pl.col("household_id") == "H2")  # 5500 per capita: covered only from 2020
    assert h2.filter(pl.col("cause") == "illness").row(0, named=True)["after"] == 200_000  # (9000-5000) × 50 %
    assert "poverty_line" in h2["parameters"][0]
    assert replay.totals()["payout_after"] - replay.totals()["payout_before"] == 200_000


def test_replaying_one_decision_under_its_pack_is_identical(screened: tuple[str, ScreenResult]) -> None:
    database_url, _ = screened
    with get_engine(database_url).connect() as connection:
        decision_id = connection.execute(sa.text("SELECT id FROM decisions WHERE household_id='H1'")).scalar_one()

    with session_scope(database_url) as session:
        assert replay_decision(session, decision_id).identical


def test_a_stored_pack_altered_in_the_database_is_refused_for_replay(screened: tuple[str, ScreenResult]) -> None:
    from fangpin.errors import ReplayError

    database_url, result = screened
    with session_scope(database_url) as session:
        from fangpin.db.models import PackRecord

        record = session.get(PackRecord, result.run["pack"]["hash"])
        assert record is not None
        files = dict(record.content["files"])
        files["parameters.yaml"] = files["parameters.yaml"].replace('"3200.00"', '"3300.00"')
        session.execute(sa.update(PackRecord).where(PackRecord.hash == record.hash).values(content={"files": files}))

    with session_scope(database_url) as session, pytest.raises(ReplayError, match="已被改动"):
        replay_run(session, result.run["run_id"])


burdens = st.integers(min_value=0, max_value=12_000_000).map(lambda fen: f"{fen // 100}.{fen % 100:02d}")


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(first=burdens, second=burdens, third=burdens)
def test_replaying_any_stored_decision_reproduces_it(tmp_path_factory: pytest.TempPathFactory, first: str,
                                                      second: str, third: str) -> None:
    folder = tmp_path_factory.mktemp("prop")
    database_url = f"sqlite:///{folder / 'db.sqlite'}"
    _screen(base_drop(folder / "a", [settlement("S1", 1, "2019-03-15", first),
                                     settlement("S2", 2, "2019-04-15", second)]), database_url, folder)
    later = _screen(base_drop(folder / "b", [settlement("S3", 11, "2019-09-15", third)]), database_url, folder)

    with session_scope(database_url) as session:
        assert replay_run(session, later.run["run_id"]).identical
        for decision_id in session.scalars(sa.text("SELECT id FROM decisions")):
            assert replay_decision(session, decision_id).identical


def test_migrations_go_down_and_up_again(database_url: str) -> None:
    from alembic import command

    get_engine(database_url)  # migrated to head on first use
    config = alembic_config(database_url)

    command.downgrade(config, "base")
    command.upgrade(config, "head")

    with get_engine(database_url).connect() as connection:
        tables = set(sa.inspect(connection).get_table_names())
    assert {"packs", "runs", "decisions", "run_events", "payments", "chain_heads"} <= tables


def test_two_processes_screening_the_same_drop_at_once_pay_each_household_once(
    database_url: str, tmp_path: Path
) -> None:
    drop = base_drop(tmp_path / "drop", [settlement(f"S{i}", 1 if i % 2 else 2, "2019-03-15", "30000.00")
                                         for i in range(1, 40)])
    get_engine(database_url)
    env = {**os.environ, "FANGPIN_DATABASE_URL": database_url, "FANGPIN_RUNS_DIR": str(tmp_path / "runs")}
    command = [sys.executable, "-m", "fangpin", "screen", str(drop), "--year", "2019", "--county", "130434"]

    processes = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(2)]
    outputs = [process.communicate(timeout=120) for process in processes]

    codes = sorted(process.returncode for process in processes)
    assert codes[0] == 0, outputs
    for (stdout, stderr), process in zip(outputs, processes, strict=True):
        assert "Traceback" not in stderr, stderr
        if process.returncode != 0:  # the loser of the race: told so, nothing of it stored
            assert "请重新运行" in stderr or "locked" in stderr, stderr
        else:
            assert "decisions.csv" in stdout or "already screened" in stdout
    with get_engine(database_url).connect() as connection:
        paid = connection.execute(sa.text(
            "SELECT household_id, cause, count(*), sum(amount) FROM payments GROUP BY household_id, cause"
        )).all()
    assert [(h, c, n) for h, c, n, _ in paid] == [("H1", "illness", 1)]
    assert _breaks(database_url) == []
