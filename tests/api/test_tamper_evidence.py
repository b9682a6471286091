"""Tamper evidence that survives a rewrite of the database (issue 12, parts 4 and 5), on SQLite and PostgreSQL.

A populated database (a screening run, single checks, a paid claim, a fund input, users) is altered in SQL as
an attacker would: without the chain key (recomputing plain sha256 and the recorded heads), and with it (then
only heads exported earlier catch it); cut at its end together with its head rows; a claim's amount paid or
state, a fund input, a user's role edited. Each is caught. Purging old runs removes the personal data and
the result files while everything still verifies; the database, key and result files are owner-only."""

from __future__ import annotations

import datetime as dt
import os
import stat
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from fangpin.audit.chain import record_hash
from fangpin.db.chained import CHAINS, chain_key, payload
from fangpin.db.models import ChainHead
from fangpin.db.session import get_engine, session_scope
from fangpin.services.audit import export_heads, verify_chains
from fangpin.services.fund import record_input
from fangpin.services.purge import purge_runs
from fangpin.services.screening import ScreenRequest, screen
from tests.api.conftest import Api
from tests.support import COUNTY, document

DEMO = Path(__file__).resolve().parents[2] / "fixtures" / "demo"


@pytest.fixture
def stored(api: Api, tmp_path: Path) -> Api:
    """Every chain populated: a screening run of the demo drop, two checks with their documents, a claim paid,
    a fund input, the users of every role."""
    screen(ScreenRequest(drop=DEMO, year=2019, county=COUNTY, database_url=api.database_url,
                         runs_dir=tmp_path / "runs"))
    assert api.post("/v1/checks", document("130434-7001"), who="surveyor").status_code == 201
    api.claim_at("paid")
    with session_scope(api.database_url) as session:
        record_input(session, COUNTY, 2019, "36105000.00", "office")
    with session_scope(api.database_url) as session:
        assert verify_chains(session) == []
    return api


def _verify(api: Api, heads: Path | None = None) -> list[str]:
    with session_scope(api.database_url) as session:
        return [str(problem) for problem in verify_chains(session, heads=heads)]


def _sql(api: Api, statement: str, **params: object) -> None:
    with get_engine(api.database_url).begin() as connection:
        connection.execute(sa.text(statement), params)


def rewrite(session: Session, chain: str, county: str, *, keyed: bool, alter: dict[str, object]) -> None:
    """Rewrite a county's whole chain as an attacker who can write the database would: change the first
    record, then recompute every record hash from it (plain sha256 without the key, HMAC with it), and the
    recorded heads. Without the key, the attacker also removes the anchors that say where plain sha256 ends."""
    model = CHAINS[chain]
    table = model.__table__
    key = chain_key(session) if keyed else None
    rows = [dict(row._mapping) for row in session.execute(
        sa.select(table).where(table.c.county == county).order_by(table.c.seq))]
    rows[0].update(alter)
    previous = "0" * 64
    for row in rows:
        row["prev_hash"] = previous
        text = payload(model, row, keyed=keyed)
        previous = row["record_hash"] = key.link(previous, text) if key else record_hash(previous, text)
        session.execute(table.update().where(table.c.id == row["id"])
                        .values(**{name: row[name] for name in (*alter, "prev_hash", "record_hash")}))
    session.execute(sa.delete(ChainHead).where(ChainHead.chain == chain, ChainHead.county == county))
    session.add(ChainHead(chain=chain, county=county, seq=len(rows), record_hash=previous,
                          recorded_at=dt.datetime.now(dt.UTC)))
    if not keyed:
        session.execute(sa.text("DELETE FROM chain_anchors WHERE chain = :chain"), {"chain": chain})


@pytest.mark.parametrize("chain, alter", [
    ("decisions", {"payout": 99_999_900}),
    ("payments", {"amount": 99_999_900}),
    ("claim_events", {"who": "someone else"}),
    ("runs", {"payout": 1}),
    ("fund_inputs", {"amount": 1}),
    ("users", {"role": "office"}),
])
def test_a_chain_rewritten_with_plain_sha256_and_its_heads_is_caught_without_any_export(
    stored: Api, chain: str, alter: dict[str, object]
) -> None:
    with session_scope(stored.database_url) as session:
        rewrite(session, chain, COUNTY, keyed=False, alter=alter)

    problems = _verify(stored)

    assert problems and all(chain in problem and "130434" in problem for problem in problems), problems


