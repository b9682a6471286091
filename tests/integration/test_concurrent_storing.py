"""Writers of one county at the same time: a screening run stored while single checks are stored for the same
county, and `audit verify` while checks are stored. Each writer waits for the chain's lock instead of
colliding on the chain's sequence, and the verifier reads one snapshot, so nothing fails and no break is
reported that is not there (and a real one still is)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

import fangpin_synth as synth
from fangpin.claims import Actor
from fangpin.db import chained
from fangpin.db.models import DecisionRecord
from fangpin.db.session import get_engine, session_scope
from fangpin.documents import household_from
from fangpin.services import checks
from fangpin.services.audit import verify_chains
from fangpin.services.screening import ScreenRequest, screen
from tests.api.conftest import COUNTY, document

CHECKERS = 3


class Checkers:
    """Threads storing single checks for the county, as POST /v1/checks does, until told to stop."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.busy = 0  # checks begun and not yet finished (waiting for the chain's lock, or storing)
        self.stored: list[int] = []  # ids of the decisions stored
        self.errors: list[BaseException] = []
        self._counter = threading.Lock()
        self._stop = threading.Event()

    def _post(self, worker: int) -> None:
        actor = Actor(f"surveyor-{worker}", "surveyor", COUNTY)
        n = 0
        while not self._stop.is_set():
            n += 1
            household = household_from(document(f"{COUNTY}-{worker}{n:05d}"))
            with self._counter:
                self.busy += 1
            try:
                with session_scope(self.database_url) as session:
                    stored = checks.check(session, actor, household)
            except BaseException as exc:
                self.errors.append(exc)
                return
            finally:
                with self._counter:
                    self.busy -= 1
            with self._counter:
                self.stored.append(stored.id)

    def wait_for(self, condition: Callable[[], bool]) -> None:
        """Until ``condition`` holds, or the checkers failed (then the test reports their error)."""
        while not condition() and not self.errors:
            self._stop.wait(0.005)

    @contextmanager
    def running(self) -> Iterator[Checkers]:
        threads = [threading.Thread(target=self._post, args=(worker,), daemon=True) for worker in range(CHECKERS)]
        for thread in threads:
            thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            for thread in threads:
                thread.join(timeout=120)
        assert not any(thread.is_alive() for thread in threads), "a checker never finished"
        assert self.errors == [], f"a check failed: {self.errors[0]!r}"


def _count(database_url: str, table: str, where: str = "") -> int:
    with get_engine(database_url).connect() as connection:
        return int(connection.execute(sa.text(f"SELECT count(*) FROM {table} {where}")).scalar_one())


def _drop(tmp_path: Path, households: int = 2000) -> Path:
    drop = tmp_path / "drop"
    synth.generate_drop(drop, households, seed=11, formats="utf8")
    return drop


def _screen(drop: Path, database_url: str, tmp_path: Path) -> dict[str, Any]:
    return screen(ScreenRequest(drop=drop, year=2019, county=COUNTY, database_url=database_url,
                                runs_dir=tmp_path / "runs")).run


def test_a_screening_run_and_checks_storing_into_the_same_county_both_succeed(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    drop = _drop(tmp_path)
    get_engine(database_url)
    real_insert = chained.bulk_insert_parts
    checkers = Checkers(database_url)

    def insert_while_checks_come_in(*args: Any, **kwargs: Any) -> int:
        # The run has read the end of the county's chain. Checks come in now: were they not to wait for the
        # run, they would extend the chain under it. Go on once one was stored meanwhile (then the run's
        # rows collide with it), or once every checker is in the middle of a check (waiting for the run).
        stored = len(checkers.stored)
        checkers.wait_for(lambda: len(checkers.stored) > stored or checkers.busy == CHECKERS)
        threading.Event().wait(0.2)  # time for more of them to reach the lock (no assert rests on this)
        return real_insert(*args, **kwargs)

    with checkers.running():
        checkers.wait_for(lambda: len(checkers.stored) >= 5)
        monkeypatch.setattr(chained, "bulk_insert_parts", insert_while_checks_come_in)
        run = _screen(drop, database_url, tmp_path)
        monkeypatch.setattr(chained, "bulk_insert_parts", real_insert)
        after = len(checkers.stored)
        checkers.wait_for(lambda: len(checkers.stored) >= after + 5)

    households = run["totals"]["households"]
    assert households > 1500
    assert _count(database_url, "decisions", f"WHERE run_id = '{run['run_id']}'") == households
    assert _count(database_url, "decisions", "WHERE run_id IS NULL") == len(checkers.stored)
    assert _count(database_url, "payments") > 0
    with session_scope(database_url) as session:
        assert verify_chains(session) == []
        seqs = session.execute(sa.select(sa.func.min(DecisionRecord.seq), sa.func.max(DecisionRecord.seq))).one()
    assert tuple(seqs) == (1, households + len(checkers.stored))


def test_audit_verify_while_checks_are_stored_reports_no_break_and_still_finds_a_real_one(
    database_url: str, tmp_path: Path
) -> None:
    _screen(_drop(tmp_path, 1000), database_url, tmp_path)  # a chain long enough to take a while to walk
    verified = 0
    with checkers_running(database_url) as checkers:
        while verified < 12:
            before = len(checkers.stored)
            with session_scope(database_url) as session:
                problems = verify_chains(session)
            assert [str(problem) for problem in problems] == []
            verified += 1
            checkers.wait_for(lambda before=before: len(checkers.stored) > before)  # stored meanwhile
    assert len(checkers.stored) >= 12

    victim = checkers.stored[len(checkers.stored) // 2]
    with get_engine(database_url).begin() as connection:
        connection.execute(sa.text("UPDATE decisions SET payout = payout + 100 WHERE id = :id"), {"id": victim})
    with session_scope(database_url) as session:
        problems = verify_chains(session)
    assert [(problem.chain, problem.county, problem.record_id) for problem in problems] == \
        [("decisions", COUNTY, victim)]
    assert "altered" in problems[0].problem


@contextmanager
def checkers_running(database_url: str) -> Iterator[Checkers]:
    checkers = Checkers(database_url)
    with checkers.running():
        yield checkers
