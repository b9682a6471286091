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


# --- keyed chains (migration 0007) on a 0.1 database ----------------------------------------------------

def _verify_cli(database: str, *args: str) -> tuple[int, str]:
    from typer.testing import CliRunner

    from fangpin.cli import app

    result = CliRunner().invoke(app, ["audit", *args], env={"FANGPIN_DATABASE_URL": database, "COLUMNS": "200"})
    return result.exit_code, result.output


def test_the_0_1_chains_are_anchored_and_new_records_after_them_are_keyed(old_database: str) -> None:
    from fangpin.db.chained import chain_key
    from fangpin.db.models import ChainAnchor

    with session_scope(old_database) as session:
        anchors = {(a.chain, a.seq) for a in session.scalars(select(ChainAnchor))}
        key = chain_key(session, create=False)
    assert anchors == {("decisions", 38), ("payments", 19), ("claim_events", 22)}
    assert key.path == Path(old_database.removeprefix("sqlite:///")).with_name("fangpin.db.key")


def test_a_0_1_chain_rewritten_with_plain_sha256_is_caught_even_without_its_anchor(old_database: str) -> None:
    from tests.api.test_tamper_evidence import rewrite

    with session_scope(old_database) as session:
        rewrite(session, "payments", "130434", keyed=False, alter={"amount": 99_999_900})
    with session_scope(old_database) as session:
        breaks = verify(session)

    assert [(b.chain, b.seq) for b in breaks] == [("payments", 1)]


def test_a_0_1_claim_paid_amount_edited_in_sql_is_caught(old_database: str) -> None:
    import sqlalchemy as sa

    from fangpin.db.session import get_engine

    with get_engine(old_database).begin() as connection:
        connection.execute(sa.text("UPDATE claims SET amount_paid = 1300001 WHERE state = 'paid'"))
    with session_scope(old_database) as session:
        breaks = verify(session)

    assert len(breaks) == 1 and breaks[0].chain == "claims" and "amount_paid 1300001" in breaks[0].problem


def test_a_0_1_database_exports_heads_and_catches_its_tail_cut_later(old_database: str, tmp_path: Path) -> None:
    import sqlalchemy as sa

    from fangpin.db.chained import anchor_values, chain_key
    from fangpin.db.session import get_engine

    code, output = _verify_cli(old_database, "export-heads", str(tmp_path / "heads.json"))
    assert code == 0, output
    with get_engine(old_database).begin() as connection:  # the last claim step and its claim, gone; the
        # head row and the anchor moved back to the step before
        claim = connection.execute(sa.text("SELECT claim_id FROM claim_events WHERE seq = 22")).scalar_one()
        connection.execute(sa.text("DELETE FROM claim_events WHERE seq = 22"))
        connection.execute(sa.text("DELETE FROM claims WHERE id = :id"), {"id": claim})
        end = connection.execute(sa.text("SELECT record_hash FROM claim_events WHERE seq = 21")).scalar_one()
        connection.execute(sa.text("UPDATE chain_heads SET seq = 21, record_hash = :hash "
                                   "WHERE chain = 'claim_events' AND seq = 22"), {"hash": end})
        key = chain_key(connection)  # one who holds the key moves the anchor too
        connection.execute(sa.text("UPDATE chain_anchors SET seq = 21, record_hash = :hash, mac = :mac "
                                   "WHERE chain = 'claim_events'"),
                           {"hash": end, "mac": key.sign(anchor_values("claim_events", "130434", 21, end))})
    assert _verify_cli(old_database, "verify")[0] == 0  # without the export, nothing tells

    code, output = _verify_cli(old_database, "verify", "--heads", str(tmp_path / "heads.json"))

    assert code == 1
    assert "claim_events of county 130434, record seq 22: the head exported at seq 22 is gone" in output


def test_purging_a_0_1_database_keeps_every_chain_intact(old_database: str, tmp_path: Path) -> None:
    import datetime as dt

    from fangpin.services.purge import purge_runs

    with session_scope(old_database) as session:
        result = purge_runs(session, tmp_path / "runs", dt.date.today() + dt.timedelta(days=1))
    with session_scope(old_database) as session:
        breaks = verify(session)

    # the three 0.1 documents are covered by plain sha256 themselves: kept
    assert (result.runs, result.ledgers, result.documents, result.kept_documents) == ([RUN_ID], 1, 0, 3)
    assert breaks == []


def _page_size(url: str) -> int:
    with session_scope(url) as session:
        return int(session.connection().exec_driver_sql("PRAGMA page_size").scalar_one())


def test_a_new_database_gets_16_kib_pages_and_a_0_1_database_keeps_its_own(old_database: str,
                                                                           tmp_path: Path) -> None:
    """A screening's one transaction spills pages to the write-ahead log, each looked up in the log's index:
    new databases take larger pages (fewer frames); one written before keeps its pages and keeps working."""
    new = f"sqlite:///{tmp_path / 'new.db'}"
    result = screen(ScreenRequest(drop=DEMO, year=2019, county="130434", database_url=new,
                                  out_dir=tmp_path / "run"))

    assert _page_size(new) == 16384
    assert _page_size(old_database) == 4096
    with session_scope(new) as session:
        assert verify(session) == []
        assert session.query(DecisionRecord).count() == result.run["totals"]["households"]
