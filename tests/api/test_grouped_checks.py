"""Single checks on PostgreSQL are stored by group commit (``db.grouped``): checks of one county arriving
together are linked and committed in one transaction. Each still gets its own record, at its own place in
the county's chain, committed with its request-log line before its answer is sent; the chain verifies; and
a record that cannot be stored fails alone, not its batch."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from fangpin.db import grouped as grouped_module
from fangpin.db.claims_models import RequestLog
from fangpin.db.grouped import GroupCommit
from fangpin.db.locks import lock_key
from fangpin.db.models import DecisionRecord
from fangpin.db.session import get_engine, session_scope
from fangpin.services.audit import verify_chains
from fangpin.services.checks import GroupedChecks, PreparedCheck
from fangpin.services.request_log import Entry
from tests.api.conftest import Api
from tests.support import COUNTY, START, document

CLIENTS = 32
postgresql_only = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


@postgresql_only
def test_concurrent_checks_get_distinct_chained_committed_records(database_url: str, api: Api) -> None:
    grouped = api.client.app.state.grouped_checks  # type: ignore[attr-defined]
    assert isinstance(grouped, GroupedChecks)
    answers: list[tuple[int, int]] = []  # (status, id)
    seen_committed: list[bool] = []
    lock = threading.Lock()
    start = threading.Barrier(CLIENTS)
    engine = sa.create_engine(api.database_url, pool_size=4, max_overflow=0)  # not the app's pool

    def client(number: int) -> None:
        start.wait()
        for round_ in range(3):
            response = api.post("/v1/checks", document(f"{COUNTY}-{number:03d}{round_}"), who="surveyor")
            found = None
            if response.status_code == 201:  # answered only once committed: another connection sees it
                with engine.connect() as connection:
                    found = connection.execute(sa.select(DecisionRecord.household_id)
                                               .where(DecisionRecord.id == response.json()["id"])).scalar()
            with lock:
                answers.append((response.status_code, response.json().get("id")))
                seen_committed.append(found == f"{COUNTY}-{number:03d}{round_}")

    threads = [threading.Thread(target=client, args=(number,)) for number in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)

    assert [status for status, _ in answers] == [201] * (CLIENTS * 3)
    assert all(seen_committed)
    ids = [new_id for _, new_id in answers]
    assert len(set(ids)) == CLIENTS * 3
    with session_scope(api.database_url) as session:
        seqs = session.scalars(sa.select(DecisionRecord.seq).where(DecisionRecord.county == COUNTY)
                               .order_by(DecisionRecord.seq)).all()
        logged = session.scalar(sa.select(sa.func.count()).select_from(RequestLog)
                                .where(RequestLog.path == "/v1/checks", RequestLog.status == 201))
        assert verify_chains(session, ("decisions",)) == []
    assert seqs == list(range(1, CLIENTS * 3 + 1))
    assert logged == CLIENTS * 3  # every decision with its request-log line
    assert grouped.group.appended == CLIENTS * 3
    engine.dispose()


@pytest.fixture
def group(database_url: str) -> Iterator[GroupedChecks]:
    grouped = GroupedChecks(get_engine(database_url))
    yield grouped
    grouped.close()  # the lanes' connections back to the pool before the database goes


def _prepared(database_url: str, household_id: str) -> PreparedCheck:
    from fangpin.claims import Actor
    from fangpin.documents import household_from

    with Session(get_engine(database_url)) as session:
        return GroupedChecks.prepare(session, Actor("surveyor", "surveyor", COUNTY), household_from(
            document(household_id)), at=START)


def _entry(number: int) -> Entry:
    return Entry(who="surveyor", role="surveyor", at=START, method="POST", path=f"/v1/checks#{number}", status=201)


@contextmanager
def chain_held(database_url: str) -> Iterator[None]:
    """The county's chain of decisions locked by another transaction until the block ends (as a screening
    run storing into the county holds it)."""
    with get_engine(database_url).connect() as connection:
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock_key("decisions", COUNTY)})
        yield
        connection.rollback()


def _waiting_for_lock(database_url: str) -> bool:
    """Whether a transaction waits for the county's chain of decisions (its advisory lock's two halves)."""
    key = lock_key("decisions", COUNTY) & 0xFFFF_FFFF_FFFF_FFFF
    with get_engine(database_url).connect() as connection:
        return bool(connection.execute(sa.text(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND classid::bigint = :high "
            "AND objid::bigint = :low AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"),
            {"high": key >> 32, "low": key & 0xFFFF_FFFF}).scalar())


def _until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, "waited 30 s"
        time.sleep(0.01)


@postgresql_only
@pytest.mark.parametrize("max_batch", [256, 16])
def test_appends_waiting_for_the_chain_are_committed_together(database_url: str, group: GroupedChecks,
                                                              max_batch: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first append's lane waits for the chain's lock (a screening run holds it); the forty appended
    meanwhile join its batch once the lock is had, up to ``MAX_BATCH`` records a transaction (the rest follow
    in the next batches), instead of waiting for that transaction to commit before their own begins."""
    monkeypatch.setattr(grouped_module, "MAX_BATCH", max_batch)
    prepared = [_prepared(database_url, f"{COUNTY}-{number:04d}") for number in range(41)]
    with chain_held(database_url):
        first = group.submit(prepared[0], _entry(0))
        _until(lambda: _waiting_for_lock(database_url))  # the first batch waits for the lock
        rest = [group.submit(check, _entry(number)) for number, check in enumerate(prepared[1:], 1)]
        time.sleep(0.05)
        assert not first.done() and not any(future.done() for future in rest)  # nothing answered before commit
    ids = [future.result(30) for future in [first, *rest]]

    # all in one transaction, or 16 (the first and 15 that queued), 16 and 9
    assert (group.group.batches, group.group.appended) == (1 if max_batch > 41 else 3, 41)
    assert len(set(ids)) == 41
    with session_scope(database_url) as session:
        stored = session.execute(sa.select(DecisionRecord.id, DecisionRecord.household_id, DecisionRecord.seq)
                                 .order_by(DecisionRecord.seq)).all()
        paths = session.scalars(sa.select(RequestLog.path).order_by(RequestLog.id)).all()
        assert verify_chains(session, ("decisions",)) == []
    assert [(row.id, row.household_id, row.seq) for row in stored] == [
        (new_id, f"{COUNTY}-{number:04d}", number + 1) for number, new_id in enumerate(ids)]
    assert paths == [f"/v1/checks#{number}" for number in range(41)]


