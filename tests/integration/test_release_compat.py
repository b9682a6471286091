"""A database written by fangpin 0.1 (tests/fixtures/release-0.1.0) keeps working after the pack language
and the decisions table were generalised: it migrates, its chains verify, its run and decisions replay
byte-identically under the packs that made them, and a later drop of the same year builds on its ledger."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from fangpin.db.models import DecisionRecord
from fangpin.db.session import dispose_all, session_scope
from fangpin.services.audit import verify_chains as verify
from fangpin.services.replay import replay_decision, replay_run
from fangpin.services.screening import ScreenRequest, screen

RELEASE = Path(__file__).resolve().parents[1] / "fixtures" / "release-0.1.0"
RUN_ID = "130434-2019-20261201T040108-0711c3"
DEMO = Path(__file__).resolve().parents[2] / "fixtures" / "demo"


@pytest.fixture
def old_database(tmp_path: Path) -> str:
    copy = tmp_path / "fangpin.db"
    shutil.copy(RELEASE / "fangpin.db", copy)
    yield f"sqlite:///{copy}"
    dispose_all()


def test_a_0_1_database_migrates_and_every_chain_still_verifies(old_database: str) -> None:
    with session_scope(old_database) as session:
        breaks = verify(session)
        layouts = set(session.scalars(select(DecisionRecord.layout)))

    assert breaks == []
    assert layouts == {1}


def test_a_0_1_run_replays_byte_identically_under_its_own_pack(old_database: str) -> None:
    with session_scope(old_database) as session:
        result = replay_run(session, RUN_ID)

    assert result.identical
    assert result.stored_digest == result.replayed_digest
    assert result.totals()["payout_before"] == 17655008


def test_every_0_1_decision_replays_identically(old_database: str) -> None:
    with session_scope(old_database) as session:
        ids = list(session.scalars(select(DecisionRecord.id).order_by(DecisionRecord.id)))
        results = [replay_decision(session, decision_id) for decision_id in ids]

    assert len(results) == 38
    assert all(result.identical for result in results)


def test_the_0_1_run_s_decisions_file_is_what_replay_rebuilds(old_database: str) -> None:
    import hashlib

    with session_scope(old_database) as session:
        result = replay_run(session, RUN_ID)

    assert result.stored_digest == hashlib.sha256((RELEASE / "run-decisions.csv").read_bytes()).hexdigest()


def test_a_later_drop_of_the_same_year_reads_the_0_1_ledger_and_pays_nothing_twice(
    old_database: str, tmp_path: Path
) -> None:
    drop = tmp_path / "drop"
    shutil.copytree(DEMO, drop)
    (drop / "火灾.csv").unlink()  # another drop (another hash) with the same events as the stored run

    result = screen(ScreenRequest(drop=drop, year=2019, county="130434", database_url=old_database,
                                  out_dir=tmp_path / "again", runs_dir=tmp_path))

    assert not result.already
    assert result.run["totals"]["payout"] == "0.00"
    assert result.rejections.filter(result.rejections["reason"] == "duplicate_event").height > 0
    with session_scope(old_database) as session:
        assert verify(session) == []


def test_report_rebuilds_the_0_1_runs_decisions_file_and_names_what_it_cannot(old_database: str,
                                                                            tmp_path: Path) -> None:
    from fangpin.services.rebuild import describe, rebuild_run

    result = rebuild_run(old_database, RUN_ID, tmp_path / "rebuilt")

    assert (tmp_path / "rebuilt" / "decisions.csv").read_bytes() == (RELEASE / "run-decisions.csv").read_bytes()
    assert result.written == ["decisions.csv", "run.json"]
    assert result.missing == ["rejections.csv", "visits.csv", "households.csv", "report.xlsx"]
    assert "stored before fangpin kept its rejected rows" in describe(result)