def test_a_chain_rewritten_with_the_key_is_caught_by_the_heads_exported_before(stored: Api, tmp_path: Path) -> None:
    heads = tmp_path / "heads.json"
    with session_scope(stored.database_url) as session:
        export_heads(session, heads)
    with session_scope(stored.database_url) as session:
        rewrite(session, "decisions", COUNTY, keyed=True, alter={"payout": 99_999_900})

    assert _verify(stored) == []  # the key's holder can recompute the chain: only an earlier export tells
    problems = _verify(stored, heads)
    assert len(problems) == 1
    assert "decisions of county 130434" in problems[0] and "rewritten after the export" in problems[0]


def test_a_tail_cut_with_its_head_rows_is_caught_by_the_heads_exported_before(stored: Api, tmp_path: Path) -> None:
    heads = tmp_path / "heads.json"
    with session_scope(stored.database_url) as session:
        export_heads(session, heads)
        end = session.scalar(sa.text("SELECT MAX(seq) FROM claim_events WHERE county = :c"), {"c": COUNTY})
    _sql(stored, "DELETE FROM claim_events WHERE county = :c AND seq > :s", c=COUNTY, s=end - 2)
    _sql(stored, "DELETE FROM chain_heads WHERE chain = 'claim_events' AND county = :c AND seq > :s", c=COUNTY,
         s=end - 2)
    _sql(stored, "DELETE FROM payments WHERE county = :c", c=COUNTY)  # the paid step's payments, likewise cut
    _sql(stored, "DELETE FROM chain_heads WHERE chain = 'payments' AND county = :c", c=COUNTY)

    problems = _verify(stored, heads)

    assert any(f"claim_events of county 130434, record seq {end}" in p and "cut after the export" in p
               for p in problems), problems
    assert any(p.startswith("payments of county 130434") and "cut" in p for p in problems), problems


def test_an_altered_heads_file_is_refused(stored: Api, tmp_path: Path) -> None:
    heads = tmp_path / "heads.json"
    with session_scope(stored.database_url) as session:
        export_heads(session, heads)
    heads.write_text(heads.read_text(encoding="utf-8").replace('"seq": 1,', '"seq": 0,', 1), encoding="utf-8")

    with pytest.raises(Exception, match="signature does not hold"):
        _verify(stored, heads)


@pytest.mark.parametrize("change, expected", [
    ("UPDATE claims SET amount_paid = amount_paid + 100000 WHERE state = 'paid'", "amount_paid"),
    ("UPDATE claims SET fee = 0 WHERE state = 'paid'", "fee"),
    ("UPDATE claims SET state = 'filed', version = version - 1 WHERE state = 'paid'", "state"),
    ("UPDATE claims SET amount_decided = amount_decided * 10 WHERE state = 'paid'", "amount_decided"),
])
def test_a_claim_edited_in_sql_disagrees_with_its_chained_steps(stored: Api, change: str, expected: str) -> None:
    _sql(stored, change)

    problems = _verify(stored)

    assert len(problems) == 1
    assert problems[0].startswith("claims of county 130434") and f"{expected} " in problems[0]


@pytest.mark.parametrize("change, chain", [
    ("UPDATE fund_inputs SET amount = amount * 10", "fund_inputs"),
    ("UPDATE users SET role = 'office' WHERE name = 'village'", "users"),
    ("UPDATE runs SET payout = payout + 1", "runs"),
])
def test_a_fund_input_a_user_s_role_or_a_run_edited_in_sql_breaks_its_chain(
    stored: Api, change: str, chain: str
) -> None:
    _sql(stored, change)

    problems = _verify(stored)

    assert len(problems) == 1
    assert problems[0].startswith(f"{chain} of county 130434") and "altered" in problems[0]


def _documents_of(text: str) -> sa.TextClause:
    """How many stored household documents hold ``text`` (a head's ID number or name)."""
    return sa.text("SELECT COUNT(*) FROM decisions WHERE CAST(document AS TEXT) LIKE :like").bindparams(
        like=f"%{text}%")