@postgresql_only
def test_a_record_that_cannot_be_stored_fails_alone(database_url: str, group: GroupedChecks) -> None:
    prepared = [_prepared(database_url, f"{COUNTY}-{number:04d}") for number in range(6)]
    prepared[3].row["township"] = "镇" * 101  # longer than the column: PostgreSQL refuses the row
    with chain_held(database_url):
        futures = [group.submit(prepared[0], _entry(0))]
        _until(lambda: _waiting_for_lock(database_url))
        futures += [group.submit(check, _entry(number)) for number, check in enumerate(prepared[1:], 1)]
    outcomes: list[Future[int]] = futures

    with pytest.raises(sa.exc.DBAPIError):
        outcomes[3].result(30)
    ids = [future.result(30) for number, future in enumerate(outcomes) if number != 3]
    with session_scope(database_url) as session:
        stored = session.scalars(sa.select(DecisionRecord.id).order_by(DecisionRecord.seq)).all()
        paths = session.scalars(sa.select(RequestLog.path).order_by(RequestLog.id)).all()
        assert verify_chains(session, ("decisions",)) == []
    assert stored == ids  # the others stored, in order, linked without a gap
    assert paths == [f"/v1/checks#{number}" for number in (0, 1, 2, 4, 5)]  # its log line went with it


def test_group_commit_is_for_postgresql_only(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="PostgreSQL"):
        GroupCommit(sa.create_engine(f"sqlite:///{tmp_path / 'f.db'}"), DecisionRecord)


@postgresql_only
def test_a_busy_lane_keeps_its_connection_and_gives_it_back_when_idle_or_closed(
        database_url: str, group: GroupedChecks, monkeypatch: pytest.MonkeyPatch) -> None:
    """Batches that follow each other are stored on one connection (no new checkout, so no pre-ping,
    between them); an idle lane gives it back to the pool, and ``close`` stores what is queued and stops
    every lane at once."""
    import fangpin.db.grouped as grouped_module

    engine = group.group.engine
    checkouts: list[object] = []
    sa.event.listen(engine, "checkout", lambda *args: checkouts.append(args))
    monkeypatch.setattr(grouped_module, "HOLD_SECONDS", 5.0)  # a slow machine's gap between batches is held too
    prepared = [_prepared(database_url, f"{COUNTY}-{number:04d}") for number in range(6)]
    group.submit(prepared[0], _entry(0)).result(30)  # the lane starts, takes a connection (the key is read)
    checkouts.clear()
    for number, check in enumerate(prepared[1:3], 1):  # one after another: each its own batch
        group.submit(check, _entry(number)).result(30)
    assert group.group.batches == 3 and checkouts == []  # on the connection the first batch took
    assert engine.pool.checkedout() == 1  # held for the next batch

    rest = [group.submit(check, _entry(number)) for number, check in enumerate(prepared[3:], 3)]
    started = time.monotonic()
    group.close()
    assert all(future.done() for future in rest) and len({future.result() for future in rest}) == 3
    assert time.monotonic() - started < 4.0  # not the hold's 5 s: closing wakes the lane
    assert engine.pool.checkedout() == 0
    assert not any(thread.is_alive() for thread in threading.enumerate()
                   if thread.name.startswith("fangpin-group-commit-"))
    with session_scope(database_url) as session:
        assert verify_chains(session, ("decisions",)) == []