def test_purging_old_runs_removes_personal_data_and_files_and_everything_still_verifies(
    stored: Api, tmp_path: Path
) -> None:
    runs = tmp_path / "runs"
    with session_scope(stored.database_url) as session:
        (run_id,) = session.scalars(sa.text("SELECT id FROM runs")).all()
        assert session.scalar(_documents_of("13043419800101001X")) == 2
    assert "黄林" in (runs / run_id / "households.csv").read_text(encoding="utf-8")

    with session_scope(stored.database_url) as session:  # the ledger is stored in parts (migration 0011)
        assert session.scalar(sa.text("SELECT COUNT(*) FROM run_event_parts WHERE LENGTH(data) > 0")) >= 1
        result = purge_runs(session, runs, dt.date(2100, 1, 1))

    assert (result.runs, result.folders, result.ledgers, result.documents) == ([run_id], 1, 1, 2)
    assert not (runs / run_id).exists()
    with session_scope(stored.database_url) as session:
        assert session.scalar(_documents_of("13043419800101001X")) == 0
        assert session.scalar(_documents_of("赵大山")) == 0
        assert session.scalar(sa.text("SELECT COUNT(*) FROM decisions WHERE document_sha256 IS NOT NULL")) == 2
        assert session.scalar(sa.text("SELECT COUNT(*) FROM run_events WHERE LENGTH(data) > 0")) == 0
        assert session.scalar(sa.text("SELECT COUNT(*) FROM run_event_parts WHERE LENGTH(data) > 0")) == 0
        assert session.scalar(sa.text("SELECT COUNT(*) FROM run_results WHERE LENGTH(households) > 0")) == 0
    assert result.stored_results == 1
    assert _verify(stored) == []
    _sql(stored, "UPDATE decisions SET payout = payout + 1 WHERE document_sha256 IS NOT NULL")
    assert len(_verify(stored)) == 1  # what is left of a purged record is still chained


def test_purge_keeps_the_documents_of_claims_under_way(stored: Api, tmp_path: Path) -> None:
    stored.claim_at("surveyed", "130434-0002")  # its decision's document is needed until the claim is closed
    with session_scope(stored.database_url) as session:
        result = purge_runs(session, tmp_path / "runs", dt.date.today() + dt.timedelta(days=1))

    assert (result.folders, result.ledgers, result.documents) == (1, 1, 2)
    with session_scope(stored.database_url) as session:
        assert session.scalar(_documents_of("13043419800101001X")) == 1
    assert _verify(stored) == []


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_the_database_the_key_and_the_result_folders_are_owner_only(stored: Api, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    (run,) = list(runs.iterdir())

    assert _mode(runs) == 0o700 and _mode(run) == 0o700
    assert {_mode(path) for path in run.iterdir()} == {0o600}
    with session_scope(stored.database_url) as session:
        key = chain_key(session).path
    assert key is not None and _mode(key) == 0o600
    if stored.database_url.startswith("sqlite"):
        database = Path(stored.database_url.removeprefix("sqlite:///"))
        assert key == database.with_name("fangpin.db.key")  # the default: beside the database
        assert _mode(database) == 0o600


def _cli(api: Api, tmp_path: Path, *args: str) -> tuple[int, str]:
    from typer.testing import CliRunner

    from fangpin.cli import app

    env = {"FANGPIN_DATABASE_URL": api.database_url, "FANGPIN_RUNS_DIR": str(tmp_path / "runs"), "COLUMNS": "200"}
    result = CliRunner().invoke(app, list(args), env=env)
    return result.exit_code, result.output


def test_the_commands_export_verify_against_heads_and_purge(stored: Api, tmp_path: Path) -> None:
    heads = tmp_path / "heads.json"

    exported = _cli(stored, tmp_path, "audit", "export-heads", str(heads))
    verified = _cli(stored, tmp_path, "audit", "verify", "--heads", str(heads))
    purged = _cli(stored, tmp_path, "runs", "purge", "--before", (dt.date.today() + dt.timedelta(days=1)).isoformat())
    after = _cli(stored, tmp_path, "audit", "verify", "--heads", str(heads))
    no_date = _cli(stored, tmp_path, "runs", "purge")

    assert exported[0] == 0 and "chain heads exported" in exported[1]
    assert verified[0] == 0 and "every head exported" in verified[1]
    assert purged[0] == 0
    assert "1 runs (1 result folders, 1 stored result tables, 1 event ledgers), 2 household documents" in purged[1]
    assert after[0] == 0, after[1]
    assert no_date[0] == 2 and "--before DATE, or set FANGPIN_RETENTION_DAYS" in no_date[1]


def test_a_key_file_others_may_read_is_refused_and_a_missing_one_is_named(stored: Api, tmp_path: Path) -> None:
    from fangpin.db.session import dispose_all

    with session_scope(stored.database_url) as session:
        key = chain_key(session).path
    assert key is not None
    dispose_all()  # a new process: the key is read again
    os.chmod(key, 0o644)
    readable = _cli(stored, tmp_path, "audit", "verify")
    dispose_all()
    key.rename(key.with_name("elsewhere.key"))
    missing = _cli(stored, tmp_path, "audit", "verify")
    dispose_all()
    with pytest.raises(Exception, match="the chain key file is missing"), session_scope(stored.database_url) as session:
        record_input(session, COUNTY, 2019, "1.00", "office")  # a new process appending: no new key made

    assert not key.exists()
    assert readable[0] == 2 and f"chmod 600 {key}" in readable[1].replace("\n", "")
    assert missing[0] == 2 and "the chain key file is missing" in missing[1]
